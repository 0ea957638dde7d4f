/** @module http/routes/alerts: open alerts and their acknowledgement; alert channels (#15). */
import { createRoute, z } from '@hono/zod-openapi'
import { ALERT_KINDS, ALERT_SCOPES } from '../../domain/alerts.js'
import * as alerts from '../../service/alerts.js'
import * as channels from '../../service/alert-channels.js'
import { DomainError } from '../../domain/errors.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { ok, PROBLEMS } from '../responses.js'
import { envelope, PageQuery, pagedEnvelope, pagedJson, SkuSchema } from '../schemas.js'
import { testChannel } from '../../connectors/alert-channels/test-message.js'

const AlertSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    scope: z.string(),
    sku: z.string().nullable(),
    warehouse_id: z.number().int().nullable(),
    subject: z.string().nullable(),
    status: z.enum(['open', 'acknowledged', 'closed']),
    available: z.number().int().nullable(),
    threshold: z.number().int().nullable(),
    detail: z.string().nullable(),
    source_event_id: z.string().nullable(),
    raised_at: z.string(),
    acknowledged_at: z.string().nullable(),
    acknowledged_by: z.string().nullable(),
    closed_at: z.string().nullable(),
  })
  .openapi('Alert')

const AlertsQuery = z.strictObject({
  state: z.enum(['open', 'acknowledged', 'closed', 'all']).optional().openapi({ description: 'open (default): open and acknowledged; closed: recovered' }),
  kind: z.enum(ALERT_KINDS).optional(),
  scope: z.enum(ALERT_SCOPES).optional(),
  sku: SkuSchema.optional(),
  before: z.string().max(40).regex(/^alr_[0-9A-Z]+$/).optional().openapi({ description: 'Only alerts older than this id (older paging; prefer cursor)' }),
  ...PageQuery,
})

const IdParam = z.object({ id: z.string().min(1).max(40).regex(/^[A-Za-z0-9_]+$/).openapi({ param: { name: 'id', in: 'path' } }) })
const ChannelParam = z.object({ channel: z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/).openapi({ param: { name: 'channel', in: 'path' }, description: 'Channel id or name' }) })

const ChannelBody = z
  .strictObject({
    name: z.string().min(1).max(100).openapi({ example: 'ops-mail' }),
    kind: z.enum(channels.CHANNEL_KINDS),
    config: z.record(z.string(), z.unknown()).openapi({
      description:
        'email: {host, port, tls: implicit|starttls|none, verify_tls?, username?, password?, from, to: [..]}; slack: {url}; webhook: {url} (the signing secret is generated and shown once)',
    }),
    mode: z.enum(['immediate', 'digest']).optional(),
    digest_seconds: z.number().int().min(1).max(604_800).optional().openapi({ description: 'Digest window (default 900 s)' }),
    kinds: z.array(z.enum(ALERT_KINDS)).min(1).max(ALERT_KINDS.length).optional().openapi({ description: 'Alert kinds this channel takes; default all' }),
    scopes: z.array(z.enum(ALERT_SCOPES)).min(1).max(3).optional().openapi({ description: 'level, total, operational; default all' }),
  })
  .openapi('AlertChannelInput')

const ChannelSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.string(),
    mode: z.enum(['immediate', 'digest']),
    digest_seconds: z.number().int().nullable(),
    kinds: z.array(z.string()),
    scopes: z.array(z.string()),
    config: z.record(z.string(), z.unknown()),
    active: z.boolean(),
    created_at: z.string(),
  })
  .openapi('AlertChannel')

