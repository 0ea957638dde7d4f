/**
 * Orders placed in a WooCommerce store (the emulator) move the hub's stock exactly once per line
 * and state, whatever the deliveries do: duplicated, reordered, late (a body already in a later
 * state). Echoes of the hub's own pushes change nothing; bad deliveries are refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { phpJson } from '../../emulator/woocommerce/php-json.js'
import { wcWebhookSignature } from '../../emulator/woocommerce/server.js'
import { registry } from '../../src/observability/metrics.js'
import { getStock } from '../../src/service/stock.js'
import { findStore, listWebhookDeliveries } from '../../src/store/woo-repo.js'
import { DATABASES } from '../support/databases.js'
import { connectStore, registerSkus, startHub, startShop, stockOf, until, type Hub, type Shop } from './support.js'

/** stockbridge_movements_total by change_type/outcome (#15: order movements count too). */
async function movements(): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const v of (await registry.getSingleMetric('stockbridge_movements_total')!.get()).values) out.set(`${v.labels.change_type}/${v.labels.outcome}`, v.value)
  return out
}

async function totals(hub: Hub, sku: string) {
  const v = await getStock(hub.deps, sku)
  return { onHand: v.totals.onHand, reserved: v.totals.reserved }
}

for (const { name, skipReason } of DATABASES) {
  describe.skipIf(skipReason !== null)(`WooCommerce orders (${name})`, () => {
    let hub: Hub | null = null
    let shop: Shop | null = null
    afterEach(async () => {
      await hub?.close()
      await shop?.emu.stop()
      hub = null
      shop = null
    })

    async function setup(mode: 'async' | 'manual') {
      hub = await startHub(name, { driftGraceMs: 400 })
      shop = await startShop({ simple: 2, variable: 1, webhookMode: mode })
      await registerSkus(hub, shop.seeded.skus, () => [3, 10])
      await connectStore(hub, shop)
      await hub.woo.map('shop1')
      const reg = await hub.woo.registerWebhooks('shop1', hub.url)
      expect(reg.webhooks.map((w) => w.topic).sort()).toEqual(['order.created', 'order.updated', 'product.updated'])
      await hub.woo.sync('shop1')
      hub.worker.start()
      // With manual deliveries the test drains the queue itself, so it knows when work is done.
      if (mode === 'async') hub.woo.processor.start()
      return { hub, shop }
    }

    it('a whole life, pending → processing → cancelled, through real deliveries; echoes change nothing', async () => {
      const { hub, shop } = await setup('async')
      const simple = shop.seeded.simple[0]!
      const variation = shop.seeded.variations[0]!
      expect(stockOf(shop, simple.sku)).toBe(13)
      // Registration pinged the hub; it answered (the webhooks stay active, nothing is stored for a ping).
      expect([...shop.emu.shop.webhooks.values()].every((w) => w.status === 'active')).toBe(true)

      const counted = await movements()
      const order = shop.emu.shop.createOrder({ lines: [{ product: simple, quantity: 4 }, { product: variation, quantity: 1 }] })
      await until(async () => (await totals(hub, simple.sku)).reserved === 4, 5000, 'the pending order to reserve')
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 13, reserved: 4 })
      // The reservation lowers the store's figure through the push (13 − 4).
      await until(() => stockOf(shop, simple.sku) === 9, 5000, 'the reserved figure in the store')

      shop.emu.shop.setOrderStatus(order, 'processing') // the store reduces its own stock: 9 → 5
      await until(async () => (await totals(hub, simple.sku)).onHand === 9 && (await totals(hub, variation.sku)).onHand === 12, 5000, 'the sale')
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 9, reserved: 0 })
      expect(await totals(hub, variation.sku)).toEqual({ onHand: 12, reserved: 0 })
      // The hub's figure wins over the store's own reduction.
      await until(() => stockOf(shop, simple.sku) === 9, 5000, 'the store to show the hub figure')
      // From BER first (priority 1): 3 there, 1 from HAM.
      const levels = (await getStock(hub.deps, simple.sku)).levels.map((l) => [l.warehouseCode, l.onHand])
      expect(levels).toEqual([
        ['BER', 0],
        ['HAM', 9],
      ])

      shop.emu.shop.setOrderStatus(order, 'cancelled')
      await until(async () => (await totals(hub, simple.sku)).onHand === 13 && (await totals(hub, variation.sku)).onHand === 13, 5000, 'the restock')
      await until(() => stockOf(shop, simple.sku) === 13 && shop.emu.queuedWebhooks() === 0, 5000, 'the store back at 13')
      await new Promise((r) => setTimeout(r, 800)) // past the drift grace: late product.updated echoes settle
      await shop.emu.flushWebhooks()
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 13, reserved: 0 })
      expect(await totals(hub, variation.sku)).toEqual({ onHand: 13, reserved: 0 })
      // Every order movement counted once (#15): the simple line held in BER and HAM, the variation in one warehouse.
      const now = await movements()
      const moved = Object.fromEntries(['reserve', 'commit', 'sale', 'restock'].map((c) => [c, (now.get(`${c}/applied`) ?? 0) - (counted.get(`${c}/applied`) ?? 0)]))
      expect(moved).toEqual({ reserve: 3, commit: 3, sale: 0, restock: 3 })
      const store = (await findStore(hub.deps.store.db, 'shop1'))!
      const received = await listWebhookDeliveries(hub.deps.store.db, store.id, 500)
      expect(received.some((d) => d.topic === 'product.updated' && /echo|in sync|superseded|resolved/.test(d.result ?? ''))).toBe(true)
      const drift = await hub.deps.store.db.selectFrom('woo_drift').selectAll().execute()
      expect(drift).toEqual([])
    })

    it('duplicated, reordered and late-state deliveries move stock exactly once', async () => {
      const { hub, shop } = await setup('manual')
      const simple = shop.seeded.simple[1]!
      const store = (await findStore(hub.deps.store.db, 'shop1'))!
      const post = (body: unknown, topic = 'order.updated', sig?: string) => {
        const raw = phpJson(body)
        return fetch(`${hub.url}/inventory/v1/woocommerce/shop1/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-wc-webhook-topic': topic, 'x-wc-webhook-signature': sig ?? wcWebhookSignature(store.webhookSecret!, raw), 'x-wc-webhook-delivery-id': 'same-id-every-time' },
          body: raw,
        })
      }
      const order = shop.emu.shop.createOrder({ lines: [{ product: simple, quantity: 2 }] })
      const pending = shop.emu.shop.renderOrder(order)
      shop.emu.shop.setOrderStatus(order, 'processing')
      const processing = shop.emu.shop.renderOrder(order)
      // Later modification time for the cancel (one-second resolution in WooCommerce dates).
      order.modifiedAt += 2000
      shop.emu.shop.setOrderStatus(order, 'cancelled')
      order.modifiedAt += 2000
      const cancelled = shop.emu.shop.renderOrder(order)

      // The processing body arrives first, twice, then the stale pending one: one sale only.
      for (const b of [processing, processing, pending]) expect((await post(b)).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 11, reserved: 0 })
      // order.created arriving late, already showing processing: nothing more.
      expect((await post(processing, 'order.created')).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 11, reserved: 0 })
      // Cancelled, three times, and the old processing body once more: restocked once.
      for (const b of [cancelled, processing, cancelled, cancelled]) expect((await post(b)).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 13, reserved: 0 })

      // A new order whose first delivery (order.created) already says cancelled: nothing moves.
      const other = shop.emu.shop.createOrder({ lines: [{ product: simple, quantity: 1 }] })
      shop.emu.shop.setOrderStatus(other, 'cancelled')
      expect((await post(shop.emu.shop.renderOrder(other), 'order.created')).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 13, reserved: 0 })

      // Pending then cancelled: the reservation is released.
      const third = shop.emu.shop.createOrder({ lines: [{ product: simple, quantity: 5 }] })
      expect((await post(shop.emu.shop.renderOrder(third), 'order.created')).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 13, reserved: 5 })
      third.modifiedAt += 2000
      shop.emu.shop.setOrderStatus(third, 'failed')
      expect((await post(shop.emu.shop.renderOrder(third))).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 13, reserved: 0 })
    })

    it('bad signatures, unknown stores and malformed bodies are refused and change nothing', async () => {
      const { hub, shop } = await setup('manual')
      const simple = shop.seeded.simple[0]!
      const store = (await findStore(hub.deps.store.db, 'shop1'))!
      const order = shop.emu.shop.createOrder({ setPaid: true, lines: [{ product: simple, quantity: 2 }] })
      const raw = phpJson(shop.emu.shop.renderOrder(order))
      const url = (s: string) => `${hub.url}/inventory/v1/woocommerce/${s}/webhook`
      const send = (u: string, body: string, sig: string | null, type = 'application/json') =>
        fetch(u, { method: 'POST', headers: { 'content-type': type, 'x-wc-webhook-topic': 'order.updated', ...(sig !== null ? { 'x-wc-webhook-signature': sig } : {}) }, body })
      const good = wcWebhookSignature(store.webhookSecret!, raw)
      expect((await send(url('shop1'), raw, wcWebhookSignature('not-the-secret', raw))).status).toBe(401)
      expect((await send(url('shop1'), raw, null)).status).toBe(401)
      // Re-serialised JSON (slashes no longer escaped) does not match the signature of the raw bytes.
      expect((await send(url('shop1'), JSON.stringify(JSON.parse(raw)), good)).status).toBe(401)
      expect((await send(url('no-such-store'), raw, good)).status).toBe(404)
      expect((await send(url('shop1'), '{"id":', wcWebhookSignature(store.webhookSecret!, '{"id":'))).status).toBe(400)
      expect((await send(url('shop1'), '[1,2]', wcWebhookSignature(store.webhookSecret!, '[1,2]'))).status).toBe(422)
      // The unsigned form-encoded ping is answered, and stores nothing.
      expect((await send(url('shop1'), 'webhook_id=7', null, 'application/x-www-form-urlencoded')).status).toBe(200)
      expect(await listWebhookDeliveries(hub.deps.store.db, store.id, 10)).toEqual([])
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 13, reserved: 0 })
      // The same body, correctly signed, is taken.
      expect((await send(url(store.id), raw, good)).status).toBe(200)
      await hub.woo.processor.drain()
      expect(await totals(hub, simple.sku)).toEqual({ onHand: 11, reserved: 0 })
    })
  })
}
