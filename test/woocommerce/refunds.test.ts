/**
 * Refunds and order edits (#12 item 14). WooCommerce puts refunded units back into its own stock
 * (api_restock defaults to true) and says so on the order line: `_restock_refunded_items` grows,
 * `_reduced_stock` shrinks. The hub records the same return exactly once per unit, for partial and
 * full refunds; a refund without restock moves nothing; an edited line quantity moves the
 * difference. Checked against the recorded WooCommerce 10 delivery and against the emulator,
 * which behaves the same over its REST API.
 */
import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { phpJson } from '../../emulator/woocommerce/php-json.js'
import { seedCatalog } from '../../emulator/woocommerce/seed.js'
import { WooEmulator, wcWebhookSignature } from '../../emulator/woocommerce/server.js'
import { WooClient } from '../../src/connectors/woocommerce/client.js'
import { createProduct } from '../../src/service/catalog.js'
import { getStock } from '../../src/service/stock.js'
import { findStore } from '../../src/store/woo-repo.js'
import { DATABASES } from '../support/databases.js'
import { connectStore, registerSkus, setCounts, startHub, startShop, stockOf, until, type Hub, type Shop } from './support.js'

const SAMPLES = new URL('../../../shared/woocommerce/samples/', import.meta.url)
const sample = fs.existsSync(new URL('webhook-refund-restock-deliveries.json', SAMPLES))
  ? (JSON.parse(fs.readFileSync(new URL('webhook-refund-restock-deliveries.json', SAMPLES), 'utf8')) as Array<{ topic: string; raw_body: string }>)
  : null

type Line = { id: number; quantity: number; meta_data: Array<{ key: string; value: string }> }
const metaOf = (l: Line) => Object.fromEntries(l.meta_data.filter((m) => m.key.startsWith('_')).map((m) => [m.key, m.value]))

