/**
 * @module connectors/csv/exports: stock levels and the ledger as CSV, produced page by page
 * (keyset reads of store/export-repo.ts, 500 rows each) as an async sequence of UTF-8 chunks. A
 * consumer that reads slowly (a slow HTTP client, a file) simply makes the next page wait, so
 * memory stays flat however large the export.
 *
 * What "flat" took, measured on 1,000,000 ledger rows (bench/csv-ab.ts; the server idles at about
 * 200 MB): pages of 2,000 rows formatted with csv-stringify peaked at 340–350 MB (SQLite) and
 * 290–310 MB (PostgreSQL), with 16–21 s of server CPU. Three things kept garbage in the old
 * generation, where only a full collection frees it: each page's text (~210 KB) was big enough
 * for V8 to allocate it there directly; a page's rows were still referenced while it waited for
 * the client, so they outlived the scavenges; and csv-stringify allocates a few objects per cell
 * (a cast context, tuples, an options copy), about 5 KB a row. Now a page of 500 rows is encoded
 * to bytes before anything waits (the bytes live outside the JS heap, the text dies young), and
 * each line is written by `csvLine` (codec.ts: the same quoting, checked against csv-parse).
 *
 * The levels file uses the counts-import columns (`sku`, `warehouse_code`, `quantity` = on hand),
 * so an export imports back as counts unchanged.
 */
import { invalid } from '../../domain/errors.js'
import type { ServiceDeps } from '../../service/deps.js'
import { countLedgerRows, countLevelRows, pageLedger, pageLevels, type LedgerExportFilter } from '../../store/export-repo.js'
import { findWarehouseByCode, listWarehouses } from '../../store/warehouse-repo.js'
import { csvCell, csvLine } from './codec.js'

/** Rows per keyset page: its text (~55 KB) stays below V8's large-object size. */
const PAGE = 500
const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString())
const utf8 = new TextEncoder()

export const LEVEL_HEADER = ['sku', 'warehouse_code', 'quantity', 'reserved', 'available', 'safety_stock', 'low_stock_threshold', 'updated_at'] as const
export const LEDGER_HEADER = ['id', 'created_at', 'sku', 'product_id', 'warehouse_id', 'warehouse_code', 'change_type', 'status', 'quantity', 'on_hand_before', 'on_hand_after', 'reserved_before', 'reserved_after', 'source', 'reference_id', 'actor', 'notes', 'observed_at'] as const

export interface ExportProgress {
  (done: number, total: number): void
}

/** A warehouse code or id as given on the command line or in a query. */
export async function resolveWarehouse(deps: ServiceDeps, ref: string | undefined): Promise<number | null> {
  if (ref === undefined || ref === '') return null
  const byCode = await findWarehouseByCode(deps.store.db, ref)
  if (byCode) return byCode.id
  const byId = (await listWarehouses(deps.store.db)).find((w) => String(w.id) === ref)
  if (!byId) throw invalid('warehouse', `no warehouse has code or id ${ref.slice(0, 50)}`)
  return byId.id
}

export async function countLevels(deps: ServiceDeps, warehouseId: number | null): Promise<number> {
  return countLevelRows(deps.store.db, warehouseId)
}

export async function* exportLevels(deps: ServiceDeps, warehouseId: number | null, onProgress?: ExportProgress, total = 0): AsyncGenerator<Uint8Array> {
  yield utf8.encode(csvLine(LEVEL_HEADER))
  let after: { sku: string; warehouseId: number } | null = null
  let done = 0
  for (let more = true; more; ) {
    const rows = await pageLevels(deps.store.db, after, warehouseId, PAGE)
    if (rows.length === 0) break
    let text = ''
    for (const r of rows) text += `${csvCell(r.sku)},${csvCell(r.warehouseCode)},${r.onHand},${r.reserved},${r.onHand - r.reserved - r.safetyStock},${r.safetyStock},${r.lowStockThreshold},${iso(r.updatedAt)}\r\n`
    const last = rows[rows.length - 1]!
    after = { sku: last.sku, warehouseId: last.warehouseId }
    more = rows.length === PAGE
    done += rows.length
    onProgress?.(done, Math.max(total, done))
    // Bytes, not text, wait for the reader: see the module comment.
    yield utf8.encode(text)
  }
}

/** `from`/`to` as ISO 8601 times (or dates); `to` is exclusive. */
export function ledgerFilter(q: { from?: string | undefined; to?: string | undefined; sku?: string | undefined }): LedgerExportFilter {
  const time = (v: string | undefined, name: string) => {
    if (v === undefined || v === '') return null
    const t = Date.parse(v)
    if (!/^\d{4}-\d{2}-\d{2}/.test(v) || !Number.isFinite(t)) throw invalid(name, 'must be an ISO 8601 date or time, such as 2026-11-01 or 2026-11-01T00:00:00Z')
    return t
  }
  const from = time(q.from, 'from')
  const to = time(q.to, 'to')
  if (from !== null && to !== null && to < from) throw invalid('to', 'must not be before from')
  if (q.sku !== undefined && (q.sku.length === 0 || q.sku.length > 100)) throw invalid('sku', 'must be 1–100 characters')
  return { from, to, sku: q.sku ?? null }
}

export async function countLedger(deps: ServiceDeps, f: LedgerExportFilter): Promise<number> {
  return countLedgerRows(deps.store.db, f)
}

export async function* exportLedger(deps: ServiceDeps, f: LedgerExportFilter, onProgress?: ExportProgress, total = 0): AsyncGenerator<Uint8Array> {
  const codes = new Map((await listWarehouses(deps.store.db)).map((w) => [w.id, csvCell(w.code)]))
  yield utf8.encode(csvLine(LEDGER_HEADER))
  let after = 0
  let done = 0
  for (let more = true; more; ) {
    const rows = await pageLedger(deps.store.db, after, f, PAGE)
    if (rows.length === 0) break
    let text = ''
    for (const r of rows) {
      text += `${r.id},${iso(r.createdAt)},${csvCell(r.sku)},${r.productId},${r.warehouseId},${codes.get(r.warehouseId) ?? ''},${csvCell(r.changeType)},${csvCell(r.status)},${r.quantity},${r.onHandBefore},${r.onHandAfter},${r.reservedBefore},${r.reservedAfter},${csvCell(r.source)},${csvCell(r.referenceId)},${csvCell(r.actor)},${csvCell(r.notes)},${iso(r.observedAt)}\r\n`
    }
    after = rows[rows.length - 1]!.id
    more = rows.length === PAGE
    done += rows.length
    onProgress?.(done, Math.max(total, done))
    yield utf8.encode(text)
  }
}
