/**
 * @module store/export-repo: the rows of CSV exports, read in keyset pages (never OFFSET, never
 * the whole table at once), so an export of millions of rows reads in constant memory and each
 * page costs the same however deep into the table it is.
 */
import type { Executor } from './db.js'
import { pastCursor } from './keyset.js'

export interface LevelExportRow {
  readonly sku: string
  readonly warehouseId: number
  readonly warehouseCode: string
  readonly onHand: number
  readonly reserved: number
  readonly safetyStock: number
  readonly lowStockThreshold: number
  readonly updatedAt: number
}

/** Levels after (sku, warehouseId), in that order; optionally one warehouse. */
export async function pageLevels(ex: Executor, after: { sku: string; warehouseId: number } | null, warehouseId: number | null, limit: number): Promise<LevelExportRow[]> {
  const rows = await ex
    .selectFrom('stock_level as l')
    .innerJoin('warehouse as w', 'w.id', 'l.warehouse_id')
    .select(['l.sku', 'l.warehouse_id', 'w.code', 'l.on_hand', 'l.reserved', 'l.safety_stock', 'l.low_stock_threshold', 'l.updated_at'])
    .$if(warehouseId !== null, (qb) => qb.where('l.warehouse_id', '=', warehouseId!))
    .$if(after !== null, (qb) => qb.where((eb) => pastCursor(eb, '>', 'l.sku', after!.sku, 'l.warehouse_id', after!.warehouseId)))
    .orderBy('l.sku')
    .orderBy('l.warehouse_id')
    .limit(limit)
    .execute()
  return rows.map((r) => ({ sku: r.sku, warehouseId: Number(r.warehouse_id), warehouseCode: r.code, onHand: Number(r.on_hand), reserved: Number(r.reserved), safetyStock: Number(r.safety_stock), lowStockThreshold: Number(r.low_stock_threshold), updatedAt: Number(r.updated_at) }))
}

export interface LedgerExportFilter {
  readonly from: number | null
  readonly to: number | null
  readonly sku: string | null
}

export interface LedgerExportRow {
  readonly id: number
  readonly createdAt: number
  readonly sku: string
  readonly productId: number
  readonly warehouseId: number
  readonly changeType: string
  readonly status: string
  readonly quantity: number
  readonly onHandBefore: number
  readonly onHandAfter: number
  readonly reservedBefore: number
  readonly reservedAfter: number
  readonly source: string
  readonly referenceId: string | null
  readonly actor: string
  readonly notes: string | null
  readonly observedAt: number | null
}

/** Ledger entries with an id above `afterId`, oldest first. */
export async function pageLedger(ex: Executor, afterId: number, f: LedgerExportFilter, limit: number): Promise<LedgerExportRow[]> {
  const rows = await ex
    .selectFrom('ledger_entry')
    .select(['id', 'created_at', 'sku', 'product_id', 'warehouse_id', 'change_type', 'status', 'quantity', 'on_hand_before', 'on_hand_after', 'reserved_before', 'reserved_after', 'source', 'reference_id', 'actor', 'notes', 'observed_at'])
    .where('id', '>', afterId)
    .$if(f.sku !== null, (qb) => qb.where('sku', '=', f.sku!))
    .$if(f.from !== null, (qb) => qb.where('created_at', '>=', f.from!))
    .$if(f.to !== null, (qb) => qb.where('created_at', '<', f.to!))
    .orderBy('id')
    .limit(limit)
    .execute()
  return rows.map((r) => ({
    id: Number(r.id),
    createdAt: Number(r.created_at),
    sku: r.sku,
    productId: Number(r.product_id),
    warehouseId: Number(r.warehouse_id),
    changeType: r.change_type,
    status: r.status,
    quantity: Number(r.quantity),
    onHandBefore: Number(r.on_hand_before),
    onHandAfter: Number(r.on_hand_after),
    reservedBefore: Number(r.reserved_before),
    reservedAfter: Number(r.reserved_after),
    source: r.source,
    referenceId: r.reference_id,
    actor: r.actor,
    notes: r.notes,
    observedAt: r.observed_at === null ? null : Number(r.observed_at),
  }))
}

export async function countLedgerRows(ex: Executor, f: LedgerExportFilter): Promise<number> {
  const r = await ex
    .selectFrom('ledger_entry')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .$if(f.sku !== null, (qb) => qb.where('sku', '=', f.sku!))
    .$if(f.from !== null, (qb) => qb.where('created_at', '>=', f.from!))
    .$if(f.to !== null, (qb) => qb.where('created_at', '<', f.to!))
    .executeTakeFirstOrThrow()
  return Number(r.n)
}

export async function countLevelRows(ex: Executor, warehouseId: number | null): Promise<number> {
  const r = await ex
    .selectFrom('stock_level')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .$if(warehouseId !== null, (qb) => qb.where('warehouse_id', '=', warehouseId!))
    .executeTakeFirstOrThrow()
  return Number(r.n)
}
