/**
 * @module domain/movement: the stock rules. Each movement kind and what it does to a level.
 *
 * The store applies these rules as single conditional UPDATE statements (so concurrent writers
 * cannot lose updates); this module is their specification, used to explain refusals, to replay
 * the ledger and, in property tests, as the model the database must agree with.
 */
import { DomainError, insufficientStock, invalid } from './errors.js'
import { MAX_QUANTITY } from './quantity.js'
import { availableOf, type StockFigures } from './stock-level.js'

/** Change types a caller may post to /stock/update (the seed's four; `deduction`/`addition` are seed aliases). */
export const UPDATE_CHANGE_TYPES = Object.freeze(['sale', 'restock', 'adjustment', 'sync'] as const)
export type UpdateChangeType = (typeof UPDATE_CHANGE_TYPES)[number]

const CHANGE_TYPE_ALIASES: Readonly<Record<string, UpdateChangeType>> = Object.freeze({
  deduction: 'sale',
  addition: 'restock',
})

/** Every change type the ledger records. */
export const LEDGER_CHANGE_TYPES = Object.freeze([
  'sale',
  'restock',
  'adjustment',
  'sync',
  'reserve',
  'release',
  'commit',
  'transfer',
] as const)
export type LedgerChangeType = (typeof LEDGER_CHANGE_TYPES)[number]

export function parseUpdateChangeType(value: unknown, pointer = '/change_type'): UpdateChangeType {
  if (typeof value !== 'string') throw invalid(pointer, 'must be a string')
  const canonical = CHANGE_TYPE_ALIASES[value] ?? value
  if ((UPDATE_CHANGE_TYPES as ReadonlyArray<string>).includes(canonical)) return canonical as UpdateChangeType
  throw new DomainError('unknown_change_type', `Unknown change_type "${value.slice(0, 40)}"; expected one of ${UPDATE_CHANGE_TYPES.join(', ')}`, {
    errors: [{ pointer, message: `must be one of ${UPDATE_CHANGE_TYPES.join(', ')}` }],
  })
}

export function isLedgerChangeType(value: string): value is LedgerChangeType {
  return (LEDGER_CHANGE_TYPES as ReadonlyArray<string>).includes(value)
}

/** A movement as the rules see it: the kind and its size (a delta, or an absolute count). */
export type Movement =
  | { readonly kind: 'sale' | 'restock' | 'reserve' | 'release' | 'commit' | 'transfer_out' | 'transfer_in'; readonly quantity: number }
  | { readonly kind: 'adjustment'; readonly count: number }
  | { readonly kind: 'sync'; readonly count: number; readonly observedAt: number }

export interface LevelState extends StockFigures {
  readonly sku: string
  readonly warehouseId: number
  readonly safetyStock: number
  readonly lastCountedAt: number | null
}

export interface MovementPolicy {
  /** The SKU may be sold beyond available; on hand then goes negative (a backorder). */
  readonly allowsBackorders: boolean
}

export type MovementOutcome =
  | { readonly status: 'applied'; readonly after: StockFigures; readonly lastCountedAt: number | null }
  | { readonly status: 'stale'; readonly after: StockFigures; readonly lastCountedAt: number | null }
  /** A count equal to on hand: recorded as a count (lastCountedAt moves), no figure changes. */
  | { readonly status: 'unchanged'; readonly after: StockFigures; readonly lastCountedAt: number | null }

/**
 * Apply one movement to a level, or throw the domain error that refuses it.
 * Never clamps: a sale beyond available is refused, not turned into zero.
 */
export function applyMovement(level: LevelState, movement: Movement, policy: MovementPolicy): MovementOutcome {
  const { onHand, reserved } = level
  const available = availableOf(level)
  const applied = (after: StockFigures, lastCountedAt = level.lastCountedAt): MovementOutcome => {
    if (Math.abs(after.onHand) > MAX_QUANTITY || after.reserved > MAX_QUANTITY) {
      throw new DomainError('level_out_of_range', `The movement would take ${level.sku} in warehouse ${level.warehouseId} beyond ±${MAX_QUANTITY} units`, {
        sku: level.sku,
        warehouse_id: level.warehouseId,
        on_hand: onHand,
        reserved,
      })
    }
    return { status: 'applied', after, lastCountedAt }
  }
  switch (movement.kind) {
    case 'sale':
      if (!policy.allowsBackorders && movement.quantity > available) {
        throw insufficientStock(level.sku, level.warehouseId, movement.quantity, available)
      }
      return applied({ onHand: onHand - movement.quantity, reserved })
    case 'transfer_out':
      // Backorders never apply to transfers: units that do not exist cannot be shipped elsewhere.
      if (movement.quantity > available) throw insufficientStock(level.sku, level.warehouseId, movement.quantity, available)
      return applied({ onHand: onHand - movement.quantity, reserved })
    case 'restock':
    case 'transfer_in':
      return applied({ onHand: onHand + movement.quantity, reserved })
    case 'reserve':
      if (!policy.allowsBackorders && movement.quantity > available) {
        throw insufficientStock(level.sku, level.warehouseId, movement.quantity, available)
      }
      return applied({ onHand, reserved: reserved + movement.quantity })
    case 'release':
      return applied({ onHand, reserved: reserved - Math.min(reserved, movement.quantity) })
    case 'commit':
      return applied({ onHand: onHand - movement.quantity, reserved: reserved - Math.min(reserved, movement.quantity) })
    case 'adjustment':
      return applied({ onHand: movement.count, reserved })
    case 'sync':
      if (level.lastCountedAt !== null && movement.observedAt < level.lastCountedAt) {
        return { status: 'stale', after: { onHand, reserved }, lastCountedAt: level.lastCountedAt }
      }
      if (movement.count === onHand) return { status: 'unchanged', after: { onHand, reserved }, lastCountedAt: movement.observedAt }
      return applied({ onHand: movement.count, reserved }, movement.observedAt)
  }
}
