/** @module http/routes/stock: reading stock and moving it (the seed's routes plus batch read and transfer). */
import { createRoute, z } from '@hono/zod-openapi'
import type { Context, TypedResponse } from 'hono'
import { invalid } from '../../domain/errors.js'
import { parseUpdateChangeType } from '../../domain/movement.js'
import { parseCount, parseQuantity } from '../../domain/quantity.js'
import { isSku } from '../../domain/sku.js'
import { bulkSync } from '../../service/bulk-sync.js'
import { getStock, getStocks, updateStock } from '../../service/stock.js'
import { transferStock } from '../../service/transfer.js'
import { submitBulkSyncJob } from '../../service/jobs.js'
import { JobSchema, jobJson } from './jobs.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { contextOf, isoToMs, markReplay } from '../request-context.js'
import { IdempotencyHeaders, ok, PROBLEMS } from '../responses.js'
import { BatchStockQuery, BulkItemSchema, BulkSyncBody, envelope, ListedLevelSchema, MovementSchema, pagedEnvelope, SkuParam, StockQuery, StockSchema, StockUpdateBody, TransferBody } from '../schemas.js'
import { assertBatchQuery, levelListJson } from './stock-list.js'
import { bulkItemJson, movementJson, stockJson } from '../views.js'
import type { KeptAnswers } from '../../service/kept-answers.js'

export const MAX_BATCH_SKUS = 500
const DEFAULT_JOB_THRESHOLD = 2000
const json = <T extends z.ZodTypeAny>(schema: T) => ({ content: { 'application/json': { schema } }, required: true })
const timestamp = () => new Date().toISOString()
/**
 * JSON text sent as c.json sends it (same status and Content-Type), for answers put together from
 * kept texts. The text is the route's 200 schema serialised from stockJson's output, so it is typed
 * as any JSON answer (`never` data fits every route's declared shape).
 */
// A fresh headers object each time, as c.json makes: @hono/node-server may adopt the one it is given.
const jsonText = (c: Context, text: string) => c.body(text, 200, { 'Content-Type': 'application/json' }) as Response as Response & TypedResponse<never, 200, 'json'>

/**
 * The `data` texts of these SKUs (in order; unknown ones left out), from kept answers where the
 * generation allows, the rest read in one query and kept.
 */
async function stockTexts(deps: AppDeps, answers: KeptAnswers, skus: ReadonlyArray<string>, wh: number | undefined): Promise<{ texts: string[]; notFound: string[] }> {
  const mark = answers.begin()
  const texts: Array<string | undefined> = new Array(skus.length)
  let missing: string[] | undefined
  for (let i = 0; i < skus.length; i++) {
    const kept = mark === null ? undefined : answers.get(skus[i]!, wh)
    if (kept === undefined) (missing ??= []).push(skus[i]!)
    texts[i] = kept
  }
  if (missing) {
    const read = new Map<string, string>()
    for (const v of await getStocks(deps, missing, wh)) {
      const text = JSON.stringify(stockJson(v, wh))
      read.set(v.product.sku, text)
      if (mark !== null) answers.keep(mark, v.product.sku, wh, text)
    }
    for (let i = 0; i < skus.length; i++) texts[i] ??= read.get(skus[i]!)
  }
  const found: string[] = []
  const notFound: string[] = []
  for (let i = 0; i < skus.length; i++) {
    const t = texts[i]
    if (t === undefined) notFound.push(skus[i]!)
    else found.push(t)
  }
  return { texts: found, notFound }
}

