/**
 * @module http/routes/woocommerce: where WooCommerce delivers webhooks,
 * `POST /inventory/v1/woocommerce/{store}/webhook`.
 *
 * Not behind an API key (WooCommerce cannot send one): each delivery is authenticated by its
 * `X-WC-Webhook-Signature`, checked over the raw bytes before anything is parsed. A good delivery
 * is stored and answered 200 at once; the hub works it off from a queue. The form-encoded ping
 * WooCommerce sends while creating a webhook is answered 200 and stored nowhere.
 */
import { z } from '@hono/zod-openapi'
import type { App, AppDeps } from '../env.js'
import { connectorFor } from '../../service/woocommerce-runtime.js'

/**
 * The route in the OpenAPI document. It is served outside the validated API (the body must stay
 * raw bytes for the signature), so it is described here rather than through createRoute.
 */
export function documentWooCommerceWebhookRoute(api: App): void {
  const answer = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' as const, properties: { success: { type: 'boolean' as const }, data: { type: 'object' as const } } } } } })
  const refused = (description: string) => ({ description, content: { 'application/problem+json': { schema: { type: 'object' as const } } } })
  api.openAPIRegistry.registerPath({
    method: 'post',
    path: '/woocommerce/{store}/webhook',
    tags: ['WooCommerce'],
    summary: 'Where a WooCommerce store delivers its webhooks (order.created, order.updated, product.updated)',
    description:
      'Set up by `stockbridge stores webhooks <store> --callback-url URL` or POST /stores/{store}/webhooks. No API key: each delivery is authenticated by X-WC-Webhook-Signature (base64 HMAC-SHA256 of the raw body under the secret the hub gave the store). A good delivery is stored and answered 200 at once, then applied from a queue. The unsigned form-encoded ping (webhook_id=N) is answered 200 and stores nothing.',
    security: [],
    request: {
      params: z.object({ store: z.string().openapi({ description: 'store id (sto_…) or name', example: 'shop1' }) }),
      headers: z.object({
        'x-wc-webhook-signature': z.string().optional().openapi({ description: 'base64 HMAC-SHA256 of the raw body' }),
        'x-wc-webhook-topic': z.string().optional().openapi({ example: 'order.updated' }),
      }),
      body: {
        required: true,
        content: {
          'application/json': { schema: { type: 'object', description: 'the WooCommerce order or product, as GET /wc/v3/{resource}s/{id} returns it' } },
          'application/x-www-form-urlencoded': { schema: { type: 'object', properties: { webhook_id: { type: 'string' } } } },
        },
      },
    },
    responses: {
      200: answer('Stored for processing ({received: id}), a ping ({ping: true}), or a topic the hub does not act on ({ignored: reason})'),
      400: refused('The body is not JSON'),
      401: refused('Missing or wrong signature, or the store has no webhook secret yet'),
      404: refused('No such store'),
      422: refused('Not a WooCommerce object (an order needs id, status and line_items)'),
    },
  })
}

export function registerWooCommerceWebhookRoute(app: App, deps: AppDeps, base: string): void {
  app.post(`${base}/woocommerce/:store/webhook`, async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer())
    const r = await connectorFor(deps).receive(c.req.param('store'), { get: (n) => c.req.header(n) }, raw)
    if (r.kind === 'ping') return c.json({ success: true as const, data: { ping: true, webhook_id: r.webhookId } }, 200)
    if (r.kind === 'ignored') return c.json({ success: true as const, data: { ignored: r.reason } }, 200)
    return c.json({ success: true as const, data: { received: r.id } }, 200)
  })
}
