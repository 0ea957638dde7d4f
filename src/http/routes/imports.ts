/**
 * @module http/routes/imports: CSV in and out (#14). `POST /imports` takes a `text/csv` body as a
 * stream under its own size limit; large files become a background job (202 + Location) whose
 * progress `GET /imports/{id}` shows. `GET /exports/levels.csv` and `/exports/ledger.csv` stream
 * their rows page by page as the client reads them, in constant memory (connectors/csv/exports.ts).
 */
import { createRoute, z } from '@hono/zod-openapi'
import { DomainError, ValidationError } from '../../domain/errors.js'
import { CsvError, CsvTooLargeError } from '../../connectors/csv/codec.js'
import { exportLedger, exportLevels, ledgerFilter, resolveWarehouse } from '../../connectors/csv/exports.js'
import { readCountRows, readProductRows } from '../../connectors/csv/imports.js'
import { importCounts, type CountImportResult, type CountOutcome } from '../../service/count-import.js'
import { getImportJob, submitImportJob, withEarly, type ImportJobView } from '../../service/imports.js'
import { importProducts, type ProductImportResult, type ProductOutcome } from '../../service/product-import.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { problem } from '../problem.js'
import { contextOf } from '../request-context.js'
import { ok, PROBLEMS } from '../responses.js'
import { envelope, IdParam } from '../schemas.js'

const CSV_TYPES = ['text/csv', 'application/csv', 'text/plain', 'application/vnd.ms-excel']
/** IMPORT_BODY_LIMIT_BYTES's default, and the rows above which an applied import becomes a job. */
export const IMPORT_DEFAULTS = Object.freeze({ maxBytes: 64 * 1024 * 1024, jobRows: 20_000 })

const ImportResultSchema = z
  .object({
    kind: z.enum(['counts', 'products']),
    dry_run: z.boolean(),
    rows: z.number().int(),
    applied: z.number().int().optional().openapi({ description: 'counts: rows that changed (dry run: would change)' }),
    unchanged: z.number().int(),
    stale: z.number().int().optional(),
    created: z.number().int().optional(),
    updated: z.number().int().optional(),
    rejected: z.number().int(),
    errors: z.array(z.object({ line: z.number().int(), sku: z.string().nullable(), code: z.string(), detail: z.string() })),
    results: z.array(z.record(z.string(), z.unknown())).openapi({ description: 'One per row, by line: counts {line, sku, warehouse_id, status, before, after}; products {line, sku, status, changes}' }),
  })
  .openapi('ImportResult')

const ImportJobSchema = z
  .object({ id: z.string(), kind: z.enum(['counts', 'products']), status: z.enum(['queued', 'running', 'done', 'failed']), total: z.number().int(), done: z.number().int(), error: z.string().nullable(), created_at: z.string(), updated_at: z.string(), result: ImportResultSchema.nullable() })
  .openapi('ImportJob')

function countRowJson(o: CountOutcome) {
  return o.status === 'rejected' ? { line: o.line, sku: o.sku, warehouse_id: o.warehouseId, status: o.status, code: o.code, detail: o.detail } : { line: o.line, sku: o.sku, warehouse_id: o.warehouseId, status: o.status, before: o.before, after: o.after }
}

function productRowJson(o: ProductOutcome) {
  return o.status === 'rejected' ? { line: o.line, sku: o.sku, status: o.status, code: o.code, detail: o.detail } : { line: o.line, sku: o.sku, status: o.status, changes: [...o.changes] }
}

export function importResultJson(kind: 'counts' | 'products', r: CountImportResult | ProductImportResult): z.infer<typeof ImportResultSchema> {
  const errors = (r.outcomes as ReadonlyArray<CountOutcome | ProductOutcome>).flatMap((o) => (o.status === 'rejected' ? [{ line: o.line, sku: o.sku, code: o.code, detail: o.detail }] : []))
  if (kind === 'counts') {
    const c = r as CountImportResult
    return { kind, dry_run: c.dryRun, rows: c.rows, applied: c.applied, unchanged: c.unchanged, stale: c.stale, rejected: c.rejected, errors, results: c.outcomes.map(countRowJson) }
  }
  const p = r as ProductImportResult
  return { kind, dry_run: p.dryRun, rows: p.rows, created: p.created, updated: p.updated, unchanged: p.unchanged, rejected: p.rejected, errors, results: p.outcomes.map(productRowJson) }
}

