/** @module service/stock: reading stock, and the single-movement write (`POST /stock/update`). */
import { DomainError, invalid } from '../domain/errors.js'
import type { LedgerEntry } from '../domain/ledger.js'
import type { Movement, UpdateChangeType } from '../domain/movement.js'
import { availableOf, isLowStock, totalsOf, type StockLevel } from '../domain/stock-level.js'
import type { Product } from '../domain/product.js'
import { findProductsWithLevels } from '../store/stock-repo.js'
import type { Warehouse } from '../domain/warehouse.js'
import type { Executor } from '../store/db.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { hashRequest, runIdempotent, type IdempotencyClaim, type Replayable } from './idempotency.js'
import { lockProduct, writeMovement, type MovementGuard } from './level-writer.js'
import { isOneStatementUpdate, updateInOneStatement } from './one-statement-update.js'
import { assertWarehousesAllowed } from './warehouse-access.js'
import { cachedWarehouse, cachedWarehouses } from './warehouse-cache.js'
import { countedMovement } from './movement-metrics.js'

/** How far in the future an `observed_at` may lie before it is refused (clock skew allowance). */
const MAX_OBSERVED_AHEAD_MS = 5 * 60 * 1000

export interface StockUpdateInput {
  readonly sku: string
  readonly warehouseId: number
  readonly changeType: UpdateChangeType
  readonly quantity: number
  readonly source: string
  readonly referenceId: string | null
  readonly notes: string | null
  readonly observedAt?: number | undefined
  readonly expectedOnHand?: number | undefined
  readonly expectedVersion?: number | undefined
  /**
   * The warehouse's own system reports this movement (a provider webhook): a fact about units that
   * already left, applied even where the warehouse is inactive in the hub.
   */
  readonly isReportedByWarehouse?: boolean | undefined
}

export interface LevelView {
  readonly warehouseId: number
  readonly warehouseCode: string | null
  readonly isWarehouseActive: boolean
  readonly onHand: number
  readonly reserved: number
  readonly safetyStock: number
  readonly available: number
  readonly lowStockThreshold: number
  readonly isLowStock: boolean
  readonly version: number
  readonly lastCountedAt: number | null
  readonly updatedAt: number | null
}

export interface MovementResult {
  readonly entry: LedgerEntry
  readonly level: LevelView
}

export interface StockView {
  readonly product: Product
  readonly totals: { readonly onHand: number; readonly reserved: number; readonly available: number }
  readonly levels: ReadonlyArray<LevelView>
}

function toLevelView(level: StockLevel, wh: { code: string; isActive: boolean } | undefined): LevelView {
  return {
    warehouseId: level.warehouseId,
    warehouseCode: wh?.code ?? null,
    isWarehouseActive: wh?.isActive ?? false,
    onHand: level.onHand,
    reserved: level.reserved,
    safetyStock: level.safetyStock,
    available: availableOf(level),
    lowStockThreshold: level.lowStockThreshold,
    isLowStock: isLowStock(level),
    version: level.version,
    lastCountedAt: level.lastCountedAt,
    updatedAt: level.updatedAt,
  }
}

/** A level not yet created reads as zero, with the product's defaults. */
export function zeroLevel(product: Product, warehouseId: number): StockLevel {
  return {
    sku: product.sku,
    warehouseId,
    onHand: 0,
    reserved: 0,
    safetyStock: product.safetyStock,
    lowStockThreshold: product.lowStockThreshold,
    version: 0,
    lastCountedAt: null,
    updatedAt: product.updatedAt,
  }
}

function movementOf(input: StockUpdateInput, now: number): Movement {
  switch (input.changeType) {
    case 'sale':
    case 'restock':
      return { kind: input.changeType, quantity: input.quantity }
    case 'adjustment':
      return { kind: 'adjustment', count: input.quantity }
    case 'sync': {
      const observedAt = input.observedAt ?? now
      if (observedAt > now + MAX_OBSERVED_AHEAD_MS) throw invalid('/observed_at', 'lies more than five minutes in the future')
      return { kind: 'sync', count: input.quantity, observedAt }
    }
  }
}

/**
 * The idempotency claim for a write: the Idempotency-Key header when given, else the seed's
 * natural key (source + reference_id, narrowed by what it moves so one order's lines stay distinct).
 */
export function claimFor(ctx: RequestContext, operation: string, input: object, naturalKey: string | null): IdempotencyClaim | null {
  // Hash only when there is a key to hold it: hashing a 10,000-item bulk body costs ~17 ms.
  if (ctx.idempotencyKey !== undefined) return { scope: `key:${ctx.actor}`, key: ctx.idempotencyKey, requestHash: hashRequest(operation, input) }
  if (naturalKey !== null) return { scope: 'ref', key: `${operation}|${naturalKey}`, requestHash: hashRequest(operation, input) }
  return null
}

