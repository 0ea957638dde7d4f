/** @module store/stock-repo: stock levels. Every change is one conditional UPDATE, never read-modify-write. */
import { sql } from 'kysely'
import type { StockLevel } from '../domain/stock-level.js'
import type { Executor } from './db.js'

const LEVEL_COLUMNS = [
  'sku',
  'warehouse_id',
  'on_hand',
  'reserved',
  'safety_stock',
  'low_stock_threshold',
  'version',
  'last_counted_at',
  'updated_at',
] as const

interface LevelRow {
  sku: string
  warehouse_id: number
  on_hand: number
  reserved: number
  safety_stock: number
  low_stock_threshold: number
  version: number
  last_counted_at: number | string | null
  updated_at: number | string
}

function toLevel(r: LevelRow): StockLevel {
  return {
    sku: r.sku,
    warehouseId: Number(r.warehouse_id),
    onHand: Number(r.on_hand),
    reserved: Number(r.reserved),
    safetyStock: Number(r.safety_stock),
    lowStockThreshold: Number(r.low_stock_threshold),
    version: Number(r.version),
    lastCountedAt: r.last_counted_at === null ? null : Number(r.last_counted_at),
    updatedAt: Number(r.updated_at),
  }
}

export async function findLevel(ex: Executor, sku: string, warehouseId: number, forUpdate = false): Promise<StockLevel | undefined> {
  const row = await ex
    .selectFrom('stock_level')
    .select(LEVEL_COLUMNS)
    .where('sku', '=', sku)
    .where('warehouse_id', '=', warehouseId)
    .$if(forUpdate, (qb) => qb.forUpdate())
    .executeTakeFirst()
  return row ? toLevel(row) : undefined
}

export async function findLevelsBySkus(ex: Executor, skus: ReadonlyArray<string>): Promise<StockLevel[]> {
  if (skus.length === 0) return []
  const rows = await ex.selectFrom('stock_level').select(LEVEL_COLUMNS).where('sku', 'in', skus).orderBy('sku').orderBy('warehouse_id').execute()
  return rows.map(toLevel)
}

export async function findLevelsByPairs(ex: Executor, pairs: ReadonlyArray<{ sku: string; warehouseId: number }>): Promise<StockLevel[]> {
  if (pairs.length === 0) return []
  const skus = [...new Set(pairs.map((p) => p.sku))]
  const warehouses = [...new Set(pairs.map((p) => p.warehouseId))]
  // Over-fetch by the cross product of the two sets and filter here: one simple indexed query
  // beats a long OR chain of (sku, warehouse) pairs on every dialect.
  const rows = await ex.selectFrom('stock_level').select(LEVEL_COLUMNS).where('sku', 'in', skus).where('warehouse_id', 'in', warehouses).execute()
  const wanted = new Set(pairs.map((p) => `${p.warehouseId}\u0000${p.sku}`))
  return rows.map(toLevel).filter((l) => wanted.has(`${l.warehouseId}\u0000${l.sku}`))
}

export interface LevelDefaults {
  readonly safetyStock: number
  readonly lowStockThreshold: number
}

/** Create the zero level a registered SKU has in a warehouse before its first movement. */
export async function ensureLevel(ex: Executor, sku: string, warehouseId: number, defaults: LevelDefaults, now: number): Promise<void> {
  await ex
    .insertInto('stock_level')
    .values({
      sku,
      warehouse_id: warehouseId,
      on_hand: 0,
      reserved: 0,
      safety_stock: defaults.safetyStock,
      low_stock_threshold: defaults.lowStockThreshold,
      version: 0,
      last_counted_at: null,
      updated_at: now,
    })
    .onConflict((oc) => oc.columns(['sku', 'warehouse_id']).doNothing())
    .execute()
}

export interface DeltaChange {
  readonly sku: string
  readonly warehouseId: number
  readonly onHandDelta: number
  readonly reservedDelta: number
  /** When set, the change applies only while available (on hand − reserved − safety) covers this many units. */
  readonly requireAvailable: number | null
  /** When set, the change applies only while reserved holds at least this many units. */
  readonly requireReserved: number | null
  readonly expectedOnHand?: number | undefined
  readonly expectedVersion?: number | undefined
  readonly now: number
}

/**
 * Apply a relative change in one statement whose WHERE clause carries every rule, so two writers
 * can never both pass a check that only one of them should. Returns the level after the change,
 * or undefined when the level is missing or a condition failed (the caller explains which).
 */
export async function applyDelta(ex: Executor, c: DeltaChange): Promise<StockLevel | undefined> {
  const row = await ex
    .updateTable('stock_level')
    .set((eb) => ({
      on_hand: eb('on_hand', '+', c.onHandDelta),
      reserved: eb('reserved', '+', c.reservedDelta),
      version: eb('version', '+', 1),
      updated_at: c.now,
    }))
    .where('sku', '=', c.sku)
    .where('warehouse_id', '=', c.warehouseId)
    .$if(c.requireAvailable !== null, (qb) =>
      qb.where(sql<boolean>`on_hand - reserved - safety_stock >= ${c.requireAvailable}`),
    )
    .$if(c.requireReserved !== null, (qb) => qb.where('reserved', '>=', c.requireReserved as number))
    .$if(c.expectedOnHand !== undefined, (qb) => qb.where('on_hand', '=', c.expectedOnHand as number))
    .$if(c.expectedVersion !== undefined, (qb) => qb.where('version', '=', c.expectedVersion as number))
    .returning(LEVEL_COLUMNS)
    .executeTakeFirst()
  return row ? toLevel(row) : undefined
}

export interface AbsoluteChange {
  readonly sku: string
  readonly warehouseId: number
  readonly onHand: number
  /** The version the caller read; the write applies only if nobody moved the level since. */
  readonly fromVersion: number
  readonly lastCountedAt: number | null
  readonly now: number
}

/** Set on hand to an absolute count, guarded by the version read just before (compare-and-set). */
export async function setOnHand(ex: Executor, c: AbsoluteChange): Promise<StockLevel | undefined> {
  const row = await ex
    .updateTable('stock_level')
    .set({ on_hand: c.onHand, version: c.fromVersion + 1, last_counted_at: c.lastCountedAt, updated_at: c.now })
    .where('sku', '=', c.sku)
    .where('warehouse_id', '=', c.warehouseId)
    .where('version', '=', c.fromVersion)
    .returning(LEVEL_COLUMNS)
    .executeTakeFirst()
  return row ? toLevel(row) : undefined
}

export interface LevelSettings {
  readonly safetyStock?: number | undefined
  readonly lowStockThreshold?: number | undefined
}

/** Change the configured thresholds of one level, or of every level of a SKU when warehouseId is null. */
export async function updateLevelSettings(ex: Executor, sku: string, warehouseId: number | null, s: LevelSettings, now: number): Promise<number> {
  const set: { safety_stock?: number; low_stock_threshold?: number; updated_at: number } = { updated_at: now }
  if (s.safetyStock !== undefined) set.safety_stock = s.safetyStock
  if (s.lowStockThreshold !== undefined) set.low_stock_threshold = s.lowStockThreshold
  const res = await ex
    .updateTable('stock_level')
    .set(set)
    .where('sku', '=', sku)
    .$if(warehouseId !== null, (qb) => qb.where('warehouse_id', '=', warehouseId as number))
    .executeTakeFirst()
  return Number(res.numUpdatedRows)
}