function importJobJson(j: ImportJobView): z.infer<typeof ImportJobSchema> {
  return { id: j.id, kind: j.kind, status: j.status, total: j.total, done: j.done, error: j.error, created_at: new Date(j.createdAt).toISOString(), updated_at: new Date(j.updatedAt).toISOString(), result: j.result ? importResultJson(j.kind, j.result) : null }
}

/** A CSV file's problem as a validation error pointing at its line. */
function csvProblem(e: CsvError): ValidationError {
  return new ValidationError([{ pointer: e.line === null ? 'body' : `line ${e.line}`, message: e.message }])
}

const problemContent = { 'application/problem+json': { schema: z.any() } }

export function registerImportRoutes(app: App, deps: AppDeps): void {
  const read = requireScope('read')
  const write = requireScope('write')
  const maxBytes = deps.limits.importBodyBytes ?? IMPORT_DEFAULTS.maxBytes
  const jobRows = deps.limits.importJobThreshold ?? IMPORT_DEFAULTS.jobRows

  app.openapi(
    createRoute({
      method: 'post',
      path: '/imports',
      tags: ['csv'],
      summary: 'Import a CSV file of counts (write scope) or products (admin scope)',
      description:
        'Body: text/csv with a header row (UTF-8, optional BOM, `,` or `;`, CRLF or LF, quoted fields). counts: sku, warehouse_code (or warehouse_id, or the warehouse query parameter), quantity, optional observed_at, reference_id — absolute counts applied as sync movements. products: sku, product_id, optional parent_id, name, safety_stock, low_stock_threshold, backorders — created or updated. Each row gets an outcome with its line; valid rows apply. dry_run=true changes nothing and reports before → after. Files with more rows than the job threshold answer 202 with a job.',
      middleware: [write] as const,
      request: {
        query: z.strictObject({ kind: z.enum(['counts', 'products']), dry_run: z.enum(['true', 'false']).optional(), warehouse: z.string().min(1).max(50).optional().openapi({ description: 'counts: the warehouse (code or id) of every row' }) }),
        body: { content: { 'text/csv': { schema: z.string() } }, required: true },
      },
      responses: {
        200: ok(envelope(ImportResultSchema)),
        202: ok(envelope(ImportJobSchema), 'Queued as a job; follow Location'),
        401: PROBLEMS[401],
        403: PROBLEMS[403],
        413: PROBLEMS[413],
        415: PROBLEMS[415],
        422: { content: problemContent, description: 'validation_failed: the file is not CSV, has an unknown or missing column, or a bad query parameter' },
      },
    }),
    async (c) => {
      const q = c.req.valid('query')
      if (q.kind === 'products' && !c.get('principal').scopes.includes('admin')) throw new DomainError('forbidden', 'Importing products needs the admin scope', { required_scope: 'admin' })
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
      if (!CSV_TYPES.includes(type)) return problem(c, 'unsupported_media_type', `The body must be text/csv (got ${type.slice(0, 60) || 'none'})`, {}) as never
      const declared = Number(c.req.header('content-length') ?? NaN)
      if (declared > maxBytes) return problem(c, 'payload_too_large', `The body exceeds this route's limit of ${maxBytes} bytes`, { limit_bytes: maxBytes }) as never
      const body = c.req.raw.body
      if (!body) throw new ValidationError([{ pointer: 'body', message: 'is empty; send a CSV file with a header row' }])
      const ctx = contextOf(c)
      const dryRun = q.dry_run === 'true'
      const now = deps.clock.now()
      try {
        if (q.kind === 'counts') {
          const { rows, early } = await readCountRows(body as unknown as AsyncIterable<Uint8Array>, { maxBytes, fixedWarehouse: q.warehouse !== undefined })
          if (!dryRun && rows.length > jobRows) {
            const job = await submitImportJob(deps, { kind: 'counts', rows, early, source: 'csv-import', warehouse: q.warehouse ?? null, observedAt: now }, ctx)
            c.header('location', `/inventory/v1/imports/${job.id}`)
            return c.json({ success: true as const, data: importJobJson(job) }, 202)
          }
          const r = withEarly(await importCounts(deps, rows, { source: 'csv-import', dryRun, warehouse: q.warehouse ?? null, observedAt: now }, ctx), early)
          return c.json({ success: true as const, data: importResultJson('counts', r) }, 200)
        }
        const { rows, early } = await readProductRows(body as unknown as AsyncIterable<Uint8Array>, { maxBytes })
        if (!dryRun && rows.length > jobRows) {
          const job = await submitImportJob(deps, { kind: 'products', rows, early, source: 'csv-import', warehouse: null, observedAt: now }, ctx)
          c.header('location', `/inventory/v1/imports/${job.id}`)
          return c.json({ success: true as const, data: importJobJson(job) }, 202)
        }
        const r = withEarly(await importProducts(deps, rows, { dryRun }), early)
        return c.json({ success: true as const, data: importResultJson('products', r) }, 200)
      } catch (e) {
        if (e instanceof CsvTooLargeError) return problem(c, 'payload_too_large', `The body exceeds this route's limit of ${e.limit} bytes`, { limit_bytes: e.limit }) as never
        if (e instanceof CsvError) throw csvProblem(e)
        throw e
      }
    },
  )

  app.openapi(
    createRoute({ method: 'get', path: '/imports/{id}', tags: ['csv'], summary: "An import job's progress and, when done, its result", middleware: [read] as const, request: { params: IdParam }, responses: { 200: ok(envelope(ImportJobSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => c.json({ success: true as const, data: importJobJson(await getImportJob(deps, c.req.valid('param').id)) }, 200),
  )

  const csvResponse = { 200: { content: { 'text/csv': { schema: z.string() } }, description: 'CSV with a header row, streamed' }, 401: PROBLEMS[401], 422: PROBLEMS[422] }

  app.openapi(
    createRoute({ method: 'get', path: '/exports/levels.csv', tags: ['csv'], summary: 'Every stock level as CSV (sku, warehouse_code, quantity = on hand, …); imports back as counts', middleware: [read] as const, request: { query: z.strictObject({ warehouse: z.string().min(1).max(50).optional() }) }, responses: csvResponse }),
    async (c) => {
      const warehouseId = await resolveWarehouse(deps, c.req.valid('query').warehouse)
      return csvDownload('levels.csv', exportLevels(deps, warehouseId), deps.log) as never
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/exports/ledger.csv',
      tags: ['csv'],
      summary: 'The ledger as CSV, oldest first, streamed in constant memory',
      middleware: [read] as const,
      request: { query: z.strictObject({ from: z.string().max(40).optional(), to: z.string().max(40).optional().openapi({ description: 'exclusive' }), sku: z.string().max(100).optional() }) },
      responses: csvResponse,
    }),
    async (c) => csvDownload('ledger.csv', exportLedger(deps, ledgerFilter(c.req.valid('query'))), deps.log) as never,
  )
}

/**
 * The chunks as a response body the client pulls: the next page is read only when the socket has
 * taken the last one (@hono/node-server waits for 'drain'), so a slow client holds one page, not
 * the file. A failure after the first byte can only cut the file short: the stream errors (the
 * chunked body ends without its last chunk, so the client sees it was cut) and it is logged.
 */
export function csvDownload(filename: string, chunks: AsyncGenerator<Uint8Array>, log: AppDeps['log']): Response {
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await chunks.next()
          if (next.done) controller.close()
          else controller.enqueue(next.value)
        } catch (e) {
          log.error({ err: e, export: filename }, 'CSV export failed part-way; the file was cut short')
          controller.error(e)
        }
      },
      async cancel() {
        await chunks.return(undefined)
      },
    },
    { highWaterMark: 0 },
  )
  return new Response(body, { status: 200, headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${filename}"`, 'cache-control': 'no-store' } })
}
