/**
 * @module service/level-writer: the one path that changes a stock level and appends its ledger row.
 * Every use-case that moves stock (updates, transfers, reservations, bulk sync, expiry) comes here.
 */
import { DomainError } from '../domain/errors.js'
import type { LedgerEntry, LedgerStatus } from '../domain/ledger.js'
import { applyMovement, type LedgerChangeType, type Movement } from '../domain/movement.js'
import type { Product } from '../domain/product.js'
import type { StockLevel } from '../domain/stock-level.js'
import type { Executor } from '../store/db.js'
import type { DialectCaps } from '../store/dialect.js'
import { appendLedgerEntry, type NewLedgerEntry } from '../store/ledger-repo.js'
import { applyDelta, ensureLevel, findLevel, recordCountTime, setOnHand } from '../store/stock-repo.js'
import { findWarehouse } from '../store/warehouse-repo.js'
import { findProduct } from '../store/product-repo.js'
import type { ServiceDeps } from './deps.js'
import { recordStockChanged } from './stock-events.js'

/** Bound on compare-and-set retries when other writers keep moving the same level. */
const MAX_CAS_ATTEMPTS = 8

export interface MovementMeta {
  readonly changeType: LedgerChangeType
  readonly source: string
  readonly referenceId: string | null
  readonly reservationId: string | null
  readonly actor: string
  readonly notes: string | null
}

export interface MovementGuard {
  readonly expectedOnHand?: number | undefined
  readonly expectedVersion?: number | undefined
}

export interface WriteTarget {
  readonly ex: Executor
  readonly caps: DialectCaps
  readonly now: number
  readonly deps: ServiceDeps
}

/** A written movement: the ledger row and the level it left behind. */
export interface WrittenMovement {
  readonly entry: LedgerEntry
  readonly level: StockLevel
}

function entryFrom(product: Product, warehouseId: number, meta: MovementMeta, quantity: number, before: StockLevel, after: StockLevel, status: LedgerStatus, observedAt: number | null, now: number): NewLedgerEntry {
  return {
    sku: product.sku,
    productId: product.productId,
    warehouseId,
    changeType: meta.changeType,
    status,
    quantity,
    onHandBefore: before.onHand,
    onHandAfter: after.onHand,
    reservedBefore: before.reserved,
    reservedAfter: after.reserved,
    levelVersion: after.version,
    source: meta.source,
    referenceId: meta.referenceId,
    reservationId: meta.reservationId,
    actor: meta.actor,
    notes: meta.notes,
    observedAt,
    createdAt: now,
  }
}

/** Append the ledger row and, for an applied movement, its outbox event: one transaction, both or neither. */
async function append(t: WriteTarget, product: Product, e: NewLedgerEntry, level: StockLevel): Promise<WrittenMovement> {
  const id = await appendLedgerEntry(t.ex, e)
  const entry = { ...e, id }
  if (e.status === 'applied') await recordStockChanged(t.deps, t.ex, t.caps, product, entry, level, t.now)
  return { entry, level }
}

/**
 * The product row of a SKU about to move, locked where the database has row locks. Every writer
 * takes this lock first, so movements of one SKU serialise in one order (no deadlock between a
 * transfer and a sale) and each event's totals and version are consistent.
 */
export async function lockProduct(ex: Executor, caps: DialectCaps, sku: string): Promise<Product> {
  const p = await findProduct(ex, sku, caps.rowLocks)
  if (!p) throw new DomainError('sku_not_found', `No product is registered with SKU ${sku}`, { sku })
  return p
}

/** Load the level, creating the zero level a registered SKU starts with in a known warehouse. */
export async function loadOrCreateLevel(t: WriteTarget, product: Product, warehouseId: number): Promise<StockLevel> {
  const existing = await findLevel(t.ex, product.sku, warehouseId, t.caps.rowLocks)
  if (existing) return existing
  if (!(await findWarehouse(t.ex, warehouseId))) {
    throw new DomainError('warehouse_not_found', `No warehouse has id ${warehouseId}`, { warehouse_id: warehouseId })
  }
  await ensureLevel(t.ex, product.sku, warehouseId, product, t.now)
  const created = await findLevel(t.ex, product.sku, warehouseId, t.caps.rowLocks)
  if (!created) throw new Error(`Stock level ${product.sku}@${warehouseId} vanished after creation`)
  return created
}

/** Refuse with version_conflict when the caller's expected on hand or version no longer holds. */
export function assertGuard(level: StockLevel, guard: MovementGuard): void {
  const onHandMismatch = guard.expectedOnHand !== undefined && guard.expectedOnHand !== level.onHand
  const versionMismatch = guard.expectedVersion !== undefined && guard.expectedVersion !== level.version
  if (onHandMismatch || versionMismatch) {
    throw new DomainError('version_conflict', `The stock of ${level.sku} in warehouse ${level.warehouseId} changed since it was read`, {
      sku: level.sku,
      warehouse_id: level.warehouseId,
      on_hand: level.onHand,
      version: level.version,
      ...(guard.expectedOnHand !== undefined ? { expected_on_hand: guard.expectedOnHand } : {}),
      ...(guard.expectedVersion !== undefined ? { expected_version: guard.expectedVersion } : {}),
    })
  }
}

type DeltaMovement = Extract<Movement, { quantity: number }>