describe('the emulator: refunds and line edits as WooCommerce 10 does them', () => {
  const stops: Array<() => Promise<unknown> | void> = []
  afterEach(async () => {
    for (const s of stops.splice(0)) await s()
  })

  async function shop() {
    const emu = new WooEmulator({ webhookMode: 'manual' })
    const key = emu.addKey('read_write')
    const seeded = seedCatalog(emu.shop, { simple: 2, variable: 0, stock: 20 })
    await emu.start()
    const client = new WooClient({ baseUrl: emu.url, consumerKey: key.consumerKey, consumerSecret: key.consumerSecret })
    stops.push(() => emu.stop(), () => client.close())
    return { emu, seeded, client, product: seeded.simple[0]! }
  }

  it('a restocking partial refund puts units back and marks the line; without restock nothing moves; the last one refunds the order', async () => {
    const { emu, client, product } = await shop()
    const created = await client.request<{ id: number; line_items: Line[] }>('POST', '/orders', { body: { set_paid: true, line_items: [{ product_id: product.id, quantity: 3 }] } })
    expect(created.status).toBe(201)
    const order = created.body
    const lineId = order.line_items[0]!.id
    expect(product.stockQuantity).toBe(17)
    expect(metaOf(order.line_items[0]!)).toEqual({ _reduced_stock: '3' })

    const refund = await client.request<{ line_items: Array<{ quantity: number; meta_data: Array<{ key: string; value: string }> }> }>('POST', `/orders/${order.id}/refunds`, { body: { amount: '9.00', line_items: [{ id: lineId, quantity: 1, refund_total: 9 }] } })
    expect(refund.status).toBe(201)
    expect(refund.body.line_items[0]).toMatchObject({ quantity: -1, meta_data: [{ key: '_refunded_item_id', value: String(lineId) }] })
    expect(product.stockQuantity).toBe(18)
    const after = (await client.request<{ status: string; line_items: Line[]; refunds: Array<{ total: string }> }>('GET', `/orders/${order.id}`)).body
    expect(after.status).toBe('processing')
    expect(after.line_items[0]!.quantity).toBe(3)
    expect(metaOf(after.line_items[0]!)).toEqual({ _reduced_stock: '2', _restock_refunded_items: '1' })
    expect(after.refunds).toEqual([{ id: expect.any(Number), reason: '', total: '-9.00' }])
    if (sample) {
      // The same line meta keys as the recorded order.updated.
      const recorded = JSON.parse(sample.find((d) => d.topic === 'order.updated')!.raw_body) as { line_items: Line[]; refunds: unknown[] }
      expect(Object.keys(metaOf(after.line_items[0]!)).sort()).toEqual(Object.keys(metaOf(recorded.line_items[0]!)).sort())
      expect(Object.keys(after.refunds[0]!).sort()).toEqual(Object.keys(recorded.refunds[0] as object).sort())
    }

    const noRestock = await client.request('POST', `/orders/${order.id}/refunds`, { body: { api_restock: false, line_items: [{ id: lineId, quantity: 1, refund_total: 9 }] } })
    expect(noRestock.status).toBe(201)
    expect(product.stockQuantity).toBe(18)
    expect(metaOf((await client.request<{ line_items: Line[] }>('GET', `/orders/${order.id}`)).body.line_items[0]!)).toEqual({ _reduced_stock: '2', _restock_refunded_items: '1' })

    expect((await client.request('POST', `/orders/${order.id}/refunds`, { body: { line_items: [{ id: lineId, quantity: 2, refund_total: 18 }] } })).status).toBe(400)
    expect((await client.request('POST', `/orders/${order.id}/refunds`, { body: { amount: '50.00' } })).status).toBe(500)
    const last = await client.request('POST', `/orders/${order.id}/refunds`, { body: { line_items: [{ id: lineId, quantity: 1, refund_total: 9 }] } })
    expect(last.status).toBe(201)
    expect(product.stockQuantity).toBe(19)
    const refunded = (await client.request<{ status: string; line_items: Line[]; refunds: unknown[] }>('GET', `/orders/${order.id}`)).body
    expect(refunded.status).toBe('refunded')
    // One unit was refunded without restock: it is still counted as taken.
    expect(metaOf(refunded.line_items[0]!)).toEqual({ _reduced_stock: '1', _restock_refunded_items: '2' })
    expect(refunded.refunds).toHaveLength(3)
    expect((await client.request<unknown[]>('GET', `/orders/${order.id}/refunds`)).body).toHaveLength(3)
    expect(emu.queuedWebhooks()).toBe(0) // no webhooks registered in this shop
  })

  it('editing a paid line moves the difference; cancelling after a partial refund puts back only what is still taken', async () => {
    const { client, product } = await shop()
    const order = (await client.request<{ id: number; line_items: Line[] }>('POST', '/orders', { body: { set_paid: true, line_items: [{ product_id: product.id, quantity: 2 }] } })).body
    const lineId = order.line_items[0]!.id
    expect(product.stockQuantity).toBe(18)
    expect((await client.request('PUT', `/orders/${order.id}`, { body: { line_items: [{ id: lineId, quantity: 5 }] } })).status).toBe(200)
    expect(product.stockQuantity).toBe(15)
    expect((await client.request('PUT', `/orders/${order.id}`, { body: { line_items: [{ id: lineId, quantity: 4 }] } })).status).toBe(200)
    expect(product.stockQuantity).toBe(16)
    await client.request('POST', `/orders/${order.id}/refunds`, { body: { line_items: [{ id: lineId, quantity: 1, refund_total: 9 }] } })
    expect(product.stockQuantity).toBe(17)
    await client.request('PUT', `/orders/${order.id}`, { body: { status: 'cancelled' } })
    expect(product.stockQuantity).toBe(20)
    expect((await client.request('PUT', `/orders/${order.id}`, { body: { line_items: [{ id: 999_999, quantity: 1 }] } })).status).toBe(400)
  })
})

