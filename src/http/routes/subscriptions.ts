/** @module http/routes/subscriptions: outbound webhooks, their delivery log, dead letters and replay. */
import { createRoute, z } from '@hono/zod-openapi'
import type { Subscription } from '../../store/subscription-repo.js'
import * as subs from '../../service/subscriptions.js'
import { deliveryBacklogOf } from '../../service/delivery-stats.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { ok, PROBLEMS } from '../responses.js'
import { decimalInt, envelope, PageQuery, pagedEnvelope, pagedJson, SkuSchema } from '../schemas.js'
import type { DeadLetterRow } from '../../service/subscriptions.js'

const SubscriptionBody = z
  .strictObject({
    url: z.string().min(1).max(2000).openapi({ example: 'https://erp.example/hooks/stock' }),
    events: z.array(z.string().max(40)).max(10).optional().openapi({ description: 'Default: every event type (stock.changed)' }),
    skus: z.array(SkuSchema).max(10_000).optional().openapi({ description: 'Only these SKUs; absent: all' }),
    warehouses: z.array(z.number().int().positive()).max(1000).optional().openapi({ description: 'Only these warehouse ids; absent: all' }),
  })
  .openapi('SubscriptionInput')

const SubscriptionSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    skus: z.array(z.string()).nullable(),
    warehouses: z.array(z.number().int()).nullable(),
    active: z.boolean(),
    created_at: z.string(),
    secret: z.string().optional().openapi({ description: 'Returned once, at creation: the key of the X-Stockbridge-Signature HMAC' }),
  })
  .openapi('Subscription')

const AttemptSchema = z.object({ id: z.number().int(), event_id: z.string(), sku: z.string(), outcome: z.enum(['ok', 'retry', 'dead']), status_code: z.number().int().nullable(), error: z.string().nullable(), duration_ms: z.number().int(), attempted_at: z.string() })
const DeadLetterSchema = z
  .object({
    id: z.string(),
    target_id: z.string(),
    sku: z.string(),
    event_sequence: z.number().int(),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    last_status: z.number().int().nullable(),
    created_at: z.string(),
    replayed_at: z.string().nullable(),
    event: z.unknown().optional(),
  })
  .openapi('DeadLetter')

const IdParam = z.object({ id: z.string().min(1).max(40).regex(/^[A-Za-z0-9_]+$/).openapi({ param: { name: 'id', in: 'path' } }) })
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

function subscriptionJson(s: Subscription, withSecret = false): z.infer<typeof SubscriptionSchema> {
  return { id: s.id, url: s.url, events: [...s.events], skus: s.skus ? [...s.skus] : null, warehouses: s.warehouses ? [...s.warehouses] : null, active: s.isActive, created_at: iso(s.createdAt)!, ...(withSecret ? { secret: s.secret } : {}) }
}

function deadLetterJson(d: DeadLetterRow, event?: unknown): z.infer<typeof DeadLetterSchema> {
  return { id: d.id, target_id: d.targetId, sku: d.sku, event_sequence: d.eventSeq, attempts: d.attempts, last_error: d.lastError, last_status: d.lastStatus, created_at: iso(d.createdAt)!, replayed_at: iso(d.replayedAt), ...(event !== undefined ? { event } : {}) }
}

