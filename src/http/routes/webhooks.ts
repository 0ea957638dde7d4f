/**
 * @module http/routes/webhooks: inbound provider webhooks, `POST /inventory/v1/webhook/{provider}`
 * (the seed's route, #5, #14). No API key: the provider proves itself with an HMAC-SHA256 of the
 * raw body under its own secret, in its own header and encoding (README, Security). The signature
 * is checked on the raw bytes before anything reads them as JSON; no such provider → 401.
 * Once verified, the provider's JSONata mapping turns the payload into movements, applied through
 * the stock services with one outcome per item (service/providers.ts).
 */
import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { DomainError } from '../../domain/errors.js'
import { verifyProviderSignature, type SignatureRule } from '../../security/provider-signature.js'
import type { RequestContext } from '../../service/deps.js'
import { recordInboundWebhook } from '../../service/inbound-webhooks.js'
import { findInboundProvider, receiveProviderPayload, summaryOf, type ProviderOptions } from '../../service/providers.js'
import type { App, AppDeps, AppEnv } from '../env.js'
import { depthProblem, jsonDepth, MAX_JSON_DEPTH } from '../middleware/body.js'
import { problem } from '../problem.js'
import { markReplay } from '../request-context.js'
import { PROBLEMS } from '../responses.js'

export const WEBHOOK_PATH_PREFIX = '/webhook/'

const ProviderParam = z.object({
  provider: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).openapi({ param: { name: 'provider', in: 'path' }, example: 'warehouse_system_a' }),
})

export const ItemOutcomeSchema = z
  .object({
    index: z.number().int().openapi({ description: 'Position in the mapped movements' }),
    sku: z.string().nullable(),
    external_sku: z.string().optional().openapi({ description: 'The provider\u2019s SKU, when an alias mapped it to ours' }),
    warehouse_id: z.number().int().nullable(),
    change_type: z.string().nullable(),
    status: z.enum(['applied', 'unchanged', 'stale', 'held', 'refused']),
    previous: z.number().int().optional(),
    current: z.number().int().optional(),
    movement_id: z.number().int().optional(),
    held_id: z.string().optional(),
    code: z.string().optional(),
    detail: z.string().optional(),
  })
  .openapi('ProviderItemOutcome')

const WebhookResultSchema = z
  .object({
    success: z.boolean().openapi({ description: 'true when no item was refused' }),
    message: z.string(),
    webhook_id: z.string(),
    event_id: z.string(),
    replayed: z.boolean(),
    data: z.object({ event_id: z.string(), applied: z.number().int(), unchanged: z.number().int(), stale: z.number().int(), held: z.number().int(), refused: z.number().int(), results: z.array(ItemOutcomeSchema) }),
  })
  .openapi('ProviderWebhookResult')

function refuseSignature(c: Context, p: SignatureRule, check: 'missing' | 'malformed' | 'mismatch'): Response {
  const how = `the ${p.encoding} HMAC-SHA256 of the raw body${p.prefix ? `, prefixed "${p.prefix}"` : ''}, in ${p.header}`
  const detail = check === 'missing' ? `Send ${how}` : check === 'malformed' ? `The signature is not ${how}` : 'The signature does not match the body'
  return problem(c, 'invalid_signature', detail, {}, { 'www-authenticate': `Signature header="${p.header}", algorithm="hmac-sha256", encoding="${p.encoding}"` })
}

export function registerWebhookRoutes(app: App, deps: AppDeps, opts: ProviderOptions): void {
  app.openAPIRegistry.register('ProviderWebhookResult', WebhookResultSchema)
  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhook/{provider}',
      tags: ['webhooks'],
      summary: 'Inbound webhook from a supply-side provider (signed with the provider\u2019s secret, no API key)',
      description:
        'The body is verified first: HMAC-SHA256 of the raw bytes under the provider\u2019s secret, in the provider\u2019s header ' +
        '(default X-Webhook-Signature, hex). The provider\u2019s JSONata mapping then turns it into movements, applied in one ' +
        'transaction with one outcome per item (applied, unchanged, stale, held, refused with a code). A redelivered event ' +
        'returns its first answer and changes nothing. A payload the mapping cannot handle is 422 mapping_failed, with where it failed.',
      security: [],
      request: { params: ProviderParam },
      responses: {
        200: { description: 'Every item processed (ProviderWebhookResult); `success` is false when any was refused' },
        401: { ...PROBLEMS[401], description: 'webhook_not_configured, invalid_signature' },
        413: PROBLEMS[413],
        415: PROBLEMS[415],
        422: { ...PROBLEMS[422], description: 'mapping_failed (with mapping_error: code, position, token), malformed payload' },
      },
    }),
    async (c: Context<AppEnv>) => {
      const name = c.req.param('provider') ?? ''
      const provider = await findInboundProvider(deps, opts, name)
      if (!provider) return problem(c, 'webhook_not_configured', `No webhook secret is configured for provider "${name.slice(0, 64)}"`, {}, { 'www-authenticate': 'Signature algorithm="hmac-sha256"' })
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
      const ctx: RequestContext = { actor, allowedWarehouses: provider.warehouses }
      try {
        const res = await receiveProviderPayload(deps, provider, text, ctx)
        const r = res.value
        const id = await recordInboundWebhook(deps, name, eventType, 'processed', text, { ...summaryOf(r), replayed: res.replayed })
        markReplay(c, res)
        const message = res.replayed
          ? `Event ${r.event_id} was already processed; this is its first answer and nothing changed`
          : `${r.applied} applied, ${r.unchanged} unchanged, ${r.stale} stale, ${r.held} held, ${r.refused} refused`
        return c.json({ success: r.refused === 0, message, webhook_id: id, event_id: r.event_id, replayed: res.replayed, data: r }, 200)
      } catch (e) {
        if (e instanceof DomainError) await recordInboundWebhook(deps, name, eventType, 'rejected', text, { code: e.code, detail: e.message }).catch(() => {})
        throw e
      }
    },
  )
}