for (const { name, skipReason } of DATABASES) {
  describe.skipIf(skipReason !== null)(`the hub records refunds and edits (${name})`, () => {
    let hub: Hub | null = null
    let shop: Shop | null = null
    afterEach(async () => {
      await hub?.close()
      await shop?.emu.stop()
      hub = null
      shop = null
    })

    async function setup() {
      hub = await startHub(name, { driftGraceMs: 400 })
      shop = await startShop({ simple: 2, variable: 0, webhookMode: 'manual' })
      await registerSkus(hub, shop.seeded.skus, () => [3, 10])
      const store = await connectStore(hub, shop)
      await hub.woo.map('shop1')
      await hub.woo.registerWebhooks('shop1', hub.url)
      await hub.woo.sync('shop1')
      const client = new WooClient({ baseUrl: shop.emu.url, consumerKey: shop.key.consumerKey, consumerSecret: shop.key.consumerSecret })
      const secret = (await findStore(hub.deps.store.db, store.id))!.webhookSecret!
      const post = (body: unknown, topic = 'order.updated') => {
        const raw = typeof body === 'string' ? body : phpJson(body)
        return fetch(`${hub!.url}/inventory/v1/woocommerce/shop1/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-wc-webhook-topic': topic, 'x-wc-webhook-signature': wcWebhookSignature(secret, raw) }, body: raw })
      }
      /** Deliver what the shop queued, then work it off. */
      const deliver = async () => {
        await shop!.emu.flushWebhooks()
        await hub!.woo.processor.drain()
      }
      return { hub, shop, client, post, deliver }
    }
    const onHand = async (h: Hub, sku: string) => (await getStock(h.deps, sku)).totals.onHand

    it('partial, repeated and full restocking refunds through the store\u2019s REST API and its deliveries: each unit returns once', async () => {
      const { hub, shop, client, post, deliver } = await setup()
      const p = shop.seeded.simple[0]!
      const order = (await client.request<{ id: number; line_items: Line[] }>('POST', '/orders', { body: { set_paid: true, line_items: [{ product_id: p.id, quantity: 3 }] } })).body
      const lineId = order.line_items[0]!.id
      await deliver()
      expect(await onHand(hub, p.sku)).toBe(10)

      await client.request('POST', `/orders/${order.id}/refunds`, { body: { line_items: [{ id: lineId, quantity: 1, refund_total: 9 }] } })
      await deliver()
      expect(await onHand(hub, p.sku)).toBe(11)
      // The same delivery again (WooCommerce repeats bodies; they carry the cumulative count): nothing more.
      const body = (await client.request('GET', `/orders/${order.id}`)).body
      expect((await post(body)).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await onHand(hub, p.sku)).toBe(11)

      // A refund without restock: the store keeps its figure, so does the hub.
      await client.request('POST', `/orders/${order.id}/refunds`, { body: { api_restock: false, line_items: [{ id: lineId, quantity: 1, refund_total: 9 }] } })
      await deliver()
      expect(await onHand(hub, p.sku)).toBe(11)

      // The last unit, refunded with restock: the order becomes refunded, and the unit returns once.
      await client.request('POST', `/orders/${order.id}/refunds`, { body: { line_items: [{ id: lineId, quantity: 1, refund_total: 9 }] } })
      expect(shop.emu.shop.orders.get(order.id)!.status).toBe('refunded')
      await deliver()
      expect(await onHand(hub, p.sku)).toBe(12)
      // The store agrees once the hub's figure is pushed: nothing for the reconciler to erase.
      hub.worker.start()
      await until(() => stockOf(shop, p.sku) === 12, 10_000, 'the store at 12')
      const run = await hub.woo.reconcile('shop1', { dryRun: true })
      expect(run.drift).toBe(0)
      const ledger = await hub.deps.store.db.selectFrom('ledger_entry').select(['change_type', 'quantity', 'notes']).where('sku', '=', p.sku).where('reference_id', '=', `${order.id}:${lineId}`).orderBy('id').execute()
      expect(ledger.map((e) => [e.change_type, Number(e.quantity)])).toEqual([
        ['sale', 3],
        ['restock', 1],
        ['restock', 1],
      ])
      expect(ledger[1]!.notes).toMatch(/refund restocked 1/)
    })

    it('a refunded order seen first already refunded sells and returns in one go; without a reduction it closes', async () => {
      const { hub, shop, client, post } = await setup()
      const p = shop.seeded.simple[1]!
      const order = (await client.request<{ id: number; line_items: Line[] }>('POST', '/orders', { body: { set_paid: true, line_items: [{ product_id: p.id, quantity: 2 }] } })).body
      await client.request('POST', `/orders/${order.id}/refunds`, { body: { line_items: [{ id: order.line_items[0]!.id, quantity: 2, refund_total: 18 }] } })
      // Coalesced: the only delivery already shows refunded, with both units restocked.
      expect((await post((await client.request('GET', `/orders/${order.id}`)).body, 'order.created')).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await onHand(hub, p.sku)).toBe(13)
      // A pending order refunded before it took stock: no meta, nothing moves, nothing stays reserved.
      const pending = (await client.request<{ id: number }>('POST', '/orders', { body: { line_items: [{ product_id: p.id, quantity: 1 }] } })).body
      await post((await client.request('GET', `/orders/${pending.id}`)).body, 'order.created')
      await hub.woo.processor.drain()
      expect((await getStock(hub.deps, p.sku)).totals.reserved).toBe(1)
      const o = shop.emu.shop.orders.get(pending.id)!
      o.modifiedAt += 2000
      shop.emu.shop.setOrderStatus(o, 'refunded')
      await post(shop.emu.shop.renderOrder(o))
      await hub.woo.processor.drain()
      expect(await getStock(hub.deps, p.sku).then((v) => v.totals)).toMatchObject({ onHand: 13, reserved: 0 })
    })

    it('quantity edits of a paid order move the difference, from the warehouses the sale used; a cancel after a refund returns the rest', async () => {
      const { hub, shop, client, deliver } = await setup()
      const p = shop.seeded.simple[0]!
      const levels = async () => (await getStock(hub.deps, p.sku)).levels.map((l) => l.onHand)
      const order = (await client.request<{ id: number; line_items: Line[] }>('POST', '/orders', { body: { set_paid: true, line_items: [{ product_id: p.id, quantity: 2 }] } })).body
      const lineId = order.line_items[0]!.id
      await deliver()
      expect(await levels()).toEqual([1, 10])
      const edit = async (quantity: number) => {
        shop.emu.shop.orders.get(order.id)!.modifiedAt += 2000
        expect((await client.request('PUT', `/orders/${order.id}`, { body: { line_items: [{ id: lineId, quantity }] } })).status).toBe(200)
        await deliver()
      }
      await edit(5) // 3 more: 1 from BER, 2 from HAM
      expect(await levels()).toEqual([0, 8])
      await edit(4) // 1 back, to HAM (the last units taken)
      expect(await levels()).toEqual([0, 9])
      await client.request('POST', `/orders/${order.id}/refunds`, { body: { line_items: [{ id: lineId, quantity: 1, refund_total: 9 }] } })
      await deliver()
      expect(await levels()).toEqual([0, 10])
      shop.emu.shop.orders.get(order.id)!.modifiedAt += 2000
      await client.request('PUT', `/orders/${order.id}`, { body: { status: 'cancelled' } })
      await deliver()
      expect(await levels()).toEqual([3, 10])
      expect(shop.emu.shop.products.get(p.id)!.stockQuantity).toBe(13)
    })

    it.skipIf(sample === null)('the recorded WooCommerce 10 delivery of a restocking partial refund: sold 3, returned 1', async () => {
      const { hub, post } = await setup()
      await createProduct(hub.deps, { sku: 'SYNC-S-011', productId: 777_001, parentId: null, name: null, allowsBackorders: false, safetyStock: 0, lowStockThreshold: 0 })
      await setCounts(hub, [{ sku: 'SYNC-S-011', warehouse_id: hub.warehouses[0]!.id, quantity: 20 }])
      const raw = sample!.find((d) => d.topic === 'order.updated')!.raw_body
      expect((await post(raw)).status).toBe(200)
      expect((await post(raw)).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await onHand(hub, 'SYNC-S-011')).toBe(18)
    })
  })
}