export function registerSubscriptionRoutes(app: App, deps: AppDeps): void {
  const admin = requireScope('admin')
  const read = requireScope('read')

  app.openapi(
    createRoute({
      method: 'post',
      path: '/subscriptions',
      tags: ['subscriptions'],
      summary: 'Subscribe a URL to stock events (signed JSON POSTs); the secret is shown once',
      middleware: [admin] as const,
      request: { body: { content: { 'application/json': { schema: SubscriptionBody } }, required: true } },
      responses: { 201: ok(envelope(SubscriptionSchema), 'Created'), 401: PROBLEMS[401], 403: PROBLEMS[403], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const s = await subs.createSubscription(deps, { url: b.url, events: b.events, skus: b.skus, warehouses: b.warehouses })
      c.header('location', `/inventory/v1/subscriptions/${s.id}`)
      return c.json({ success: true as const, data: subscriptionJson(s, true) }, 201)
    },
  )
  app.openapi(
    createRoute({ method: 'get', path: '/subscriptions', tags: ['subscriptions'], summary: 'Subscriptions, oldest first, cursor-paged', middleware: [admin] as const, request: { query: z.strictObject(PageQuery) }, responses: { 200: ok(pagedEnvelope(SubscriptionSchema)), 401: PROBLEMS[401], 403: PROBLEMS[403], 422: PROBLEMS[422] } }),
    async (c) => c.json(pagedJson(await subs.listSubscriptionPage(deps, c.req.valid('query')), (s) => subscriptionJson(s)), 200),
  )
  app.openapi(
    createRoute({ method: 'get', path: '/subscriptions/{id}', tags: ['subscriptions'], summary: 'One subscription', middleware: [admin] as const, request: { params: IdParam }, responses: { 200: ok(envelope(SubscriptionSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => c.json({ success: true as const, data: subscriptionJson(await subs.getSubscription(deps, c.req.valid('param').id)) }, 200),
  )
  app.openapi(
    createRoute({ method: 'delete', path: '/subscriptions/{id}', tags: ['subscriptions'], summary: 'Remove a subscription and its pending deliveries', middleware: [admin] as const, request: { params: IdParam }, responses: { 204: { description: 'Removed' }, 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => {
      await subs.deleteSubscription(deps, c.req.valid('param').id)
      return c.body(null, 204)
    },
  )
  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscriptions/{id}/deliveries',
      tags: ['subscriptions'],
      summary: 'Delivery log: every attempt with its outcome, status code and time, newest first',
      middleware: [admin] as const,
      request: { params: IdParam, query: z.strictObject({ before: decimalInt(1, Number.MAX_SAFE_INTEGER).optional().openapi({ description: 'Only attempts with a smaller id (older paging; prefer cursor)' }), ...PageQuery }) },
      responses: { 200: ok(pagedEnvelope(AttemptSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const id = c.req.valid('param').id
      await subs.getSubscription(deps, id)
      const q = c.req.valid('query')
      const page = await subs.listDeliveryAttemptPage(deps, id, { before: q.before, cursor: q.cursor, limit: q.limit })
      return c.json(
        pagedJson(page, (r) => ({ id: r.id, event_id: r.event_id, sku: r.sku, outcome: r.outcome as 'ok' | 'retry' | 'dead', status_code: r.status_code, error: r.error, duration_ms: Number(r.duration_ms), attempted_at: iso(r.attempted_at)! })),
        200,
      )
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/dead-letters',
      tags: ['dead letters'],
      summary: 'Deliveries that failed for good (newest first)',
      middleware: [admin] as const,
      request: { query: z.strictObject({ target_id: z.string().max(40).optional(), include_replayed: z.enum(['true', 'false']).optional(), ...PageQuery }) },
      responses: { 200: ok(pagedEnvelope(DeadLetterSchema)), 401: PROBLEMS[401], 403: PROBLEMS[403], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const page = await subs.listDeadLetters(deps, { targetId: q.target_id, includeReplayed: q.include_replayed === 'true', cursor: q.cursor, limit: q.limit })
      return c.json(pagedJson(page, (d) => deadLetterJson(d)), 200)
    },
  )
  app.openapi(
    createRoute({ method: 'get', path: '/dead-letters/{id}', tags: ['dead letters'], summary: 'One dead letter with the event it carried', middleware: [admin] as const, request: { params: IdParam }, responses: { 200: ok(envelope(DeadLetterSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => {
      const d = await subs.getDeadLetter(deps, c.req.valid('param').id)
      return c.json({ success: true as const, data: deadLetterJson(d, d.event) }, 200)
    },
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/dead-letters/{id}/replay',
      tags: ['dead letters'],
      summary: "Deliver again: the SKU's newest figure goes to the target (never an older one)",
      middleware: [admin] as const,
      request: { params: IdParam },
      responses: { 202: ok(envelope(z.object({ id: z.string(), event_sequence: z.number().int() })), 'Queued'), 401: PROBLEMS[401], 404: PROBLEMS[404], 409: PROBLEMS[409] },
    }),
    async (c) => {
      const id = c.req.valid('param').id
      const r = await subs.replayDeadLetter(deps, id)
      return c.json({ success: true as const, data: { id, event_sequence: r.eventSeq } }, 202)
    },
  )
  app.openapi(
    createRoute({
      method: 'get',
      path: '/deliveries/stats',
      tags: ['subscriptions'],
      summary: 'Outbox lag and delivery counts (pending, oldest pending event age)',
      middleware: [read] as const,
      responses: { 200: ok(envelope(z.object({ pending: z.number().int(), oldest_pending_age_ms: z.number().int().nullable() }))), 401: PROBLEMS[401] },
    }),
    async (c) => {
      const b = await deliveryBacklogOf(deps)
      return c.json({ success: true as const, data: { pending: b.pending, oldest_pending_age_ms: b.oldestPendingAt === null ? null : Math.max(0, deps.clock.now() - b.oldestPendingAt) } }, 200)
    },
  )
}