/**
 * An inactive warehouse still holds stock (it counts in totals, takes restocks, counts and
 * transfers, and its open holds can be committed or released), but sells nothing new: an explicit
 * sale or reservation there is refused, as automatic allocation already skips it (#12).
 */
export function warehouseInactive(w: { readonly id: number; readonly code: string }, what: 'sales' | 'reservations'): DomainError {
  return new DomainError('warehouse_inactive', `Warehouse ${w.code} (id ${w.id}) is inactive and takes no new ${what}`, { warehouse_id: w.id, warehouse_code: w.code })
}

/** Apply one movement: sale, restock, adjustment (absolute) or sync (absolute, observed count). */
export async function updateStock(deps: ServiceDeps, input: StockUpdateInput, ctx: RequestContext): Promise<Replayable<MovementResult>> {
  assertWarehousesAllowed(ctx, input.warehouseId) // security (#5): the credential's warehouse restriction
  const natural = input.referenceId === null ? null : [input.source, input.referenceId, input.sku, input.warehouseId, input.changeType].join('|')
  const claim = claimFor(ctx, 'stock.update', input, natural)
  return countedMovement(input.changeType, () => applyUpdate(deps, input, ctx, claim), (v) => ({ outcome: v.entry.status === 'stale' ? 'stale' : 'applied', n: 1 }))
}

async function applyUpdate(deps: ServiceDeps, input: StockUpdateInput, ctx: RequestContext, claim: IdempotencyClaim | null): Promise<Replayable<MovementResult>> {
  // PostgreSQL, a sale or restock with nothing to record for replays: the movement as one statement.
  if (claim === null && isOneStatementUpdate(deps, input.changeType)) {
    const warehouse = await cachedWarehouse(deps, deps.store.db, input.warehouseId)
    if (input.changeType === 'sale' && warehouse && !warehouse.isActive && !input.isReportedByWarehouse) throw warehouseInactive(warehouse, 'sales')
    const written = await updateInOneStatement(deps, { ...input, changeType: input.changeType }, ctx)
    if (written) return { value: { entry: written.entry, level: toLevelView(written.level, warehouse) }, replayed: false }
  }
  return runIdempotent(deps, claim, async (trx) => {
    const now = deps.clock.now()
    const product = await lockProduct(trx, deps.store.caps, input.sku)
    const guard: MovementGuard = { expectedOnHand: input.expectedOnHand, expectedVersion: input.expectedVersion }
    const meta = { changeType: input.changeType, source: input.source, referenceId: input.referenceId, reservationId: null, actor: ctx.actor, notes: input.notes }
    const warehouse = await cachedWarehouse(deps, trx, input.warehouseId)
    if (input.changeType === 'sale' && warehouse && !warehouse.isActive && !input.isReportedByWarehouse) throw warehouseInactive(warehouse, 'sales')
    const written = await writeMovement({ ex: trx, caps: deps.store.caps, now, deps }, product, input.warehouseId, movementOf(input, now), meta, guard)
    return { entry: written.entry, level: toLevelView(written.level, warehouse) }
  })
}

/** One SKU's stock: totals and every warehouse, or one warehouse's level when warehouseId is given. */
export async function getStock(deps: ServiceDeps, sku: string, warehouseId?: number): Promise<StockView> {
  const [view] = await getStocks(deps, [sku], warehouseId)
  if (!view) throw new DomainError('sku_not_found', `No product is registered with SKU ${sku}`, { sku })
  return view
}

/** Several SKUs in one query (warehouses come from the cache); unknown SKUs are simply absent from the result. */
export async function getStocks(deps: ServiceDeps, skus: ReadonlyArray<string>, warehouseId?: number): Promise<StockView[]> {
  const db = deps.store.db
  const found = await findProductsWithLevels(db, deps.store.caps, skus)
  const whIds = new Set<number>()
  for (const f of found.values()) for (const l of f.levels) whIds.add(l.warehouseId)
  if (warehouseId !== undefined) whIds.add(warehouseId)
  const whById = await cachedWarehouses(deps, db, whIds)
  if (warehouseId !== undefined && !whById.has(warehouseId)) {
    throw new DomainError('warehouse_not_found', `No warehouse has id ${warehouseId}`, { warehouse_id: warehouseId })
  }
  const out: StockView[] = []
  for (const sku of skus) {
    const f = found.get(sku)
    if (!f) continue
    let own = f.levels
    if (warehouseId !== undefined) own = [own.find((l) => l.warehouseId === warehouseId) ?? zeroLevel(f.product, warehouseId)]
    out.push({ product: f.product, totals: totalsOf(own), levels: own.map((l) => toLevelView(l, whById.get(l.warehouseId))) })
  }
  return out
}

export { toLevelView }
