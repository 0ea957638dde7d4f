/**
 * @module http/routes/webhooks: inbound provider webhooks, `POST /inventory/v1/webhook/{provider}`
 * (the seed's route, #5). No API key: the provider proves itself with an HMAC-SHA256 of the raw
 * body under its own secret, in its own header and encoding (README, Security). The signature is
 * checked on the raw bytes before anything reads them as JSON; no secret configured → 401.
 */
import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { DomainError, invalid, ValidationError } from '../../domain/errors.js'
import { parseUpdateChangeType } from '../../domain/movement.js'
import { parseCount, parseQuantity } from '../../domain/quantity.js'
import { verifyProviderSignature, type WebhookProvider } from '../../security/provider-signature.js'
import { bulkSync } from '../../service/bulk-sync.js'
import type { RequestContext } from '../../service/deps.js'
import { recordInboundWebhook, warehouseIdsByCode } from '../../service/inbound-webhooks.js'
import { updateStock } from '../../service/stock.js'
import type { App, AppDeps, AppEnv } from '../env.js'
import { depthProblem, jsonDepth, MAX_JSON_DEPTH } from '../middleware/body.js'
import { fieldErrorsOf, problem } from '../problem.js'
import { PROBLEMS } from '../responses.js'
import { SkuSchema } from '../schemas.js'
import { bulkItemJson, movementJson } from '../views.js'

export const WEBHOOK_PATH_PREFIX = '/webhook/'

const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/
const Label = (max: number) => z.string().min(1).max(max).regex(NO_CONTROL, 'must not contain control characters')
const WarehouseCode = z.string().min(1).max(50).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'may hold only letters, digits and . _ -')

// warehouse_system_a, as the seed's process_warehouse_a_webhook reads it.
const Envelope = z.strictObject({
  event_type: z.string().max(50),
  data: z.unknown(),
  timestamp: z.union([z.string().max(40), z.number().int().min(0).max(99_999_999_999)]),
})
const StockUpdateData = z.strictObject({
  product_code: SkuSchema,
  warehouse_code: WarehouseCode,
  quantity: z.number().int(),
  change_type: z.string().max(40),
  transaction_id: Label(100),
  notes: z.string().max(2000).regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/, 'must not contain control characters').optional(),
})
const StockAdjustmentData = StockUpdateData.omit({ change_type: true })
const InventorySyncData = z.strictObject({
  sync_id: Label(100).optional(),
  items: z.array(z.strictObject({ product_code: SkuSchema, warehouse_code: WarehouseCode, quantity: z.number().int() })).min(1).max(10_000),
})

const ProviderParam = z.object({
  provider: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).openapi({ param: { name: 'provider', in: 'path' }, example: 'warehouse_system_a' }),
})

function parseData<T extends z.ZodTypeAny>(schema: T, data: unknown): z.infer<T> {
  const r = schema.safeParse(data)
  if (!r.success) throw new ValidationError(fieldErrorsOf(r.error.issues, '/data'))
  return r.data
}

function timestampMs(ts: string | number): number {
  const ms = typeof ts === 'number' ? ts * 1000 : /^\d{1,11}$/.test(ts) ? Number(ts) * 1000 : Date.parse(ts)
  if (!Number.isFinite(ms)) throw invalid('/timestamp', 'must be an ISO 8601 instant or unix seconds')
  return ms
}

/** The seed's warehouse_system_a events, applied through the movement services. */
async function applyWarehouseSystemA(deps: AppDeps, provider: string, payload: unknown, ctx: RequestContext) {
  const env = Envelope.safeParse(payload)
  if (!env.success) throw new ValidationError(fieldErrorsOf(env.error.issues))
  const { event_type: eventType, data } = env.data
  const observedAt = timestampMs(env.data.timestamp)
  switch (eventType) {
    case 'stock_update':
    case 'stock_adjustment': {
      const d = eventType === 'stock_update' ? parseData(StockUpdateData, data) : { ...parseData(StockAdjustmentData, data), change_type: 'adjustment' }
      const changeType = parseUpdateChangeType(d.change_type, '/data/change_type')
      const quantity = changeType === 'sale' || changeType === 'restock' ? parseQuantity(d.quantity, '/data/quantity') : parseCount(d.quantity, '/data/quantity')
      const ids = await warehouseIdsByCode(deps, [d.warehouse_code])
      const res = await updateStock(
        deps,
        {
          sku: d.product_code,
          warehouseId: ids.get(d.warehouse_code)!,
          changeType,
          quantity,
          source: provider,
          referenceId: d.transaction_id,
          notes: d.notes ?? null,
          observedAt: changeType === 'sync' ? observedAt : undefined,
          isReportedByWarehouse: true,
        },
        ctx,
      )
      return { eventType, reference_id: d.transaction_id, data: movementJson(res.value) }
    }
    case 'inventory_sync': {
      const d = parseData(InventorySyncData, data)
      const ids = await warehouseIdsByCode(deps, d.items.map((i) => i.warehouse_code))
      const items = d.items.map((i) => ({ sku: i.product_code, warehouse_id: ids.get(i.warehouse_code)!, quantity: i.quantity }))
      const res = await bulkSync(deps, { items, source: provider, referenceId: d.sync_id ?? null, observedAt }, ctx)
      const r = res.value
      return { eventType, reference_id: d.sync_id ?? null, data: { applied: r.applied, stale: r.stale, unchanged: r.unchanged, rejected: r.rejected, results: r.items.map(bulkItemJson) } }
    }
    default:
      throw invalid('/event_type', 'must be stock_update, stock_adjustment or inventory_sync')
  }
}

