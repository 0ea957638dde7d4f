/**
 * Delivery rough edges (#12 item 13): a subscription URL that can never be delivered to is refused
 * when it is made; a newer event joining a failing slot gets its own attempts; a dead letter whose
 * subscription was deleted cannot be replayed into nothing. Received provider webhooks are pruned
 * with the delivery log (#12 item 16).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Warehouse } from '../../src/domain/warehouse.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { pruneOldRecords } from '../../src/service/retention.js'
import { updateStock } from '../../src/service/stock.js'
import { insertInboundWebhook, listInboundWebhooks } from '../../src/store/inbound-webhook-repo.js'
import { finishWebhookDelivery, insertWebhookDelivery } from '../../src/store/woo-repo.js'
import { subscriptionResolver } from '../../src/sync/subscription-destinations.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { deadLetterRows, deliveryRows, latestSeq } from './support-delivery.js'
import { Subscriber } from './support-engine.js'

const ctx = { actor: 'test:delivery-fixes' }

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: delivery fixes`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let clock: TestClock
    let t: Awaited<ReturnType<typeof testApp>>
    let wh: Warehouse
    const cleanups: Array<() => Promise<unknown>> = []
    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      t = await testApp(deps)
      wh = await makeWarehouse(deps, { code: 'DF-W1' })
    })
    afterEach(async () => {
      while (cleanups.length) await cleanups.pop()!()
    })
    afterAll(async () => ts?.drop())

    let n = 0
    async function failing(status: number, maxAttempts: number) {
      const product = await makeProduct(deps, { sku: `DF-${++n}` })
      const sub = await Subscriber.start(() => ({ status }))
      cleanups.push(() => sub.close())
      const res = await t.call('POST', 'subscriptions', { body: { url: sub.url, skus: [product.sku] } })
      expect(res.status).toBe(201)
      const id = ((await res.json()) as { data: { id: string } }).data.id
      const worker = new DeliveryWorker(deps, subscriptionResolver(ts.store.db, 5000, 0), { workerId: `df-${n}`, maxAttempts, random: () => 0.5 })
      const change = () => updateStock(deps, { sku: product.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, ctx)
      const due = async () => {
        const [row] = await deliveryRows(ts, id)
        clock.set(Math.max(clock.now(), row!.nextAttemptAt))
      }
      return { id, product, sub, worker, change, due }
    }

    it('URLs that can never be delivered to are refused with 422 and make no subscription', async () => {
      const before = ((await (await t.call('GET', 'subscriptions')).json()) as { data: unknown[] }).data.length
      for (const [url, says] of [
        ['http://127.0.0.1:0/hook', /port 0/],
        ['http://127.0.0.1:6000/hook', /port 6000/],
        ['https://erp.example:25/hook', /port 25/],
        ['ftp://erp.example/hook', /http or https/],
        ['javascript:alert(1)', /http or https/],
        ['http://erp.example:99999/hook', /absolute URL/],
      ] as const) {
        const res = await t.call('POST', 'subscriptions', { body: { url } })
        expect(res.status, url).toBe(422)
        expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/)
        const p = (await res.json()) as { errors: Array<{ pointer: string; message: string }> }
        expect(p.errors[0]).toMatchObject({ pointer: '/url', message: expect.stringMatching(says) })
      }
      expect(((await (await t.call('GET', 'subscriptions')).json()) as { data: unknown[] }).data).toHaveLength(before)
      // An ordinary high port is fine.
      const ok = await t.call('POST', 'subscriptions', { body: { url: 'http://127.0.0.1:6001/hook' } })
      expect(ok.status).toBe(201)
      await t.call('DELETE', `subscriptions/${((await ok.json()) as { data: { id: string } }).data.id}`)
    })

    it('a newer event joining a failing slot starts with a fresh attempt count', async () => {
      const s = await failing(503, 3)
      await s.change()
      expect(await s.worker.runOnce()).toBe(1)
      await s.due()
      expect(await s.worker.runOnce()).toBe(1)
      expect((await deliveryRows(ts, s.id))[0]).toMatchObject({ attempts: 2 })
      await s.change() // a newer figure while the target is failing
      const [row] = await deliveryRows(ts, s.id)
      expect(row).toMatchObject({ attempts: 0, eventSeq: await latestSeq(ts, s.product.sku) })
      // The newer event gets all three attempts of its own, not the one left over.
      await s.due()
      await s.worker.runOnce()
      await s.due()
      await s.worker.runOnce()
      expect(await deadLetterRows(ts, s.id)).toEqual([])
      await s.due()
      await s.worker.runOnce()
      expect(await deadLetterRows(ts, s.id)).toMatchObject([{ attempts: 3, eventSeq: await latestSeq(ts, s.product.sku) }])
      expect(s.sub.received).toHaveLength(5)
    })

    it('replaying a dead letter of a deleted subscription is refused (409) and enqueues nothing', async () => {
      const s = await failing(400, 3)
      await s.change()
      expect(await s.worker.runOnce()).toBe(1)
      const [dl] = await deadLetterRows(ts, s.id)
      expect(dl).toBeDefined()
      expect((await t.call('DELETE', `subscriptions/${s.id}`)).status).toBe(204)
      const res = await t.call('POST', `dead-letters/${dl!.id}/replay`)
      expect(res.status).toBe(409)
      expect(await res.json()).toMatchObject({ code: 'dead_letter_target_gone', target_id: s.id })
      expect(await deliveryRows(ts, s.id)).toEqual([])
      expect((await deadLetterRows(ts, s.id))[0]!.replayedAt).toBeNull()
    })
  })
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: retention of received webhooks`, () => {
    let ts: TestStore
    afterAll(async () => ts?.drop())
    it('inbound_webhook rows older than RETENTION_DELIVERY_LOG_DAYS are pruned; accepted ones (work still to do) stay', async () => {
      ts = await createTestStore(db.name)
      const clock = testClock()
      const deps = testDeps(ts.store, clock)
      const DAY = 86_400_000
      const now = clock.now()
      const row = (id: string, status: 'processed' | 'accepted' | 'rejected', age: number) => insertInboundWebhook(ts.store.db, { id, provider: 'acme', eventType: 'stock_update', status, body: '{}', outcome: null, receivedAt: now - age * DAY })
      await row('iw_old_done', 'processed', 40)
      await row('iw_old_bad', 'rejected', 31)
      await row('iw_old_open', 'accepted', 40)
      await row('iw_recent', 'processed', 2)
      const report = await pruneOldRecords(deps, { eventsDays: 7, deliveryLogDays: 30, idempotencyDays: 7 })
      expect(report.inboundWebhooks).toBe(2)
      expect((await listInboundWebhooks(ts.store.db, 'acme')).map((r) => r.id).sort()).toEqual(['iw_old_open', 'iw_recent'])
    })

    it('processed WooCommerce webhook deliveries follow RETENTION_DELIVERY_LOG_DAYS too; pending ones stay whatever their age', async () => {
      const clock = testClock()
      const deps = testDeps(ts.store, clock)
      const DAY = 86_400_000
      const now = clock.now()
      const delivery = async (age: number, done: boolean) => {
        const id = await insertWebhookDelivery(ts.store.db, { storeId: 'shop', topic: 'order.updated', webhookId: '1', deliveryId: null, resourceId: 7, body: '{}', notBefore: now - age * DAY }, now - age * DAY)
        if (done) await finishWebhookDelivery(ts.store.db, id, 'done', null, now - age * DAY)
        return id
      }
      await delivery(31, true)
      const pendingOld = await delivery(40, false)
      const recent = await delivery(10, true) // older than the week it used to be kept, younger than the setting
      const report = await pruneOldRecords(deps, { eventsDays: 7, deliveryLogDays: 30, idempotencyDays: 7 })
      expect(report.storeWebhookDeliveries).toBe(1)
      const left = await ts.store.db.selectFrom('woo_webhook_delivery').select('id').orderBy('id').execute()
      expect(left.map((r) => Number(r.id))).toEqual([pendingOld, recent].sort((a, b) => a - b))
    })
  })
}
