/**
 * The emulator against ../shared/woocommerce/CONTRACT.md and its samples, driven through the
 * hub's own REST client (so both sides are checked against the same facts).
 */
import { createHmac } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { phpJson } from '../../emulator/woocommerce/php-json.js'
import { seedCatalog } from '../../emulator/woocommerce/seed.js'
import { WooEmulator } from '../../emulator/woocommerce/server.js'
import { oauthSignature, WooClient } from '../../src/connectors/woocommerce/client.js'
import { verifyWcSignature } from '../../src/connectors/woocommerce/webhooks.js'
import { selfSignedCert, until } from './support.js'

const SAMPLES = new URL('../../../shared/woocommerce/samples/', import.meta.url)
const samplesHere = fs.existsSync(SAMPLES)

describe.skipIf(!samplesHere)('the recorded samples', () => {
  it('signature test vectors verify over the raw bytes, and the emulator writes bodies byte for byte like PHP', () => {
    const deliveries = JSON.parse(fs.readFileSync(new URL('webhook-deliveries.json', SAMPLES), 'utf8')) as Array<{ secret: string; raw_body: string; headers: Record<string, string> }>
    expect(deliveries).toHaveLength(3)
    for (const d of deliveries) {
      expect(verifyWcSignature(d.secret, Buffer.from(d.raw_body), d.headers['X-WC-Webhook-Signature'])).toBe(true)
      expect(verifyWcSignature(d.secret, Buffer.from(JSON.stringify(JSON.parse(d.raw_body))), d.headers['X-WC-Webhook-Signature'])).toBe(false)
      expect(phpJson(JSON.parse(d.raw_body))).toBe(d.raw_body)
      expect(Buffer.byteLength(d.raw_body)).toBe(Number(d.headers['Content-Length']))
    }
  })

  it('renders products, variations, orders and webhooks with the keys of the samples', async () => {
    const emu = new WooEmulator({ homeUrl: 'http://shop.example.test' })
    const seeded = seedCatalog(emu.shop, { simple: 1, variable: 1, stock: 5 })
    const keys = (f: string) => Object.keys(JSON.parse(fs.readFileSync(new URL(f, SAMPLES), 'utf8')) as object).sort()
    expect(Object.keys(emu.shop.renderProduct(seeded.simple[0]!)).sort()).toEqual(keys('product-simple.json'))
    expect(Object.keys(emu.shop.renderProduct(seeded.parents[0]!)).sort()).toEqual(keys('variable-parent-create-response.json'))
    expect(Object.keys(emu.shop.renderVariation(seeded.variations[0]!)).sort()).toEqual(keys('variation-get.json'))
    expect(Object.keys(emu.shop.renderProduct(seeded.variations[0]!)).sort()).toEqual(keys('webhook-product-updated-variation-body.json'))
    const order = emu.shop.createOrder({ lines: [{ product: seeded.simple[0]!, quantity: 1 }] })
    expect(Object.keys(emu.shop.renderOrder(order)).sort()).toEqual(keys('order-create-response.json'))
    const w = emu.shop.createWebhook({ topic: 'order.created', deliveryUrl: 'http://hub.example.test/x' }, () => 's')
    expect(Object.keys(emu.shop.renderWebhook(w)).sort()).toEqual(keys('webhook-get.json'))
  })
})