function refuseSignature(c: Context, p: WebhookProvider, check: 'missing' | 'malformed' | 'mismatch'): Response {
  const how = `the ${p.encoding} HMAC-SHA256 of the raw body${p.prefix ? `, prefixed "${p.prefix}"` : ''}, in ${p.header}`
  const detail = check === 'missing' ? `Send ${how}` : check === 'malformed' ? `The signature is not ${how}` : 'The signature does not match the body'
  return problem(c, 'invalid_signature', detail, {}, { 'www-authenticate': `Signature header="${p.header}", algorithm="hmac-sha256", encoding="${p.encoding}"` })
}

export function registerWebhookRoutes(app: App, deps: AppDeps, providers: Readonly<Record<string, WebhookProvider>>): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhook/{provider}',
      tags: ['webhooks'],
      summary: 'Inbound webhook from a supply-side provider (signed with the provider\u2019s secret, no API key)',
      description:
        'The body is verified first: HMAC-SHA256 of the raw bytes under the provider\u2019s secret, in the provider\u2019s header ' +
        '(default X-Webhook-Signature, hex). warehouse_system_a events (stock_update, stock_adjustment, inventory_sync) are applied ' +
        'at once (200); other providers\u2019 payloads are stored and acknowledged (202).',
      security: [],
      request: { params: ProviderParam },
      responses: {
        200: { description: 'Applied (warehouse_system_a)' },
        202: { description: 'Verified and stored; mapping to movements comes later' },
        401: { ...PROBLEMS[401], description: 'webhook_not_configured, invalid_signature' },
        404: PROBLEMS[404],
        409: PROBLEMS[409],
        413: PROBLEMS[413],
        415: PROBLEMS[415],
        422: PROBLEMS[422],
      },
    }),
    async (c: Context<AppEnv>) => {
      const name = c.req.param('provider') ?? ''
      const provider = Object.hasOwn(providers, name) ? providers[name] : undefined
      if (!provider) return problem(c, 'webhook_not_configured', `No webhook secret is configured for provider "${name}"`, {}, { 'www-authenticate': 'Signature algorithm="hmac-sha256"' })
      const raw = new Uint8Array(await c.req.arrayBuffer())
      const check = verifyProviderSignature(provider, raw, c.req.header(provider.header))
      if (check !== 'ok') return refuseSignature(c, provider, check)

      // Verified: only now is the body looked at.
      if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return problem(c, 'unsupported_media_type', 'The body must be application/json')
      const depth = jsonDepth(raw)
      if (depth > MAX_JSON_DEPTH) return depthProblem(c, depth)
      let text: string
      let payload: unknown
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(raw)
        payload = JSON.parse(text)
      } catch {
        return problem(c, 'malformed_json', 'The body is not valid JSON')
      }
      const actor = `webhook:${name}`
      c.set('principal', { kind: 'webhook', actor, scopes: ['write'], warehouses: provider.warehouses, signed: true })
      const eventType = payload !== null && typeof payload === 'object' && typeof (payload as { event_type?: unknown }).event_type === 'string' ? (payload as { event_type: string }).event_type.slice(0, 100) : null

      if (name !== 'warehouse_system_a') {
        // TODO(#5 follow-up): map erp_system_b / supplier_portal_c payloads to movements.
        const id = await recordInboundWebhook(deps, name, eventType, 'accepted', text, undefined)
        return c.json({ success: true as const, message: 'Verified and stored; this provider\u2019s payloads are not mapped to stock movements yet', data: { id, provider: name, status: 'accepted' } }, 202)
      }
      const ctx: RequestContext = { actor, allowedWarehouses: provider.warehouses }
      try {
        const applied = await applyWarehouseSystemA(deps, name, payload, ctx)
        const id = await recordInboundWebhook(deps, name, eventType, 'processed', text, { reference_id: applied.reference_id })
        return c.json({ success: true as const, message: 'Stock updated', processed_at: new Date(deps.clock.now()).toISOString(), reference_id: applied.reference_id, webhook_id: id, data: applied.data }, 200)
      } catch (e) {
        if (e instanceof DomainError) await recordInboundWebhook(deps, name, eventType, 'rejected', text, { code: e.code, detail: e.message }).catch(() => {})
        throw e
      }
    },
  )
}
