/**
 * @module http/routes/stores: WooCommerce stores (admin scope): add, list, change, remove; map
 * SKUs, push every figure, register webhooks, reconcile; and what came of it (runs, drift,
 * mapping problems, received webhooks).
 */
import { createRoute, z } from '@hono/zod-openapi'
import { connectorFor } from '../../service/woocommerce-runtime.js'
import { addStore, changeStore, getStore, listStorePage, removeStore, storeView } from '../../service/stores.js'
import { listDrift, listProblems, listReceived, listRuns } from '../../service/woocommerce.js'
import type { ReconcileRun } from '../../store/woo-repo.js'
import { findRun } from '../../store/woo-repo.js'
import { DomainError } from '../../domain/errors.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { ok, PROBLEMS } from '../responses.js'
import { envelope, PageQuery, pagedEnvelope, pagedJson } from '../schemas.js'
import type { Page } from '../../service/paging.js'
import type { Context } from 'hono'
import type { AppEnv } from '../env.js'
import { submitStoreJob, type StoreJobInput, type StoreJobKind } from '../../service/store-jobs.js'
import { contextOf } from '../request-context.js'
import { JobSchema, jobJson } from './jobs.js'

const StoreSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    url: z.string(),
    auth: z.enum(['basic', 'oauth1']),
    consumer_key: z.string().openapi({ description: 'Shortened; the secret is never shown' }),
    warehouses: z.array(z.number().int()),
    buffer: z.number().int(),
    mode: z.enum(['live', 'observe', 'paused']),
    concurrency: z.number().int(),
    hold_minutes: z.number().int(),
    ca_file: z.string().nullable(),
    webhooks_configured: z.boolean(),
    callback_url: z.string().nullable(),
    health: z.enum(['unknown', 'ok', 'unhealthy']),
    health_reason: z.string().nullable(),
    health_changed_at: z.string().nullable(),
    unreachable_since: z.string().nullable().openapi({ description: 'While the store cannot be reached (connection refused, timeouts): since when; health is then unhealthy' }),
    pushing: z
      .object({
        window_ms: z.number().nullable().openapi({ description: 'How long a batch waits for more changes now' }),
        loaded: z.boolean().openapi({ description: 'Whether our pushes use most of the store\'s learned capacity (the window grows only then)' }),
        in_flight: z.number().nullable(),
        concurrency: z.number().nullable().openapi({ description: 'Requests allowed at once now (adapted, at most max_concurrency)' }),
        max_concurrency: z.number().nullable(),
        capacity: z.number().nullable().openapi({ description: 'Requests of ours the store was seen to serve at once (learned from answers and probes; null: not seen to queue any, so it is not paced)' }),
        latency_ms: z.number().nullable().openapi({ description: "The store's smoothed response time" }),
        backlog: z.number().nullable().openapi({ description: 'Changes claimed and waiting to be sent' }),
        busy: z.number().nullable().openapi({ description: 'Our requests in flight over the store\'s capacity (over the allowed requests while it is unknown), smoothed (0…1); the window grows from 0.6' }),
        at: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: 'What steers pushes to this store, as last recorded by the node pushing (null before the first push)' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Store')

const Warehouses = z.array(z.union([z.string().min(1).max(40), z.number().int().positive()])).min(1).max(100)
const StoreInput = z
  .strictObject({
    name: z.string().min(1).max(60).openapi({ example: 'eu-shop' }),
    url: z.string().min(1).max(2000).openapi({ example: 'https://shop.example', description: 'https: Basic auth; http: OAuth 1.0a' }),
    consumer_key: z.string().min(1).max(200),
    consumer_secret: z.string().min(1).max(200),
    warehouses: Warehouses.openapi({ description: 'Warehouse codes or ids whose stock the store sells', example: ['BER', 'HAM'] }),
    buffer: z.number().int().min(0).max(1_000_000).optional().openapi({ description: 'Units held back from the store (default 0)' }),
    mode: z.enum(['live', 'observe', 'paused']).optional().openapi({ description: 'live: push and take orders (default); observe: take orders, report drift, push nothing; paused: nothing (webhooks are kept for later)' }),
    concurrency: z.number().int().min(1).max(16).optional().openapi({ description: 'Requests in flight to the store at once (default 4)' }),
    hold_minutes: z.number().int().min(1).max(10080).optional().openapi({ description: 'Expiry of the reservation a pending order makes (default 60)' }),
    ca_file: z.string().max(1000).nullable().optional().openapi({ description: 'PEM CA file to trust for a self-signed https store' }),
  })
  .openapi('StoreInput')
const StorePatch = StoreInput.partial().openapi('StorePatch')

const StoreParam = z.object({ store: z.string().min(1).max(60).regex(/^[A-Za-z0-9_.-]+$/).openapi({ param: { name: 'store', in: 'path' }, description: 'Store id (sto_…) or name' }) })
const RunSchema = z
  .object({
    id: z.string(),
    store_id: z.string(),
    dry_run: z.boolean(),
    status: z.enum(['running', 'done', 'failed']),
    checked: z.number().int(),
    drift: z.number().int(),
    repaired: z.number().int(),
    webhooks_reenabled: z.number().int(),
    error: z.string().nullable(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    report: z.unknown().optional().openapi({ description: 'drift: [{sku, store_figure, hub_figure, repaired}], webhooks: [...], skipped_in_flight' }),
  })
  .openapi('ReconcileRun')

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
function runJson(r: ReconcileRun, withReport: boolean): z.infer<typeof RunSchema> {
  return {
    id: r.id,
    store_id: r.storeId,
    dry_run: r.dryRun,
    status: r.status,
    checked: r.checked,
    drift: r.drift,
    repaired: r.repaired,
    webhooks_reenabled: r.webhooksReenabled,
    error: r.error,
    started_at: iso(r.startedAt)!,
    finished_at: iso(r.finishedAt),
    ...(withReport ? { report: r.report } : {}),
  }
}

const inputOf = (b: Partial<z.infer<typeof StoreInput>>) => ({
  ...(b.name !== undefined ? { name: b.name } : {}),
  ...(b.url !== undefined ? { url: b.url } : {}),
  ...(b.consumer_key !== undefined ? { consumerKey: b.consumer_key } : {}),
  ...(b.consumer_secret !== undefined ? { consumerSecret: b.consumer_secret } : {}),
  ...(b.warehouses !== undefined ? { warehouses: b.warehouses } : {}),
  ...(b.buffer !== undefined ? { buffer: b.buffer } : {}),
  ...(b.mode !== undefined ? { mode: b.mode } : {}),
  ...(b.concurrency !== undefined ? { concurrency: b.concurrency } : {}),
  ...(b.hold_minutes !== undefined ? { holdMinutes: b.hold_minutes } : {}),
  ...(b.ca_file !== undefined ? { caFile: b.ca_file } : {}),
})

export function registerStoreRoutes(app: App, deps: AppDeps): void {
  const admin = requireScope('admin')
  const tags = ['stores']
  const any = ok(envelope(z.any()))

  app.openapi(
    createRoute({ method: 'post', path: '/stores', tags, summary: 'Connect a WooCommerce store', middleware: [admin] as const, request: { body: { content: { 'application/json': { schema: StoreInput } }, required: true } }, responses: { 201: ok(envelope(StoreSchema), 'Created'), 401: PROBLEMS[401], 403: PROBLEMS[403], 409: PROBLEMS[409], 422: PROBLEMS[422] } }),
    async (c) => {
      const b = c.req.valid('json')
      const s = await addStore(deps, { ...inputOf(b), name: b.name, url: b.url, consumerKey: b.consumer_key, consumerSecret: b.consumer_secret, warehouses: b.warehouses })
      c.header('location', `/inventory/v1/stores/${s.id}`)
      return c.json({ success: true as const, data: storeView(s) }, 201)
    },
  )
  app.openapi(createRoute({ method: 'get', path: '/stores', tags, summary: 'Stores by name with their mode and health, cursor-paged', middleware: [admin] as const, request: { query: z.strictObject(PageQuery) }, responses: { 200: ok(pagedEnvelope(StoreSchema)), 401: PROBLEMS[401], 403: PROBLEMS[403], 422: PROBLEMS[422] } }), async (c) =>
    c.json(pagedJson(await listStorePage(deps, c.req.valid('query')), storeView), 200),
  )
  app.openapi(createRoute({ method: 'get', path: '/stores/{store}', tags, summary: 'One store', middleware: [admin] as const, request: { params: StoreParam }, responses: { 200: ok(envelope(StoreSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] } }), async (c) =>
    c.json({ success: true as const, data: storeView(await getStore(deps, c.req.valid('param').store)) }, 200),
  )
  app.openapi(
    createRoute({ method: 'patch', path: '/stores/{store}', tags, summary: 'Change a store (mode, buffer, warehouses, credentials…)', middleware: [admin] as const, request: { params: StoreParam, body: { content: { 'application/json': { schema: StorePatch } }, required: true } }, responses: { 200: ok(envelope(StoreSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] } }),
    async (c) => c.json({ success: true as const, data: storeView(await changeStore(deps, c.req.valid('param').store, inputOf(c.req.valid('json')))) }, 200),
  )
  app.openapi(createRoute({ method: 'delete', path: '/stores/{store}', tags, summary: 'Disconnect a store (its mappings, queued pushes and records go too)', middleware: [admin] as const, request: { params: StoreParam }, responses: { 204: { description: 'Removed' }, 401: PROBLEMS[401], 404: PROBLEMS[404] } }), async (c) => {
    await removeStore(deps, c.req.valid('param').store)
    return c.body(null, 204)
  })

  // map, sync and reconcile take minutes on a big catalogue: the request queues a job (202,
  // Location: /inventory/v1/jobs/{id}); GET /jobs/{id} shows done of total and then the result.
  const queued = { description: 'Queued as a background job; follow Location (GET /jobs/{id}) for progress and the result', headers: { Location: { schema: { type: 'string' as const }, description: '/inventory/v1/jobs/{id}' } }, content: { 'application/json': { schema: envelope(JobSchema) } } }
  const accepted = async (c: Context<AppEnv>, kind: StoreJobKind, input: StoreJobInput) => {
    const job = await submitStoreJob(deps, kind, input, contextOf(c))
    c.header('location', `/inventory/v1/jobs/${job.id}`)
    return c.json({ success: true as const, data: jobJson(job) }, 202)
  }
  app.openapi(
    createRoute({ method: 'post', path: '/stores/{store}/map', tags, summary: 'Map SKUs to store products (?sku= lookups of 100, or a full catalogue scan), as a job', middleware: [admin] as const, request: { params: StoreParam, body: { content: { 'application/json': { schema: z.strictObject({ scan: z.boolean().optional(), skus: z.array(z.string().min(1).max(100)).max(10_000).optional() }) } }, required: false } }, responses: { 202: queued, 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] } }),
    async (c) => {
      const b = (await c.req.json().catch(() => ({}))) as { scan?: boolean; skus?: string[] }
      return accepted(c, 'map', { store: c.req.valid('param').store, ...(b.scan ? { scan: true } : {}), ...(b.skus ? { skus: b.skus } : {}) })
    },
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/stores/{store}/import-products',
      tags,
      summary: "Register the store's products and variations as SKUs (#14); reports SKUs missing or duplicated in the store",
      middleware: [admin] as const,
      request: { params: StoreParam, query: z.strictObject({ dry_run: z.enum(['true', 'false']).optional() }) },
      responses: { 200: any, 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const r = await connectorFor(deps).importProducts(c.req.valid('param').store, { dryRun: c.req.valid('query').dry_run === 'true' })
      const x = r.result
      return c.json(
        {
          success: true as const,
          data: {
            dry_run: r.dryRun,
            scanned: r.scanned,
            created: x.created,
            updated: x.updated,
            unchanged: x.unchanged,
            rejected: x.rejected,
            missing_sku: r.missingSku.map((m) => ({ product_id: m.productId, parent_id: m.parentId, name: m.name })),
            duplicated: r.duplicated.map((d) => ({ sku: d.sku, product_ids: d.productIds })),
            results: x.outcomes.map((o) => (o.status === 'rejected' ? { sku: o.sku, status: o.status, code: o.code, detail: o.detail } : { sku: o.sku, status: o.status, changes: o.changes })),
          },
        },
        200,
      )
    },
  )
  app.openapi(createRoute({ method: 'post', path: '/stores/{store}/sync', tags, summary: "Push every mapped SKU's figure now, as a job", middleware: [admin] as const, request: { params: StoreParam }, responses: { 202: queued, 401: PROBLEMS[401], 404: PROBLEMS[404] } }), async (c) =>
    accepted(c, 'sync', { store: c.req.valid('param').store }),
  )
  app.openapi(
    createRoute({ method: 'post', path: '/stores/{store}/webhooks', tags, summary: 'Create or re-enable the order and product webhooks, signed with a secret the hub keeps', middleware: [admin] as const, request: { params: StoreParam, body: { content: { 'application/json': { schema: z.strictObject({ callback_url: z.string().min(1).max(2000) }) } }, required: true } }, responses: { 200: any, 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] } }),
    async (c) => c.json({ success: true as const, data: await connectorFor(deps).registerWebhooks(c.req.valid('param').store, c.req.valid('json').callback_url) }, 200),
  )
  app.openapi(
    createRoute({ method: 'post', path: '/stores/{store}/reconcile', tags, summary: 'Compare the store with the hub and repair drift unless dry_run, as a job (its result names the run: GET /stores/{store}/reconciliations/{id})', middleware: [admin] as const, request: { params: StoreParam, body: { content: { 'application/json': { schema: z.strictObject({ dry_run: z.boolean().optional() }) } }, required: false } }, responses: { 202: queued, 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] } }),
    async (c) => {
      const b = (await c.req.json().catch(() => ({}))) as { dry_run?: boolean }
      return accepted(c, 'reconcile', { store: c.req.valid('param').store, dryRun: b.dry_run === true })
    },
  )
  // Every list pages the same way (#12): ?limit= and ?cursor=, answered with next_cursor and has_more.
  const paged = <T, U>(page: Page<T>, view: (t: T) => U) => ({ success: true as const, data: page.items.map(view), next_cursor: page.nextCursor, has_more: page.nextCursor !== null })
  const Paging = z.strictObject(PageQuery)
  app.openapi(createRoute({ method: 'get', path: '/stores/{store}/reconciliations', tags, summary: 'Reconciliation runs, newest first, cursor-paged', middleware: [admin] as const, request: { params: StoreParam, query: Paging }, responses: { 200: ok(pagedEnvelope(RunSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] } }), async (c) =>
    c.json(paged(await listRuns(deps, c.req.valid('param').store, c.req.valid('query')), (r) => runJson(r, false)), 200),
  )
  app.openapi(
    createRoute({ method: 'get', path: '/stores/{store}/reconciliations/{id}', tags, summary: 'One run with its report', middleware: [admin] as const, request: { params: StoreParam.extend({ id: z.string().min(1).max(40).openapi({ param: { name: 'id', in: 'path' } }) }) }, responses: { 200: ok(envelope(RunSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => {
      const p = c.req.valid('param')
      const store = await getStore(deps, p.store)
      const run = await findRun(deps.store.db, p.id)
      if (!run || run.storeId !== store.id) throw new DomainError('route_not_found', `Store ${store.name} has no reconciliation run ${p.id}`)
      return c.json({ success: true as const, data: runJson(run, true) }, 200)
    },
  )
  app.openapi(
    createRoute({ method: 'get', path: '/stores/{store}/drift', tags, summary: 'Drift found (by reconciliation or product.updated deliveries), newest first, cursor-paged', middleware: [admin] as const, request: { params: StoreParam, query: z.strictObject({ run_id: z.string().max(40).optional(), ...PageQuery }) }, responses: { 200: ok(pagedEnvelope(z.any())), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] } }),
    async (c) => {
      const q = c.req.valid('query')
      const page = await listDrift(deps, c.req.valid('param').store, { runId: q.run_id, cursor: q.cursor, limit: q.limit })
      return c.json(paged(page, (d) => ({ sku: d.sku, store_figure: d.storeFigure, hub_figure: d.hubFigure, source: d.source, run_id: d.runId, detected_at: iso(d.detectedAt), repaired_at: iso(d.repairedAt) })), 200)
    },
  )
  app.openapi(createRoute({ method: 'get', path: '/stores/{store}/mapping-problems', tags, summary: 'SKUs unknown to or duplicated in the store, or only in the store; by SKU, cursor-paged', middleware: [admin] as const, request: { params: StoreParam, query: Paging }, responses: { 200: ok(pagedEnvelope(z.any())), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] } }), async (c) =>
    c.json(paged(await listProblems(deps, c.req.valid('param').store, c.req.valid('query')), (p) => ({ sku: p.sku, kind: p.kind, detail: p.detail, seen_at: iso(p.seenAt) })), 200),
  )
  app.openapi(createRoute({ method: 'get', path: '/stores/{store}/received-webhooks', tags, summary: 'Webhook deliveries received from the store and what came of each, newest first, cursor-paged', middleware: [admin] as const, request: { params: StoreParam, query: Paging }, responses: { 200: ok(pagedEnvelope(z.any())), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] } }), async (c) =>
    c.json(
      paged(await listReceived(deps, c.req.valid('param').store, c.req.valid('query')), (d) => ({ id: d.id, topic: d.topic, webhook_id: d.webhookId, delivery_id: d.deliveryId, resource_id: d.resourceId, status: d.status, attempts: d.attempts, result: d.result, received_at: iso(d.receivedAt), processed_at: iso(d.processedAt) })),
      200,
    ),
  )
}
