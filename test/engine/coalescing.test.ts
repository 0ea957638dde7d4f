/**
 * Coalescing and order: while a subscriber is down, pending deliveries of one (target, SKU)
 * collapse into the newest figure. When it returns it gets that figure in far fewer requests than
 * there were changes, and never an older version after a newer one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { createSubscription } from '../../src/service/subscriptions.js'
import { subscriptionResolver } from '../../src/sync/subscription-destinations.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { deliveryRows } from './support-delivery.js'
import { pollUntil, Subscriber, versionRegressions } from './support-engine.js'

const ctx = { actor: 'test:coalescing' }
const HOUR = 60 * 60 * 1000

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: coalescing and order`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let clock: TestClock
    let wh: Warehouse
    const closers: Array<() => Promise<unknown>> = []

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      wh = await makeWarehouse(deps, { code: 'CO-W1' })
    })
    afterAll(async () => {
      while (closers.length) await closers.pop()!()
      await ts?.drop()
    })

    const level = async (p: Product) => Number((await ts.store.db.selectFrom('stock_level').select('on_hand').where('sku', '=', p.sku).where('warehouse_id', '=', wh.id).executeTakeFirstOrThrow()).on_hand)
    const version = async (p: Product) => Number((await ts.store.db.selectFrom('product').select('stock_version').where('sku', '=', p.sku).executeTakeFirstOrThrow()).stock_version)
    /** The i-th change of a deterministic mix of restocks, sales and counts. */
    const change = (p: Product, i: number) => {
      const kind = i % 7 === 3 ? 'sale' : i % 50 === 49 ? 'adjustment' : 'restock'
      const quantity = kind === 'adjustment' ? 400 + (i % 13) : 1 + (i % 5)
      return updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: kind, quantity, source: 'test', referenceId: null, notes: null }, ctx)
    }

    it('1,000 changes to one SKU while the subscriber answers 503: it then gets the newest figure, in few requests, never out of order', async () => {
      let down = true
      const sub = await Subscriber.start(() => ({ status: down ? 503 : 200 }))
      closers.push(() => sub.close())
      const s = await createSubscription(deps, { url: sub.url, skus: ['CO-ONE'] })
      const p = await makeProduct(deps, { sku: 'CO-ONE' })
      const worker = new DeliveryWorker(deps, subscriptionResolver(ts.store.db, 2000, 0), { workerId: 'co-1', random: () => 0.5 })

      for (let i = 0; i < 1000; i++) {
        await change(p, i)
        // the worker keeps trying while the subscriber is down; time passes between its rounds
        if (i % 100 === 99) {
          clock.advance(2000)
          await worker.runOnce()
        }
      }
      const whileDown = sub.received.length
      expect(whileDown).toBeGreaterThan(0)
      expect(sub.received.every((r) => r.status === 503)).toBe(true)
      const [slot] = await deliveryRows(ts, s.id)
      expect(slot!.attempts).toBeLessThan(10)

      down = false
      clock.set(slot!.nextAttemptAt)
      expect(await worker.runOnce()).toBe(1)
      expect(await deliveryRows(ts, s.id)).toEqual([])

      const finalLevel = await level(p)
      const finalVersion = await version(p)
      expect(finalVersion).toBe(1000)
      const ok = sub.received.filter((r) => r.status === 200)
      expect(ok).toHaveLength(1)
      expect(ok[0]!.body.data).toMatchObject({ sku: p.sku, version: finalVersion, after: { on_hand: finalLevel }, totals: { on_hand: finalLevel } })
      // far fewer requests than changes, counting the refused ones too
      expect(sub.received.length).toBeLessThan(50)
      expect(versionRegressions(sub.received)).toEqual([])
      console.log(`[coalescing ${db.name}] 1,000 changes → ${sub.received.length} requests (${whileDown} refused while down, 1 delivered: v${ok[0]!.body.data.version}, on_hand ${finalLevel})`)
    })

    it('10 SKUs × 100 concurrent changes while the subscriber is not listening, the worker running: each SKU ends on its newest figure', async () => {
      const sub = await Subscriber.start(() => ({ status: 200 }))
      closers.push(() => sub.close())
      const products = await Promise.all(Array.from({ length: 10 }, (_, i) => makeProduct(deps, { sku: `CO-MULTI-${i}` })))
      const s = await createSubscription(deps, { url: sub.url, skus: products.map((p) => p.sku) })
      await sub.down()
      const worker = new DeliveryWorker(deps, subscriptionResolver(ts.store.db, 2000, 0), { workerId: 'co-2', maxAttempts: 100, pollMs: 50 })
      worker.start()
      closers.push(() => worker.stop())

      for (let i = 0; i < 100; i++) {
        // ten writers at once, one per SKU, racing the worker's rounds
        await Promise.all(products.map((p) => change(p, i)))
        if (i % 10 === 9) clock.advance(1000)
      }
      // The worker stops (in-flight attempts are aborted and recorded as retries), the subscriber
      // returns, time moves past every backoff, and a worker starts again.
      await worker.stop()
      const refusedWhileDown = Number((await ts.store.db.selectFrom('delivery_attempt').select((eb) => eb.fn.countAll<number | string>().as('n')).where('target_id', '=', s.id).executeTakeFirstOrThrow()).n)
      expect(sub.received).toHaveLength(0)
      expect((await deliveryRows(ts, s.id)).every((r) => r.lockedBy === null)).toBe(true)

      const expected = new Map<string, { version: number; onHand: number }>()
      for (const p of products) expected.set(p.sku, { version: await version(p), onHand: await level(p) })
      await sub.listen()
      clock.advance(2 * HOUR)
      const again = new DeliveryWorker(deps, subscriptionResolver(ts.store.db, 2000, 0), { workerId: 'co-2b', maxAttempts: 100, pollMs: 50 })
      again.start()
      closers.push(() => again.stop())
      const arrived = () => products.every((p) => sub.of(p.sku).some((r) => r.status === 200 && r.body.data.version === expected.get(p.sku)!.version))
      await sub.waitFor(arrived, 15_000, 'every SKU’s newest version')
      // the worker records its outcomes just after the answers: let it finish before stopping it
      await pollUntil(async () => ((await deliveryRows(ts, s.id)).length === 0 ? true : undefined), 5000, 10, 'the delivery slots to be freed')
      await again.stop()

      for (const p of products) {
        const mine = sub.of(p.sku)
        const last = mine.at(-1)!
        expect({ sku: p.sku, version: last.body.data.version, onHand: last.body.data.after.on_hand }).toEqual({ sku: p.sku, ...expected.get(p.sku)! })
        expect(mine.length).toBeLessThan(50)
      }
      expect(sub.received.length).toBeLessThan(100)
      expect(versionRegressions(sub.received)).toEqual([])
      expect(await deliveryRows(ts, s.id)).toEqual([])
      console.log(`[coalescing ${db.name}] 10 SKUs × 100 changes → ${sub.received.length} requests after return (${refusedWhileDown} refused attempts while down)`)
    })
  })
}
