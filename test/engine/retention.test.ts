/**
 * Retention: with the clock moved past the configured ages, delivered events and old delivery
 * attempts are pruned; events a pending delivery or an unreplayed dead letter still points at stay
 * (and can still be delivered / replayed afterwards). The ledger is never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { pruneOldRecords } from '../../src/service/retention.js'
import { updateStock } from '../../src/service/stock.js'
import { createSubscription, deleteSubscription, getDeadLetter, replayDeadLetter } from '../../src/service/subscriptions.js'
import { pruneAttempts } from '../../src/store/delivery-repo.js'
import { pruneOutbox } from '../../src/store/outbox-repo.js'
import { subscriptionResolver } from '../../src/sync/subscription-destinations.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { deadLetterRows, deliveryRows, drain } from './support-delivery.js'
import { Subscriber } from './support-engine.js'

const DAY = 24 * 60 * 60 * 1000
const ctx = { actor: 'test:retention' }

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: retention`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let clock: TestClock
    let wh: Warehouse
    const subs: Subscriber[] = []

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      wh = await makeWarehouse(deps, { code: 'RT-W1' })
    })
    afterAll(async () => {
      for (const s of subs) await s.close()
      await ts?.drop()
    })

    const change = (p: Product) => updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, ctx)
    const seqsOf = async (sku: string) => (await ts.store.db.selectFrom('outbox_event').select('seq').where('sku', '=', sku).orderBy('seq').execute()).map((r) => Number(r.seq))
    const count = async (table: 'ledger_entry' | 'delivery_attempt' | 'outbox_event') =>
      Number((await ts.store.db.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n)
    async function subscriber(status: number) {
      const s = await Subscriber.start(() => ({ status }))
      subs.push(s)
      return s
    }

    it('prunes delivered events and old attempts, keeps what a pending delivery or an unreplayed dead letter needs', async () => {
      const delivered = await makeProduct(deps, { sku: 'RT-DELIVERED' })
      const pending = await makeProduct(deps, { sku: 'RT-PENDING' })
      const dead = await makeProduct(deps, { sku: 'RT-DEAD' })
      const replayed = await makeProduct(deps, { sku: 'RT-REPLAYED' })
      const unwatched = await makeProduct(deps, { sku: 'RT-UNWATCHED' })
      const ok = await subscriber(200)
      const down = await subscriber(503)
      const refusing = await subscriber(400)
      await createSubscription(deps, { url: ok.url, skus: [delivered.sku] })
      const downSub = await createSubscription(deps, { url: down.url, skus: [pending.sku] })
      const refusingSub = await createSubscription(deps, { url: refusing.url, skus: [dead.sku, replayed.sku] })
      const worker = new DeliveryWorker(deps, subscriptionResolver(ts.store.db, 2000, 0), { workerId: 'rt', random: () => 0.5 })

      for (let i = 0; i < 3; i++) {
        await change(delivered)
        await change(pending)
      }
      await change(dead)
      await change(replayed)
      await change(unwatched)
      await drain(worker)
      expect(ok.received).toHaveLength(1)
      const [pendingSlot] = await deliveryRows(ts, downSub.id)
      const pendingSeqs = await seqsOf(pending.sku)
      expect(pendingSlot!.eventSeq).toBe(pendingSeqs.at(-1))
      const dls = await deadLetterRows(ts, refusingSub.id)
      expect(dls.map((d) => d.sku).sort()).toEqual([dead.sku, replayed.sku])
      const replayedDl = dls.find((d) => d.sku === replayed.sku)!
      const deadDl = dls.find((d) => d.sku === dead.sku)!
      // replayed (and its subscription gone, so nothing waits for it any more)
      await replayDeadLetter(deps, replayedDl.id)
      await deleteSubscription(deps, refusingSub.id)
      const attemptsAtStart = await count('delivery_attempt')
      // 1 delivered, 1 refused with 503 (retry), 2 refused with 400 (dead)
      expect(attemptsAtStart).toBe(4)
      const ledgerBefore = await count('ledger_entry')

      // eight days later: one fresh change, delivered, with its fresh attempt
      clock.advance(8 * DAY)
      await change(delivered)
      await drain(worker)
      expect(ok.received).toHaveLength(2)
      const fresh = (await seqsOf(delivered.sku)).at(-1)!

      const report = await pruneOldRecords(deps, { eventsDays: 7, deliveryLogDays: 5, idempotencyDays: 7 })
      // gone: 3 delivered + 2 superseded pending + 1 replayed + 1 nobody wanted
      expect(report.events).toBe(7)
      expect(report.attempts).toBe(attemptsAtStart)
      expect(await seqsOf(delivered.sku)).toEqual([fresh])
      expect(await seqsOf(pending.sku)).toEqual([pendingSeqs.at(-1)])
      expect(await seqsOf(dead.sku)).toEqual([deadDl.eventSeq])
      expect(await seqsOf(replayed.sku)).toEqual([])
      expect(await seqsOf(unwatched.sku)).toEqual([])
      // left: the two attempts of the eighth day (the fresh delivery, and another 503 for the pending one)
      expect((await ts.store.db.selectFrom('delivery_attempt').select(['sku', 'outcome']).orderBy('sku').execute()).map((a) => [a.sku, a.outcome])).toEqual([
        [delivered.sku, 'ok'],
        [pending.sku, 'retry'],
      ])
      expect(await count('ledger_entry')).toBe(ledgerBefore + 1)

      // what was kept still works: the dead letter shows its event, the pending delivery goes out
      expect((await getDeadLetter(deps, deadDl.id)).event).toMatchObject({ sequence: deadDl.eventSeq, data: { sku: dead.sku } })
      down.behaviour = () => ({ status: 200 })
      clock.set(Math.max(clock.now(), (await deliveryRows(ts, downSub.id))[0]!.nextAttemptAt))
      await drain(worker)
      expect(down.received.at(-1)).toMatchObject({ status: 200, body: { sequence: pendingSeqs.at(-1), data: { version: 3 } } })
      expect(await deliveryRows(ts, downSub.id)).toEqual([])

      // once delivered, that event too is pruned in its turn; running again with nothing to do is harmless
      clock.advance(8 * DAY)
      const again = await pruneOldRecords(deps, { eventsDays: 7, deliveryLogDays: 5, idempotencyDays: 7 })
      expect(again.events).toBe(2)
      expect(await seqsOf(pending.sku)).toEqual([])
      expect(await seqsOf(dead.sku)).toEqual([deadDl.eventSeq])
      expect(await pruneOldRecords(deps, { eventsDays: 7, deliveryLogDays: 5, idempotencyDays: 7 })).toEqual({ events: 0, attempts: 0, inboundWebhooks: 0, storeWebhookDeliveries: 0, idempotencyRecords: 0, closedAlerts: 0, alertStates: 0 })
    })

    it('prunes in small batches to the same result (many short statements, no long lock)', async () => {
      const p = await makeProduct(deps, { sku: 'RT-BATCH' })
      const keepSub = await createSubscription(deps, { url: 'http://127.0.0.1:59999/never', skus: [p.sku] })
      for (let i = 0; i < 25; i++) await change(p)
      // one refused attempt for the log (nothing listens on port 9)
      await drain(new DeliveryWorker(deps, subscriptionResolver(ts.store.db, 2000, 0), { workerId: 'rt-batch' }))
      const seqs = await seqsOf(p.sku)
      const before = await count('outbox_event')
      const referenced = new Set([
        ...(await ts.store.db.selectFrom('delivery').select('event_seq').execute()).map((r) => Number(r.event_seq)),
        ...(await ts.store.db.selectFrom('dead_letter').select('event_seq').where('replayed_at', 'is', null).execute()).map((r) => Number(r.event_seq)),
      ])
      expect(referenced.has(seqs.at(-1)!)).toBe(true)
      clock.advance(30 * DAY)
      // the newest stays: the (never answering) subscription's slot points at it
      const removed = await pruneOutbox(ts.store.db, clock.now() - 7 * DAY, 4)
      expect(removed).toBe(before - referenced.size)
      expect(await count('outbox_event')).toBe(referenced.size)
      expect(await seqsOf(p.sku)).toEqual([seqs.at(-1)])
      const attempts = await count('delivery_attempt')
      expect(attempts).toBeGreaterThan(0)
      expect(await pruneAttempts(ts.store.db, clock.now(), 2)).toBe(attempts)
      expect(await count('delivery_attempt')).toBe(0)
      await deleteSubscription(deps, keepSub.id)
    })
  })
}
