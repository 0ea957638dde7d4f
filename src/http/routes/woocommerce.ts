/**
 * @module http/routes/woocommerce: where WooCommerce delivers webhooks,
 * `POST /inventory/v1/woocommerce/{store}/webhook`.
 *
 * Not behind an API key (WooCommerce cannot send one): each delivery is authenticated by its
 * `X-WC-Webhook-Signature`, checked over the raw bytes before anything is parsed. A good delivery
 * is stored and answered 200 at once; the hub works it off from a queue. The form-encoded ping
 * WooCommerce sends while creating a webhook is answered 200 and stored nowhere.
 */
import type { App, AppDeps } from '../env.js'
import { connectorFor } from '../../service/woocommerce-runtime.js'

export function registerWooCommerceWebhookRoute(app: App, deps: AppDeps, base: string): void {
  app.post(`${base}/woocommerce/:store/webhook`, async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer())
    const r = await connectorFor(deps).receive(c.req.param('store'), { get: (n) => c.req.header(n) }, raw)
    if (r.kind === 'ping') return c.json({ success: true as const, data: { ping: true, webhook_id: r.webhookId } }, 200)
    if (r.kind === 'ignored') return c.json({ success: true as const, data: { ignored: r.reason } }, 200)
    return c.json({ success: true as const, data: { received: r.id } }, 200)
  })
}