export function registerAlertRoutes(app: App, deps: AppDeps): void {
  const read = requireScope('read')
  const admin = requireScope('admin')

  app.openapi(
    createRoute({
      method: 'get',
      path: '/alerts',
      tags: ['alerts'],
      summary: 'Alerts, newest first (default: open and acknowledged)',
      middleware: [read] as const,
      request: { query: AlertsQuery },
      responses: { 200: ok(pagedEnvelope(AlertSchema)), 401: PROBLEMS[401], 422: PROBLEMS[422] },
    }),
    async (c) => c.json(pagedJson(await alerts.listAlertPage(deps, c.req.valid('query')), alerts.alertView), 200),
  )
  app.openapi(
    createRoute({ method: 'get', path: '/alerts/{id}', tags: ['alerts'], summary: 'One alert', middleware: [read] as const, request: { params: IdParam }, responses: { 200: ok(envelope(AlertSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => c.json({ success: true as const, data: alerts.alertView(await alerts.getAlert(deps, c.req.valid('param').id)) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/alerts/{id}/acknowledge',
      tags: ['alerts'],
      summary: 'Acknowledge an open alert (it stays open work until the figure recovers)',
      middleware: [requireScope('write')] as const,
      request: { params: IdParam },
      responses: { 200: ok(envelope(AlertSchema)), 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 409: PROBLEMS[409] },
    }),
    async (c) => c.json({ success: true as const, data: alerts.alertView(await alerts.acknowledgeAlert(deps, c.req.valid('param').id, c.get('principal').actor)) }, 200),
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/alert-channels',
      tags: ['alerts'],
      summary: 'Add an alert channel (email, Slack-compatible webhook, signed webhook)',
      middleware: [admin] as const,
      request: { body: { content: { 'application/json': { schema: ChannelBody } }, required: true } },
      responses: { 201: ok(envelope(ChannelSchema), 'Created'), 401: PROBLEMS[401], 403: PROBLEMS[403], 409: PROBLEMS[409], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const ch = await channels.createChannel(deps, { name: b.name, kind: b.kind, config: b.config, mode: b.mode, digestSeconds: b.digest_seconds, kinds: b.kinds, scopes: b.scopes })
      c.header('location', `/inventory/v1/alert-channels/${ch.id}`)
      return c.json({ success: true as const, data: channels.channelView(ch, true) }, 201)
    },
  )
  app.openapi(
    createRoute({ method: 'get', path: '/alert-channels', tags: ['alerts'], summary: 'Alert channels oldest first (secrets masked), cursor-paged', middleware: [admin] as const, request: { query: z.strictObject(PageQuery) }, responses: { 200: ok(pagedEnvelope(ChannelSchema)), 401: PROBLEMS[401], 403: PROBLEMS[403], 422: PROBLEMS[422] } }),
    async (c) => c.json(pagedJson(await channels.listChannelPage(deps, c.req.valid('query')), (ch) => channels.channelView(ch)), 200),
  )
  app.openapi(
    createRoute({ method: 'get', path: '/alert-channels/{channel}', tags: ['alerts'], summary: 'One alert channel', middleware: [admin] as const, request: { params: ChannelParam }, responses: { 200: ok(envelope(ChannelSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => c.json({ success: true as const, data: channels.channelView(await channels.getChannel(deps, c.req.valid('param').channel)) }, 200),
  )
  app.openapi(
    createRoute({ method: 'delete', path: '/alert-channels/{channel}', tags: ['alerts'], summary: 'Remove an alert channel and its pending messages', middleware: [admin] as const, request: { params: ChannelParam }, responses: { 204: { description: 'Removed' }, 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => {
      await channels.removeChannel(deps, c.req.valid('param').channel)
      return c.body(null, 204)
    },
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/alert-channels/{channel}/test',
      tags: ['alerts'],
      summary: "Send a test message now and report the channel's answer",
      middleware: [admin] as const,
      request: { params: ChannelParam },
      responses: {
        200: ok(envelope(z.object({ ok: z.boolean(), status: z.number().int().nullable(), detail: z.string() }))),
        401: PROBLEMS[401],
        404: PROBLEMS[404],
        502: { content: { 'application/problem+json': { schema: z.object({}).passthrough() } }, description: 'alert_channel_failed: the channel refused or could not be reached' },
      },
    }),
    async (c) => {
      const r = await testChannel(deps, c.req.valid('param').channel)
      if (!r.ok) throw new DomainError('alert_channel_failed', `The channel answered: ${r.detail}`, { status_code: r.status })
      return c.json({ success: true as const, data: r }, 200)
    },
  )
}