function deltasOf(m: DeltaMovement): { onHand: number; reserved: number; requiresAvailable: boolean; requiresReserved: boolean } {
  switch (m.kind) {
    case 'sale':
      return { onHand: -m.quantity, reserved: 0, requiresAvailable: true, requiresReserved: false }
    case 'transfer_out':
      return { onHand: -m.quantity, reserved: 0, requiresAvailable: true, requiresReserved: false }
    case 'restock':
    case 'transfer_in':
      return { onHand: m.quantity, reserved: 0, requiresAvailable: false, requiresReserved: false }
    case 'reserve':
      return { onHand: 0, reserved: m.quantity, requiresAvailable: true, requiresReserved: false }
    case 'release':
      return { onHand: 0, reserved: -m.quantity, requiresAvailable: false, requiresReserved: true }
    case 'commit':
      return { onHand: -m.quantity, reserved: -m.quantity, requiresAvailable: false, requiresReserved: true }
  }
}

/**
 * A relative movement as one conditional UPDATE. When it matches no row, read the level to say
 * why (missing level, guard mismatch, not enough stock); if the rules would now allow it (another
 * writer moved the level in between), try again.
 */
export async function writeDelta(t: WriteTarget, product: Product, warehouseId: number, movement: DeltaMovement, meta: MovementMeta, guard: MovementGuard = {}): Promise<WrittenMovement> {
  const d = deltasOf(movement)
  const policy = { allowsBackorders: product.allowsBackorders && movement.kind !== 'transfer_out' }
  for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
    const after = await applyDelta(t.ex, {
      sku: product.sku,
      warehouseId,
      onHandDelta: d.onHand,
      reservedDelta: d.reserved,
      requireAvailable: d.requiresAvailable && !policy.allowsBackorders ? movement.quantity : null,
      requireReserved: d.requiresReserved ? movement.quantity : null,
      expectedOnHand: guard.expectedOnHand,
      expectedVersion: guard.expectedVersion,
      now: t.now,
    })
    if (after) {
      const before: StockLevel = { ...after, onHand: after.onHand - d.onHand, reserved: after.reserved - d.reserved, version: after.version - 1 }
      return append(t, product, entryFrom(product, warehouseId, meta, movement.quantity, before, after, 'applied', null, t.now), after)
    }
    const level = await loadOrCreateLevel(t, product, warehouseId)
    assertGuard(level, guard)
    if (d.requiresReserved && level.reserved < movement.quantity) {
      throw new Error(`Level ${product.sku}@${warehouseId} holds ${level.reserved} reserved, less than the ${movement.quantity} being released`)
    }
    applyMovement(level, movement, policy) // throws insufficient_stock when that is the reason
  }
  throw new DomainError('version_conflict', `The stock of ${product.sku} in warehouse ${warehouseId} is changing too fast; retry`, { sku: product.sku, warehouse_id: warehouseId })
}

type AbsoluteMovement = Extract<Movement, { count: number }>

/**
 * An absolute count (adjustment or sync): read the level, then write under compare-and-set on its
 * version. A sync observed before the newest applied count is recorded as stale and changes nothing.
 */
export async function writeAbsolute(t: WriteTarget, product: Product, warehouseId: number, movement: AbsoluteMovement, meta: MovementMeta, guard: MovementGuard = {}): Promise<WrittenMovement> {
  const observedAt = movement.kind === 'sync' ? movement.observedAt : t.now
  for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
    const level = await loadOrCreateLevel(t, product, warehouseId)
    assertGuard(level, guard)
    const outcome = applyMovement(level, movement, { allowsBackorders: product.allowsBackorders })
    if (outcome.status === 'stale') {
      return append(t, product, entryFrom(product, warehouseId, meta, movement.count, level, level, 'stale', observedAt, t.now), level)
    }
    if (outcome.status === 'unchanged') {
      // A count confirming the figure: history, and the newest count for the stale rule, nothing more.
      const counted = await recordCountTime(t.ex, { sku: product.sku, warehouseId, fromVersion: level.version, lastCountedAt: Math.max(level.lastCountedAt ?? observedAt, observedAt) })
      if (counted) return append(t, product, entryFrom(product, warehouseId, meta, movement.count, level, counted, 'unchanged', observedAt, t.now), counted)
      continue
    }
    // Only a sync is a count for the stale rule: an adjustment is a person's correction and must
    // not make a warehouse system's count observed a moment earlier stale (#12).
    const lastCountedAt = movement.kind === 'sync' ? Math.max(level.lastCountedAt ?? observedAt, observedAt) : level.lastCountedAt
    const after = await setOnHand(t.ex, { sku: product.sku, warehouseId, onHand: outcome.after.onHand, fromVersion: level.version, lastCountedAt, now: t.now })
    if (after) return append(t, product, entryFrom(product, warehouseId, meta, movement.count, level, after, 'applied', observedAt, t.now), after)
  }
  throw new DomainError('version_conflict', `The stock of ${product.sku} in warehouse ${warehouseId} is changing too fast; retry`, { sku: product.sku, warehouse_id: warehouseId })
}

export function writeMovement(t: WriteTarget, product: Product, warehouseId: number, movement: Movement, meta: MovementMeta, guard: MovementGuard = {}): Promise<WrittenMovement> {
  return 'count' in movement ? writeAbsolute(t, product, warehouseId, movement, meta, guard) : writeDelta(t, product, warehouseId, movement, meta, guard)
}
