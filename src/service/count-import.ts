/**
 * @module service/count-import: absolute counts from a file or a pulled API, applied as `sync`
 * movements through the one bulk-sync path (service/bulk-sync.ts), with an outcome per row that
 * names where the row came from (a CSV line, a pulled item), and a dry run that reads the levels
 * and says what each row would do (before → after) without writing anything.
 */
import { ValidationError, type ErrorCode } from '../domain/errors.js'
import { parseCount } from '../domain/quantity.js'
import { parseSku } from '../domain/sku.js'
import { findProducts } from '../store/product-repo.js'
import { findLevelsByPairs } from '../store/stock-repo.js'
import { listWarehouses } from '../store/warehouse-repo.js'
import { bulkSync } from './bulk-sync.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { assertWarehousesAllowed } from './warehouse-access.js'

/** One count as read: fields still unchecked, so each row is judged on its own. */
export interface CountRow {
  /** The CSV line (1 is the header) or the item's position in a pull; reported with every outcome. */
  readonly line: number
  readonly sku: unknown
  /** A warehouse code or id as written; null when the caller fixes the warehouse. */
  readonly warehouse: string | number | null
  readonly quantity: unknown
  /** Epoch ms; null: the import's own observation time. */
  readonly observedAt: number | null
  readonly referenceId: string | null
}

/** Rows per bulk-sync call: one transaction each, as a bulk-sync job's chunk (service/jobs.ts). */
const JOB_ROWS_PER_CALL = 5000

export type CountOutcome =
  | { readonly line: number; readonly sku: string; readonly warehouseId: number; readonly status: 'applied' | 'unchanged' | 'stale'; readonly before: number; readonly after: number }
  | { readonly line: number; readonly sku: string | null; readonly warehouseId: number | null; readonly status: 'rejected'; readonly code: ErrorCode; readonly detail: string }

export interface CountImportResult {
  readonly dryRun: boolean
  readonly rows: number
  readonly applied: number
  readonly unchanged: number
  readonly stale: number
  readonly rejected: number
  /** Every row's outcome, in input order (dry run: what would happen). */
  readonly outcomes: ReadonlyArray<CountOutcome>
}

export interface CountImportOptions {
  readonly source: string
  readonly dryRun: boolean
  /** The warehouse every row is for (code or id), overriding the rows' own. */
  readonly warehouse?: string | number | null | undefined
  /** The observation time of rows without their own. */
  readonly observedAt: number
  readonly onProgress?: ((done: number, total: number) => void | Promise<void>) | undefined
}

interface Checked {
  readonly index: number
  readonly line: number
  readonly sku: string
  readonly warehouseId: number
  readonly count: number
  readonly observedAt: number
  readonly referenceId: string | null
}

function summarise(dryRun: boolean, outcomes: ReadonlyArray<CountOutcome>): CountImportResult {
  let applied = 0
  let unchanged = 0
  let stale = 0
  let rejected = 0
  for (const o of outcomes) {
    if (o.status === 'applied') applied++
    else if (o.status === 'unchanged') unchanged++
    else if (o.status === 'stale') stale++
    else rejected++
  }
  return { dryRun, rows: outcomes.length, applied, unchanged, stale, rejected, outcomes }
}

/** Check every row's fields and resolve its warehouse; refused rows get their outcome at once. */
async function checkRows(deps: ServiceDeps, rows: ReadonlyArray<CountRow>, o: CountImportOptions, outcomes: CountOutcome[]): Promise<Checked[]> {
  const warehouses = await listWarehouses(deps.store.db)
  const byRef = new Map<string, number>()
  for (const w of warehouses) {
    byRef.set(`code:${w.code}`, w.id)
    byRef.set(`id:${w.id}`, w.id)
  }
  const resolve = (ref: string | number): number | undefined => byRef.get(`code:${ref}`) ?? byRef.get(`id:${ref}`)
  const fixed = o.warehouse === undefined || o.warehouse === null ? null : resolve(o.warehouse)
  if (o.warehouse !== undefined && o.warehouse !== null && fixed === undefined) {
    throw new ValidationError([{ pointer: 'warehouse', message: `no warehouse has code or id ${String(o.warehouse).slice(0, 50)}` }])
  }
  const out: Checked[] = []
  rows.forEach((r, index) => {
    const sku = typeof r.sku === 'string' ? r.sku.slice(0, 100) : null
    const refuse = (code: ErrorCode, detail: string, warehouseId: number | null = null) => void (outcomes[index] = { line: r.line, sku, warehouseId, status: 'rejected', code, detail })
    let warehouseId: number
    if (fixed !== null && fixed !== undefined) warehouseId = fixed
    else if (r.warehouse === null || r.warehouse === '') return refuse('validation_failed', 'warehouse_code: is missing')
    else {
      const w = resolve(r.warehouse)
      if (w === undefined) return refuse('warehouse_not_found', `No warehouse has code ${String(r.warehouse).slice(0, 50)}`)
      warehouseId = w
    }
    try {
      const s = parseSku(r.sku, 'sku')
      const count = parseCount(r.quantity, 'quantity')
      out.push({ index, line: r.line, sku: s, warehouseId, count, observedAt: r.observedAt ?? o.observedAt, referenceId: r.referenceId })
    } catch (e) {
      if (e instanceof ValidationError) return refuse('validation_failed', e.message, warehouseId)
      throw e
    }
  })
  return out
}