describe('the emulator over the wire', () => {
  const stops: Array<() => Promise<unknown> | void> = []
  afterEach(async () => {
    for (const s of stops.splice(0)) await s()
  })

  async function shop(o: ConstructorParameters<typeof WooEmulator>[0] = {}) {
    const emu = new WooEmulator({ asyncDelayMs: 10, ...o })
    const key = emu.addKey('read_write')
    const seeded = seedCatalog(emu.shop, { simple: 25, variable: 2, stock: 10 })
    await emu.start()
    const client = new WooClient({ baseUrl: emu.url, consumerKey: key.consumerKey, consumerSecret: key.consumerSecret, ...(o.tls ? {} : {}) })
    stops.push(() => emu.stop(), () => client.close())
    return { emu, key, seeded, client }
  }

  it('over http only OAuth 1.0a works: Basic is ignored, bad signatures, reused nonces and stale timestamps are refused', async () => {
    const { emu, key, client } = await shop()
    expect((await client.request('GET', '/products')).status).toBe(200)
    const basic = await fetch(`${emu.url}/wp-json/wc/v3/products`, { headers: { authorization: `Basic ${Buffer.from(`${key.consumerKey}:${key.consumerSecret}`).toString('base64')}` } })
    expect(basic.status).toBe(401)
    expect(await basic.json()).toEqual({ code: 'woocommerce_rest_cannot_view', message: 'Sorry, you cannot list resources.', data: { status: 401 } })
    const anon = await fetch(`${emu.url}/wp-json/wc/v3/products/10?consumer_key=${key.consumerKey}&consumer_secret=${key.consumerSecret}`)
    expect(((await anon.json()) as { message: string }).message).toBe('Sorry, you cannot view this resource.')
    // A signed URL used twice: the nonce was used. An old timestamp: refused.
    const signedUrl = (ts: number, nonce: string) => {
      const base = `${emu.url}/wp-json/wc/v3/products`
      const params: Array<[string, string]> = [['per_page', '2'], ['oauth_consumer_key', key.consumerKey], ['oauth_nonce', nonce], ['oauth_signature_method', 'HMAC-SHA256'], ['oauth_timestamp', String(ts)]]
      const sig = oauthSignature('GET', base, params, key.consumerSecret)
      return `${base}?${new URLSearchParams([...params, ['oauth_signature', sig]]).toString()}`
    }
    const now = Math.floor(Date.now() / 1000)
    const once = signedUrl(now, 'n-1')
    expect((await fetch(once)).status).toBe(200)
    expect(((await (await fetch(once)).json()) as { message: string }).message).toBe('Invalid nonce - nonce has already been used.')
    expect(((await (await fetch(signedUrl(now - 3600, 'n-2'))).json()) as { message: string }).message).toBe('Invalid timestamp.')
    // The Link header repeats the request's oauth_* parameters.
    const page = await client.request('GET', '/products', { query: { per_page: '1' } })
    expect(String(page.headers.link)).toContain('oauth_nonce')
    const bad = new WooClient({ baseUrl: emu.url, consumerKey: key.consumerKey, consumerSecret: 'cs_wrong' })
    stops.push(() => bad.close())
    expect((await bad.request('GET', '/products')).body).toEqual({ code: 'woocommerce_rest_authentication_error', message: 'Invalid signature - provided signature does not match.', data: { status: 401 } })
    const unknown = new WooClient({ baseUrl: emu.url, consumerKey: 'ck_nobody', consumerSecret: 'cs' })
    stops.push(() => unknown.close())
    expect(((await unknown.request('GET', '/products')).body as { message: string }).message).toBe('Consumer key is invalid.')
    const route = await fetch(`${emu.url}/?rest_route=/wc/v3/products`)
    expect(route.status).toBe(401)
  })

  it('paginates with X-WP-Total, X-WP-TotalPages and Link; the client follows Link with a fresh nonce', async () => {
    const { client } = await shop()
    const first = await client.request<unknown[]>('GET', '/products', { query: { per_page: '10' } })
    expect(first.headers['x-wp-total']).toBe('27') // top-level only: 25 simple + 2 variable
    expect(first.headers['x-wp-totalpages']).toBe('3')
    expect(first.body).toHaveLength(10)
    const all = await client.getAll<{ id: number }>('/products', { per_page: '10' })
    expect(all).toHaveLength(27)
    const past = await client.request<unknown[]>('GET', '/products', { query: { page: '9' } })
    expect([past.status, past.body, past.headers['x-wp-total']]).toEqual([200, [], '27'])
    const tooMany = await client.request<{ code: string; data: { params: Record<string, string> } }>('GET', '/products', { query: { per_page: '101' } })
    expect(tooMany.status).toBe(400)
    expect(tooMany.body.data.params.per_page).toBe('per_page must be between 1 (inclusive) and 100 (inclusive)')
  })

  it('?sku= lists find variations too, case-insensitively, skipping unknown SKUs', async () => {
    const { client, seeded } = await shop()
    const v = seeded.variations[1]!
    const r = await client.request<Array<{ id: number; type: string; parent_id: number; sku: string }>>('GET', '/products', { query: { sku: `${seeded.simple[0]!.sku.toLowerCase()},${v.sku},NOPE` } })
    expect(r.body.map((p) => [p.sku, p.type, p.parent_id]).sort()).toEqual([
      [seeded.simple[0]!.sku, 'simple', 0],
      [v.sku, 'variation', v.parentId],
    ].sort())
  })

  it('batches: 100 items at most (413 applies nothing), per-item errors inside a 200, silent coercion', async () => {
    const { client, seeded, emu } = await shop()
    const s = seeded.simple
    const over = await client.request('POST', '/products/batch', { body: { update: Array.from({ length: 101 }, () => ({ id: s[0]!.id, stock_quantity: 1 })) } })
    expect(over.status).toBe(413)
    expect((over.body as { code: string }).code).toBe('woocommerce_rest_request_entity_too_large')
    expect(s[0]!.stockQuantity).toBe(10)
    const v = seeded.variations[0]!
    const res = await client.request<{ update: Array<{ id: number | null; stock_quantity?: number; error?: { code: string; data: { status: number } } }> }>('POST', '/products/batch', {
      body: { update: [{ id: s[0]!.id, stock_quantity: 'abc' }, { id: s[1]!.id, stock_quantity: 7.5 }, { id: 999_999, stock_quantity: 1 }, { stock_quantity: 1 }, { id: v.id, stock_quantity: 1 }, { id: s[2]!.id, stock_quantity: '9' }] },
    })
    expect(res.status).toBe(200)
    const u = res.body.update
    expect([u[0]!.stock_quantity, u[1]!.stock_quantity, u[5]!.stock_quantity]).toEqual([0, 7, 9])
    expect([u[2]!.error?.code, u[2]!.error?.data.status, u[3]!.id, u[3]!.error?.code]).toEqual(['woocommerce_rest_product_invalid_id', 400, null, 'woocommerce_rest_product_invalid_id'])
    expect([u[4]!.error?.code, u[4]!.error?.data.status]).toEqual(['woocommerce_rest_invalid_product_id', 404])
    const single = await client.request<{ code: string }>('PUT', `/products/${s[3]!.id}`, { body: { stock_quantity: 7.5 } })
    expect([single.status, single.body.code]).toEqual([400, 'rest_invalid_param'])
    const vb = await client.request<{ update: Array<{ stock_quantity: number; error?: { code: string } }> }>('POST', `/products/${v.parentId}/variations/batch`, { body: { update: [{ id: v.id, stock_quantity: 4 }, { id: s[0]!.id, stock_quantity: 4 }] } })
    expect([vb.body.update[0]!.stock_quantity, vb.body.update[1]!.error?.code]).toEqual([4, 'woocommerce_rest_product_variation_invalid_id'])
    expect(emu.batchRequests().map((r) => r.items)).toEqual([101, 6, 2])
    const missing = await client.request<{ code: string }>('GET', '/products/999999')
    expect([missing.status, missing.body.code]).toEqual([404, 'woocommerce_rest_product_invalid_id'])
    const badJson = await fetch(`${emu.url}/wp-json/wc/v3/products/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
    expect([badJson.status, ((await badJson.json()) as { code: string }).code]).toEqual([400, 'rest_invalid_json'])
  })

  it('orders move stock on processing and cancelled; webhooks are signed, async, coalesced, with non-unique ids, disabled after 7 failures', async () => {
    const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = []
    let answer = 200
    const hook = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
        res.writeHead(answer).end()
      })
    })
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
    stops.push(() => new Promise<void>((r) => hook.close(() => r())))
    const { emu, client, seeded } = await shop({ webhookMode: 'async', asyncDelayMs: 100 })
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`
    const created = await client.request<{ id: number; status: string }>('POST', '/webhooks', { body: { topic: 'order.updated', delivery_url: url, secret: 'sekrit' } })
    expect(created.status).toBe(201)
    expect(created.body).not.toHaveProperty('secret')
    // The synchronous ping: form-encoded, unsigned, no X-WC headers.
    expect(received[0]!.body).toBe(`webhook_id=${created.body.id}`)
    expect(received[0]!.headers['x-wc-webhook-signature']).toBeUndefined()
    const p = seeded.simple[4]!
    const order = await client.request<{ id: number; status: string }>('POST', '/orders', { body: { line_items: [{ product_id: p.id, quantity: 3 }] } })
    expect([order.status, order.body.status]).toEqual([201, 'pending'])
    expect(p.stockQuantity).toBe(10)
    await client.request('PUT', `/orders/${order.body.id}`, { body: { status: 'processing' } })
    expect(p.stockQuantity).toBe(7)
    await client.request('PUT', `/orders/${order.body.id}`, { body: { status: 'completed' } })
    expect(p.stockQuantity).toBe(7)
    await client.request('PUT', `/orders/${order.body.id}`, { body: { status: 'cancelled' } })
    expect(p.stockQuantity).toBe(10)
    // Four changes within the delay: one delivery, showing the state at delivery time.
    await until(() => received.length >= 2, 3000, 'the delivery')
    await new Promise((r) => setTimeout(r, 300))
    expect(received).toHaveLength(2)
    const d = received[1]!
    expect(JSON.parse(d.body)).toMatchObject({ id: order.body.id, status: 'cancelled' })
    expect(d.headers['x-wc-webhook-signature']).toBe(createHmac('sha256', 'sekrit').update(d.body).digest('base64'))
    expect(d.headers['x-wc-webhook-topic']).toBe('order.updated')
    expect(d.headers['x-wc-webhook-delivery-id']).toMatch(/^[0-9a-f]{32}$/)
    // Two orders in the same second: the same delivery id.
    emu.asyncDelayMs = 0
    const o1 = emu.shop.createOrder({ lines: [{ product: p, quantity: 1 }] })
    const o2 = emu.shop.createOrder({ lines: [{ product: p, quantity: 1 }] })
    await emu.flushWebhooks()
    const ids = emu.deliveries.filter((x) => x.resourceId === o1.id || x.resourceId === o2.id)
    expect(ids).toHaveLength(2)
    if (Math.floor(ids[0]!.at / 1000) === Math.floor(ids[1]!.at / 1000)) expect(ids[0]!.deliveryId).toBe(ids[1]!.deliveryId)
    // Seven failures in a row disable the webhook.
    answer = 500
    for (let i = 0; i < 7; i++) {
      emu.shop.setOrderStatus(o1, i % 2 ? 'on-hold' : 'processing')
      await emu.flushWebhooks()
    }
    expect(emu.shop.webhooks.get(created.body.id)!.status).toBe('disabled')
    const before = received.length
    emu.shop.setOrderStatus(o1, 'completed')
    await emu.flushWebhooks()
    expect(received.length).toBe(before)
  })

  it('over https Basic works (self-signed, trusted through a CA file); OAuth parameters are not needed', async () => {
    const tls = selfSignedCert()
    if (!tls) return
    const emu = new WooEmulator({ tls: { key: tls.key, cert: tls.cert } })
    const key = emu.addKey('read_write')
    seedCatalog(emu.shop, { simple: 3 })
    await emu.start()
    stops.push(() => emu.stop())
    expect(emu.url).toMatch(/^https:/)
    const client = new WooClient({ baseUrl: emu.url, consumerKey: key.consumerKey, consumerSecret: key.consumerSecret, caFile: tls.certFile })
    const wrong = new WooClient({ baseUrl: emu.url, consumerKey: key.consumerKey, consumerSecret: 'cs_wrong', caFile: tls.certFile })
    const untrusted = new WooClient({ baseUrl: emu.url, consumerKey: key.consumerKey, consumerSecret: key.consumerSecret })
    stops.push(() => client.close(), () => wrong.close(), () => untrusted.close())
    expect(client.authKind).toBe('basic')
    expect((await client.request<unknown[]>('GET', '/products')).body).toHaveLength(3)
    expect((await wrong.request('GET', '/products')).body).toMatchObject({ code: 'woocommerce_rest_authentication_error', message: 'Consumer secret is invalid.' })
    await expect(untrusted.request('GET', '/products')).rejects.toThrow()
  })
})
