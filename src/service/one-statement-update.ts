/**
 * @module service/one-statement-update: `POST /stock/update` for a sale or restock without an
 * idempotency claim, where the store can write a whole movement in one statement (PostgreSQL,
 * store/movement-statement.ts): one round trip instead of seven.
 *
 * It keeps every rule of the transactional path (level-writer writeDelta): the no-oversell rule,
 * compare-and-set and the level bounds sit in the statement's WHERE clause; the product lock comes
 * first; the event carries the SKU's next version and totals. Anything it cannot settle itself (an
 * unknown SKU or warehouse, a level not created yet) it hands back to the transactional path,
 * having written nothing.
 */
import { MAX_QUANTITY } from '../domain/quantity.js'
import { applyMovement } from '../domain/movement.js'
import type { LedgerEntry } from '../domain/ledger.js'
import type { StockLevel } from '../domain/stock-level.js'
import { isRetryableTransactionError } from '../store/errors.js'
import { canMoveInOneStatement, moveInOneStatement, moveUnderProductLock, type OneStatementMovement, type OneStatementOutcome } from '../store/movement-statement.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { assertGuard } from './level-writer.js'

export interface OneStatementInput {
  readonly sku: string
  readonly warehouseId: number
  readonly changeType: 'sale' | 'restock'
  readonly quantity: number
  readonly source: string
  readonly referenceId: string | null
  readonly notes: string | null
  readonly expectedOnHand?: number | undefined
  readonly expectedVersion?: number | undefined
}

/**
 * SKUs whose product lock another writer held in the last BUSY_MEMORY_MS, per store. A hot SKU's
 * writers go straight to the locking form instead of first trying (and skipping) the lock: one
 * round trip less each while the SKU stays hot.
 */
const BUSY_MEMORY_MS = 250
const MAX_BUSY_SKUS = 1000
const busySkus = new WeakMap<object, Map<string, number>>()

function isRecentlyBusy(deps: ServiceDeps, sku: string, now: number): boolean {
  const at = busySkus.get(deps.store)?.get(sku)
  return at !== undefined && now - at >= 0 && now - at < BUSY_MEMORY_MS
}

function markBusy(deps: ServiceDeps, sku: string, now: number): void {
  let m = busySkus.get(deps.store)
  if (!m) busySkus.set(deps.store, (m = new Map()))
  if (m.size >= MAX_BUSY_SKUS) m.clear()
  m.set(sku, now)
}

/** Can this update take the one-statement path at all? (The caller also requires no idempotency claim.) */
export function isOneStatementUpdate(deps: ServiceDeps, changeType: string): changeType is 'sale' | 'restock' {
  return (changeType === 'sale' || changeType === 'restock') && canMoveInOneStatement(deps.store)
}

/**
 * Apply the movement in one statement. Returns the ledger entry and the level after it, throws
 * the refusal (insufficient_stock, version_conflict, level_out_of_range, sku_not_found), or returns
 * null when the transactional path must decide (nothing was written).
 */
export async function updateInOneStatement(deps: ServiceDeps, input: OneStatementInput, ctx: RequestContext): Promise<{ entry: LedgerEntry; level: StockLevel } | null> {
  const now = deps.clock.now()
  const targetIds = await deps.events.targetsFor(deps.store.db, { type: 'stock.changed', sku: input.sku, warehouseId: input.warehouseId }, now)
  const m: OneStatementMovement = {
    sku: input.sku,
    warehouseId: input.warehouseId,
    onHandDelta: input.changeType === 'sale' ? -input.quantity : input.quantity,
    requireAvailable: input.changeType === 'sale' ? input.quantity : null,
    expectedOnHand: input.expectedOnHand,
    expectedVersion: input.expectedVersion,
    maxQuantity: MAX_QUANTITY,
    changeType: input.changeType,
    quantity: input.quantity,
    source: input.source,
    referenceId: input.referenceId,
    actor: ctx.actor,
    notes: input.notes,
    eventId: deps.ids.next('evt'),
    targetIds,
    now,
  }
  let out: OneStatementOutcome
  try {
    const t = Date.now() // machine time: this is about contention right now, not the movement's clock
    if (isRecentlyBusy(deps, input.sku, t)) {
      out = { kind: 'busy' }
    } else {
      out = await moveInOneStatement(deps.store, m)
      if (out.kind === 'busy') markBusy(deps, input.sku, t)
    }
    // Another writer holds the SKU (or moved it since the statement's snapshot): wait for the
    // product lock in a transaction, then run the same statement under it.
    if (out.kind === 'busy') out = await moveUnderProductLock(deps.store, m)
  } catch (e) {
    // A deadlock or serialization failure rolled it back: the transactional path retries it.
    if (isRetryableTransactionError(e)) return null
    throw e
  }
  if (out.kind === 'refused') explainRefusal(input, out.level, out.allowsBackorders)
  if (out.kind !== 'applied') return null
  if (targetIds.length > 0) deps.events.expect('deliveries')
  deps.events.notify()
  const { level } = out
  const entry: LedgerEntry = {
    id: out.movementId,
    sku: input.sku,
    productId: out.productId,
    warehouseId: input.warehouseId,
    changeType: input.changeType,
    status: 'applied',
    quantity: input.quantity,
    onHandBefore: level.onHand - m.onHandDelta,
    onHandAfter: level.onHand,
    reservedBefore: level.reserved,
    reservedAfter: level.reserved,
    levelVersion: level.version,
    source: input.source,
    referenceId: input.referenceId,
    reservationId: null,
    actor: ctx.actor,
    notes: input.notes,
    observedAt: null,
    createdAt: now,
  }
  return { entry, level }
}

/**
 * Say why the statement matched no level, from the level as it stood locked: the caller's guard,
 * then the stock rule and bounds (domain applyMovement throws the refusal). Returns when neither
 * explains it; the transactional path then decides.
 */
function explainRefusal(input: OneStatementInput, level: StockLevel, allowsBackorders: boolean): void {
  assertGuard(level, { expectedOnHand: input.expectedOnHand, expectedVersion: input.expectedVersion })
  applyMovement(level, { kind: input.changeType, quantity: input.quantity }, { allowsBackorders })
}