/** What the rows would do, read from the current levels; writes nothing. */
async function preview(deps: ServiceDeps, checked: ReadonlyArray<Checked>, outcomes: CountOutcome[]): Promise<void> {
  for (let i = 0; i < checked.length; i += JOB_ROWS_PER_CALL) {
    const part = checked.slice(i, i + JOB_ROWS_PER_CALL)
    const products = new Set((await findProducts(deps.store.db, [...new Set(part.map((c) => c.sku))])).map((p) => p.sku))
    const levels = new Map((await findLevelsByPairs(deps.store.db, part.map((c) => ({ sku: c.sku, warehouseId: c.warehouseId })))).map((l) => [`${l.warehouseId}\u0000${l.sku}`, { onHand: l.onHand, lastCountedAt: l.lastCountedAt }]))
    for (const c of part) {
      if (!products.has(c.sku)) {
        outcomes[c.index] = { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: 'rejected', code: 'sku_not_found', detail: `No product is registered with SKU ${c.sku}` }
        continue
      }
      const k = `${c.warehouseId}\u0000${c.sku}`
      const level = levels.get(k) ?? { onHand: 0, lastCountedAt: null }
      if (level.lastCountedAt !== null && c.observedAt < level.lastCountedAt) {
        outcomes[c.index] = { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: 'stale', before: level.onHand, after: level.onHand }
        continue
      }
      outcomes[c.index] = { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: level.onHand === c.count ? 'unchanged' : 'applied', before: level.onHand, after: c.count }
      // Later rows for the same level see this one's figure, as they would when applied.
      levels.set(k, { onHand: c.count, lastCountedAt: Math.max(level.lastCountedAt ?? c.observedAt, c.observedAt) })
    }
  }
}

/**
 * Apply (or preview) counts. Rows go to bulk sync in calls of up to 5,000, split further where
 * rows carry different observation times or references (one bulk call has one of each), so each
 * call is one transaction and valid rows apply even where others are refused.
 */
export async function importCounts(deps: ServiceDeps, rows: ReadonlyArray<CountRow>, o: CountImportOptions, ctx: RequestContext): Promise<CountImportResult> {
  const outcomes: CountOutcome[] = new Array(rows.length)
  const checked = await checkRows(deps, rows, o, outcomes)
  // A restricted credential (#5) is refused before anything applies, not half-way through the file.
  assertWarehousesAllowed(ctx, ...new Set(checked.map((c) => c.warehouseId)))
  // Each call stands alone: a caller's Idempotency-Key would make every call after the first a replay.
  const callCtx: RequestContext = { actor: ctx.actor, allowedWarehouses: ctx.allowedWarehouses ?? null }
  if (o.dryRun) {
    await preview(deps, checked, outcomes)
    await o.onProgress?.(rows.length, rows.length)
    return summarise(true, outcomes)
  }
  let done = 0
  for (let i = 0; i < checked.length; ) {
    // One call: consecutive rows sharing observation time and reference, at most 5,000.
    const first = checked[i]!
    let end = i + 1
    while (end < checked.length && end - i < JOB_ROWS_PER_CALL && checked[end]!.observedAt === first.observedAt && checked[end]!.referenceId === first.referenceId) end++
    const part = checked.slice(i, end)
    const r = await bulkSync(deps, { source: o.source, referenceId: first.referenceId, observedAt: first.observedAt, items: part.map((c) => ({ sku: c.sku, warehouse_id: c.warehouseId, quantity: c.count })) }, callCtx)
    for (const item of r.value.items) {
      const c = part[item.index]!
      outcomes[c.index] =
        item.status === 'rejected'
          ? { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: 'rejected', code: item.code, detail: item.detail }
          : { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: item.status === 'stale' ? 'stale' : item.previous === item.current ? 'unchanged' : 'applied', before: item.previous, after: item.current }
    }
    done = end
    i = end
    await o.onProgress?.(done, checked.length)
  }
  return summarise(false, outcomes)
}
