/** @module service/stock-events: the `stock.changed` event every applied movement writes with itself. */
import type { Figures, StockChangedData } from '../domain/events.js'
import type { LedgerEntry } from '../domain/ledger.js'
import type { Product } from '../domain/product.js'
import type { StockLevel } from '../domain/stock-level.js'
import { availableOf, sellableOf } from '../domain/stock-level.js'
import type { Executor } from '../store/db.js'
import type { DialectCaps } from '../store/dialect.js'
import { enqueueDeliveries } from '../store/delivery-repo.js'
import { insertOutboxEvent, nextVersionAndTotals } from '../store/outbox-repo.js'
import type { ServiceDeps } from './deps.js'

const figures = (onHand: number, reserved: number, safety: number): Figures => ({ on_hand: onHand, reserved, available: onHand - reserved - safety })

export interface SkuTotals {
  readonly onHand: number
  readonly reserved: number
  /** The sum of each warehouse's available, each at least zero (sellableOf). */
  readonly available: number
}

/** The body of a stock.changed event for one applied ledger entry (single and bulk writes alike). */
export function stockChangedData(product: Product, entry: LedgerEntry, level: StockLevel, version: number, totals: SkuTotals): StockChangedData {
  return {
    sku: product.sku,
    product_id: product.productId,
    parent_id: product.parentId,
    warehouse_id: entry.warehouseId,
    movement_id: entry.id,
    change_type: entry.changeType,
    version,
    level_version: level.version,
    before: figures(entry.onHandBefore, entry.reservedBefore, level.safetyStock),
    after: { on_hand: level.onHand, reserved: level.reserved, available: availableOf(level) },
    totals: { on_hand: totals.onHand, reserved: totals.reserved, available: totals.available },
  }
}

/**
 * Write the event in the movement's own transaction (transactional outbox): if the movement
 * commits, so does its event and its place in every interested target's delivery slot.
 */
export async function recordStockChanged(deps: ServiceDeps, ex: Executor, caps: DialectCaps, product: Product, entry: LedgerEntry, level: StockLevel, now: number): Promise<number> {
  const { version, totals } = await nextVersionAndTotals(ex, product.sku)
  const data = stockChangedData(product, entry, level, version, totals)
  const event = { id: deps.ids.next('evt'), type: 'stock.changed' as const, sku: product.sku, warehouseId: entry.warehouseId, skuVersion: version, data, createdAt: now }
  const seq = await insertOutboxEvent(ex, caps, event, deps.store.nodeId)
  const targets = await deps.events.targetsFor(ex, event, now)
  await enqueueDeliveries(ex, targets, product.sku, seq, now)
  if (targets.length > 0) deps.events.expect('deliveries')
  return seq
}
