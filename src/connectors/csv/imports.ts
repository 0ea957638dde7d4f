/**
 * @module connectors/csv/imports: CSV files of counts or products read into rows for the import
 * services (service/count-import.ts, service/product-import.ts). Problems of one row (a bad time,
 * too many cells) become that row's outcome, with its line; problems of the file (not CSV, an
 * unknown column, too large) refuse the whole file before anything is applied.
 */
import type { CountOutcome, CountRow } from '../../service/count-import.js'
import type { ProductOutcome, ProductRow } from '../../service/product-import.js'
import { CsvError, readCsv } from './codec.js'

export const COUNT_COLUMNS = ['sku', 'warehouse_code', 'warehouse_id', 'quantity', 'observed_at', 'reference_id'] as const
/** The levels export's other columns: read past, so an export imports back as it is. */
const LEVEL_EXPORT_EXTRAS = ['reserved', 'available', 'safety_stock', 'low_stock_threshold', 'updated_at'] as const
export const PRODUCT_COLUMNS = ['sku', 'product_id', 'parent_id', 'name', 'safety_stock', 'low_stock_threshold', 'backorders'] as const
/** Rows one file may hold. */
export const MAX_IMPORT_ROWS = 1_000_000

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i

function observedAtOf(v: string | undefined): number | null | 'invalid' {
  if (v === undefined || v === '') return null
  if (!ISO_WITH_ZONE.test(v)) return 'invalid'
  const t = Date.parse(v)
  return Number.isFinite(t) ? t : 'invalid'
}

export interface CountRows {
  readonly rows: CountRow[]
  readonly early: CountOutcome[]
}

/** Read a counts file: `sku`, `warehouse_code` (or `warehouse_id`, or neither with a fixed warehouse), `quantity`, optional `observed_at`, `reference_id`. */
export async function readCountRows(source: AsyncIterable<Uint8Array | string>, o: { readonly maxBytes: number; readonly fixedWarehouse: boolean }): Promise<CountRows> {
  const rows: CountRow[] = []
  const early: CountOutcome[] = []
  const records = readCsv(source, {
    maxBytes: o.maxBytes,
    required: ['sku', 'quantity'],
    known: [...COUNT_COLUMNS, ...LEVEL_EXPORT_EXTRAS],
    checkHeader: (h) => (o.fixedWarehouse || h.includes('warehouse_code') || h.includes('warehouse_id') ? null : 'The header needs a warehouse_code column (or give the warehouse for the whole file)'),
  })
  for await (const r of records) {
    if (rows.length + early.length >= MAX_IMPORT_ROWS) throw new CsvError(`The file has more than ${MAX_IMPORT_ROWS} rows; split it`, r.line)
    const f = r.fields
    const sku = f.sku ?? ''
    const reject = (detail: string) => void early.push({ line: r.line, sku: sku.slice(0, 100) || null, warehouseId: null, status: 'rejected', code: 'validation_failed', detail })
    if (r.extraCells) {
      reject('the row has more cells than the header')
      continue
    }
    const observedAt = observedAtOf(f.observed_at)
    if (observedAt === 'invalid') {
      reject('observed_at: must be an ISO 8601 time with a zone, such as 2026-11-25T10:00:00Z')
      continue
    }
    const ref = f.reference_id === undefined || f.reference_id === '' ? null : f.reference_id
    if (ref !== null && ref.length > 100) {
      reject('reference_id: must be at most 100 characters')
      continue
    }
    const q = f.quantity ?? ''
    rows.push({
      line: r.line,
      sku,
      warehouse: f.warehouse_code || f.warehouse_id || null,
      // A negative count is a backordered level (#14); the service decides whether the SKU allows it.
      quantity: /^-?\d{1,10}$/.test(q) ? Number(q) : q === '' ? undefined : q,
      observedAt,
      referenceId: ref,
    })
  }
  return { rows, early }
}

export interface ProductRows {
  readonly rows: ProductRow[]
  readonly early: ProductOutcome[]
}

/** Read a products file: `sku`, `product_id`, optional `parent_id`, `name`, `safety_stock`, `low_stock_threshold`, `backorders`. */
export async function readProductRows(source: AsyncIterable<Uint8Array | string>, o: { readonly maxBytes: number }): Promise<ProductRows> {
  const rows: ProductRow[] = []
  const early: ProductOutcome[] = []
  for await (const r of readCsv(source, { maxBytes: o.maxBytes, required: ['sku'], known: PRODUCT_COLUMNS })) {
    if (rows.length + early.length >= MAX_IMPORT_ROWS) throw new CsvError(`The file has more than ${MAX_IMPORT_ROWS} rows; split it`, r.line)
    const f = r.fields
    if (r.extraCells) {
      early.push({ line: r.line, sku: f.sku?.slice(0, 100) || null, status: 'rejected', code: 'validation_failed', detail: 'the row has more cells than the header' })
      continue
    }
    rows.push({ line: r.line, sku: f.sku ?? '', productId: f.product_id, parentId: f.parent_id, name: f.name, safetyStock: f.safety_stock, lowStockThreshold: f.low_stock_threshold, backorders: f.backorders })
  }
  return { rows, early }
}
