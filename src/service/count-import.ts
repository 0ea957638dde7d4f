/**
 * @module service/count-import: absolute counts from a file or a pulled API, applied as `sync`
 * movements through the one bulk-sync path (service/bulk-sync.ts), with an outcome per row that
 * names where the row came from (a CSV line, a pulled item), and a dry run that reads the levels
 * and says what each row would do (before → after) without writing anything.
 */
import { ValidationError, type ErrorCode } from '../domain/errors.js'
import { negativeCountRefused, parseSignedCount } from '../domain/quantity.js'
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
export const JOB_ROWS_PER_CALL = 5000

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
  /** Rows per bulk-sync call (default 5,000); a job fixes it when queued, so its chunk keys keep their meaning. */
  readonly rowsPerCall?: number | undefined
  /**
   * The idempotency key of the n-th bulk-sync call (a job's: job id + n). A job taken over from a
   * node that died replays the stored outcome of every call that node committed and applies the
   * rest, so no row is applied twice (the ledger would get its movement twice, #14).
   */
  readonly callKey?: ((call: number) => string) | undefined
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
      const count = parseSignedCount(r.quantity, 'quantity')
      out.push({ index, line: r.line, sku: s, warehouseId, count, observedAt: r.observedAt ?? o.observedAt, referenceId: r.referenceId })
    } catch (e) {
      if (e instanceof ValidationError) return refuse('validation_failed', e.message, warehouseId)
      throw e
    }
  })
  return out
}

function negativeRefused(c: Checked, why: string): CountOutcome {
  return { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: 'rejected', code: 'validation_failed', detail: `quantity: ${why}` }
}

/**
 * Negative counts of SKUs that take no backorders, refused with their line before anything is
 * written (bulk sync refuses them too, but names its own item, not the file's line). Few rows are
 * negative, so only their SKUs are read.
 */
async function refuseNegatives(deps: ServiceDeps, checked: ReadonlyArray<Checked>, outcomes: CountOutcome[]): Promise<Checked[]> {
  const negatives = checked.filter((c) => c.count < 0)
  if (negatives.length === 0) return [...checked]
  const products = new Map((await findProducts(deps.store.db, [...new Set(negatives.map((c) => c.sku))])).map((p) => [p.sku, p]))
  return checked.filter((c) => {
    const p = products.get(c.sku)
    const why = c.count < 0 && p ? negativeCountRefused(c.count, c.sku, p.allowsBackorders) : null
    if (why !== null) outcomes[c.index] = negativeRefused(c, why)
    return why === null
  })
}

/** What the rows would do, read from the current levels; writes nothing. */
async function preview(deps: ServiceDeps, checked: ReadonlyArray<Checked>, outcomes: CountOutcome[]): Promise<void> {
  for (let i = 0; i < checked.length; i += JOB_ROWS_PER_CALL) {
    const part = checked.slice(i, i + JOB_ROWS_PER_CALL)
    const products = new Map((await findProducts(deps.store.db, [...new Set(part.map((c) => c.sku))])).map((p) => [p.sku, p]))
    const levels = new Map((await findLevelsByPairs(deps.store.db, part.map((c) => ({ sku: c.sku, warehouseId: c.warehouseId })))).map((l) => [`${l.warehouseId}\u0000${l.sku}`, { onHand: l.onHand, lastCountedAt: l.lastCountedAt }]))
    for (const c of part) {
      const product = products.get(c.sku)
      if (!product) {
        outcomes[c.index] = { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: 'rejected', code: 'sku_not_found', detail: `No product is registered with SKU ${c.sku}` }
        continue
      }
      const negative = negativeCountRefused(c.count, c.sku, product.allowsBackorders)
      if (negative !== null) {
        outcomes[c.index] = negativeRefused(c, negative)
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
  const writable = await refuseNegatives(deps, checked, outcomes)
  const perCall = o.rowsPerCall ?? JOB_ROWS_PER_CALL
  for (let i = 0, call = 0; i < writable.length; call++) {
    // One call: consecutive rows sharing observation time and reference, at most `perCall`.
    const first = writable[i]!
    let end = i + 1
    while (end < writable.length && end - i < perCall && writable[end]!.observedAt === first.observedAt && writable[end]!.referenceId === first.referenceId) end++
    const part = writable.slice(i, end)
    const r = await bulkSync(
      deps,
      { source: o.source, referenceId: first.referenceId, observedAt: first.observedAt, items: part.map((c) => ({ sku: c.sku, warehouse_id: c.warehouseId, quantity: c.count })) },
      o.callKey ? { ...callCtx, idempotencyKey: o.callKey(call) } : callCtx,
    )
    for (const item of r.value.items) {
      const c = part[item.index]!
      outcomes[c.index] =
        item.status === 'rejected'
          ? { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: 'rejected', code: item.code, detail: item.detail }
          : { line: c.line, sku: c.sku, warehouseId: c.warehouseId, status: item.status === 'stale' ? 'stale' : item.previous === item.current ? 'unchanged' : 'applied', before: item.previous, after: item.current }
    }
    i = end
    await o.onProgress?.(part[part.length - 1]!.index + 1, rows.length)
  }
  await o.onProgress?.(rows.length, rows.length)
  return summarise(false, outcomes)
}
