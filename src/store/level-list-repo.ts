/**
 * @module store/level-list-repo: stock levels listed in (SKU byte order, warehouse id) pages.
 * Built to stay fast at a million levels: the SKU prefix and the cursor are one range of an index
 * (the primary key on SQLite, stock_level_sku_bytes_idx in POSIX collation on PostgreSQL, migration 0005), and the
 * other filters look at a bounded window of that range, never at the whole table.
 */
import { sql } from 'kysely'
import type { StockLevel } from '../domain/stock-level.js'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import { toLevel } from './stock-repo.js'

export interface LevelListQuery {
  readonly skuPrefix?: string | undefined
  readonly warehouseId?: number | undefined
  /** available ≤ the level's low-stock threshold. */
  readonly isLowStock?: boolean | undefined
  /** available ≤ 0. */
  readonly isOutOfStock?: boolean | undefined
  /** Start after this key. */
  readonly after?: { readonly sku: string; readonly warehouseId: number } | undefined
  /** Rows to return at most. */
  readonly take: number
  /** Levels of the range to look at, at most, for this page. */
  readonly window: number
}

export interface LevelListResult {
  readonly levels: ReadonlyArray<StockLevel>
  /** The last key of the window when the window was full (more of the range may match), else null. */
  readonly windowEnd: { readonly sku: string; readonly warehouseId: number } | null
}

// The highest code point: every SKU that starts with a prefix sorts below prefix + this in byte
// order (the SKU rules refuse U+10FFFF itself, a private-use character).
const TOP = '\u{10FFFF}'

export async function listLevels(ex: Executor, caps: DialectCaps, q: LevelListQuery): Promise<LevelListResult> {
  // Byte order: BINARY on SQLite, "POSIX" on PostgreSQL (see migration 0005 for why not "C").
  const bytes = sql.raw(caps.name === 'sqlite' ? caps.byteOrderCollation : '"POSIX"')
  const skuBytes = sql`sku collate ${bytes}`
  const range = ex
    .selectFrom('stock_level')
    .selectAll()
    .$if(q.skuPrefix !== undefined && q.skuPrefix !== '', (qb) => qb.where(sql<boolean>`${skuBytes} >= ${q.skuPrefix} and ${skuBytes} < ${q.skuPrefix + TOP}`))
    // `>=` first, so both databases start an index range there; the OR only trims that one SKU.
    .$if(q.after !== undefined, (qb) => qb.where(sql<boolean>`${skuBytes} >= ${q.after!.sku} and (${skuBytes} > ${q.after!.sku} or warehouse_id > ${q.after!.warehouseId})`))
    .orderBy(skuBytes)
    .orderBy('warehouse_id')
  const isFiltered = q.warehouseId !== undefined || q.isLowStock === true || q.isOutOfStock === true
  if (!isFiltered) {
    // Every level of the range matches: one index range scan of `take` rows, no window.
    return { levels: (await range.limit(q.take).execute()).map(toLevel), windowEnd: null }
  }
  const window = range.limit(q.window)
  const rows = await ex
    .selectFrom(window.as('w'))
    .selectAll()
    .$if(q.warehouseId !== undefined, (qb) => qb.where('w.warehouse_id', '=', q.warehouseId!))
    .$if(q.isLowStock === true, (qb) => qb.where(sql<boolean>`w.on_hand - w.reserved - w.safety_stock <= w.low_stock_threshold`))
    .$if(q.isOutOfStock === true, (qb) => qb.where(sql<boolean>`w.on_hand - w.reserved - w.safety_stock <= 0`))
    .orderBy(sql`w.sku collate ${bytes}`)
    .orderBy('w.warehouse_id')
    .limit(q.take)
    .execute()
  let windowEnd: LevelListResult['windowEnd'] = null
  if (rows.length < q.take && (await countWindow(ex, window)) >= q.window) {
    // Fewer matches than asked from a full window: more of the range may match after its last key.
    const last = await ex
      .selectFrom(window.as('w'))
      .select(['w.sku', 'w.warehouse_id'])
      .orderBy(sql`w.sku collate ${bytes}`, 'desc')
      .orderBy('w.warehouse_id', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow()
    windowEnd = { sku: last.sku, warehouseId: Number(last.warehouse_id) }
  }
  return { levels: rows.map(toLevel), windowEnd }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function countWindow(ex: Executor, range: any): Promise<number> {
  const r = await ex
    .selectFrom(range.as('c'))
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(r.n)
}