export function registerStockRoutes(app: App, deps: AppDeps, answers: KeptAnswers): void {
  const read = requireScope('read')
  const write = requireScope('write')

  app.openapi(
    createRoute({
      method: 'get',
      path: '/stock',
      tags: ['stock'],
      summary: 'Batch read: several SKUs at once (?skus=); without skus, every level, filtered and paged',
      middleware: [read] as const,
      request: { query: BatchStockQuery },
      responses: { 200: ok(z.union([envelope(z.array(StockSchema), { not_found: z.array(z.string()), timestamp: z.string() }), pagedEnvelope(ListedLevelSchema)])), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const q = c.req.valid('query')
      if (q.skus === undefined) return c.json(await levelListJson(deps, q), 200)
      assertBatchQuery(q)
      const skus = [...new Set(q.skus.split(',').map((s) => s.trim()).filter(Boolean))]
      if (skus.length === 0) throw invalid('/skus', 'must list at least one SKU')
      if (skus.length > MAX_BATCH_SKUS) throw invalid('/skus', `must list at most ${MAX_BATCH_SKUS} SKUs`)
      const bad = skus.find((s) => !isSku(s))
      if (bad !== undefined) throw invalid('/skus', `holds an invalid SKU "${bad.slice(0, 40)}"`)
      const wh = q.warehouse_id ? q.warehouse_id : undefined
      const { texts, notFound } = await stockTexts(deps, answers, skus, wh)
      return jsonText(c, `{"success":true,"data":[${texts.join(',')}],"not_found":${JSON.stringify(notFound)},"timestamp":"${timestamp()}"}`)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/stock/update',
      tags: ['stock'],
      summary: 'Apply one movement: sale, restock, adjustment or sync',
      description:
        'A sale beyond available stock is refused with 409 insufficient_stock (unless the SKU allows backorders); it is never clamped. ' +
        'Adjustment and sync set on hand to an absolute count. Idempotent under Idempotency-Key, or under source + reference_id.',
      middleware: [write] as const,
      request: { body: json(StockUpdateBody), headers: IdempotencyHeaders },
      responses: {
        200: ok(envelope(MovementSchema, { message: z.string() })),
        401: PROBLEMS[401],
        403: PROBLEMS[403],
        404: PROBLEMS[404],
        409: PROBLEMS[409],
        413: PROBLEMS[413],
        415: PROBLEMS[415],
        422: PROBLEMS[422],
      },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const changeType = parseUpdateChangeType(b.change_type)
      const quantity = changeType === 'sale' || changeType === 'restock' ? parseQuantity(b.quantity) : parseCount(b.quantity)
      if (b.observed_at !== undefined && changeType !== 'sync') throw invalid('/observed_at', 'applies only to change_type sync')
      const res = await updateStock(
        deps,
        {
          sku: b.sku,
          warehouseId: b.warehouse_id,
          changeType,
          quantity,
          source: b.source ?? 'api',
          referenceId: b.reference_id ?? null,
          notes: b.notes ?? null,
          observedAt: isoToMs(b.observed_at),
          expectedOnHand: b.expected_on_hand,
          expectedVersion: b.expected_version,
        },
        contextOf(c),
      )
      markReplay(c, res)
      const status = res.value.entry.status
      const message =
        status === 'stale' ? 'Count is older than the newest applied count; recorded as stale, stock unchanged' : status === 'unchanged' ? 'Count confirms the figure on hand; recorded, stock unchanged' : 'Stock updated'
      return c.json({ success: true as const, message, data: movementJson(res.value) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/stock/bulk-sync',
      tags: ['stock'],
      summary: 'Set absolute counts for up to 10,000 (SKU, warehouse) pairs',
      description: 'Each item is applied or refused on its own; the answer holds one result per item, in request order.',
      middleware: [write] as const,
      request: { body: json(BulkSyncBody), headers: IdempotencyHeaders },
      responses: {
        200: ok(envelope(z.object({ applied: z.number().int(), stale: z.number().int(), unchanged: z.number().int(), rejected: z.number().int(), results: z.array(BulkItemSchema) }))),
        202: ok(envelope(JobSchema), 'Larger than the job threshold: queued as a background job; follow Location (GET /jobs/{id})'),
        401: PROBLEMS[401],
        403: PROBLEMS[403],
        413: PROBLEMS[413],
        422: PROBLEMS[422],
      },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const input = { items: b.items, source: b.source ?? 'api', referenceId: b.reference_id ?? null, observedAt: isoToMs(b.observed_at) }
      if (b.items.length > (deps.limits.bulkSyncJobThreshold ?? DEFAULT_JOB_THRESHOLD)) {
        const job = await submitBulkSyncJob(deps, input, contextOf(c))
        markReplay(c, job)
        c.header('location', `/inventory/v1/jobs/${job.value.id}`)
        return c.json({ success: true as const, data: jobJson(job.value) }, 202)
      }
      const res = await bulkSync(deps, input, contextOf(c))
      markReplay(c, res)
      const r = res.value
      return c.json({ success: true as const, data: { applied: r.applied, stale: r.stale, unchanged: r.unchanged, rejected: r.rejected, results: r.items.map(bulkItemJson) } }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/stock/transfer',
      tags: ['stock'],
      summary: 'Move units from one warehouse to another (both legs in one transaction)',
      middleware: [write] as const,
      request: { body: json(TransferBody), headers: IdempotencyHeaders },
      responses: {
        200: ok(envelope(z.object({ transfer_id: z.string(), from: MovementSchema, to: MovementSchema }))),
        401: PROBLEMS[401],
        403: PROBLEMS[403],
        404: PROBLEMS[404],
        409: PROBLEMS[409],
        422: PROBLEMS[422],
      },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const res = await transferStock(
        deps,
        { sku: b.sku, fromWarehouseId: b.from_warehouse_id, toWarehouseId: b.to_warehouse_id, quantity: b.quantity, source: b.source ?? 'api', referenceId: b.reference_id ?? null, notes: b.notes ?? null },
        contextOf(c),
      )
      markReplay(c, res)
      return c.json({ success: true as const, data: { transfer_id: res.value.transferId, from: movementJson(res.value.from), to: movementJson(res.value.to) } }, 200)
    },
  )
}

/** Registered after the history routes, so `/stock/history` is not taken for a SKU. */
export function registerStockReadRoute(app: App, deps: AppDeps, answers: KeptAnswers): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/stock/{sku}',
      tags: ['stock'],
      summary: 'One SKU: totals and every warehouse, or one warehouse (?warehouse_id=)',
      middleware: [requireScope('read')] as const,
      request: { params: SkuParam, query: StockQuery },
      responses: { 200: ok(envelope(StockSchema, { timestamp: z.string() })), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const { sku } = c.req.valid('param')
      const q = c.req.valid('query')
      const wh = q.warehouse_id ? q.warehouse_id : undefined
      const mark = answers.begin()
      let text = mark === null ? undefined : answers.get(sku, wh)
      if (text === undefined) {
        text = JSON.stringify(stockJson(await getStock(deps, sku, wh), wh))
        if (mark !== null) answers.keep(mark, sku, wh, text)
      }
      return jsonText(c, `{"success":true,"data":${text},"timestamp":"${timestamp()}"}`)
    },
  )
}
