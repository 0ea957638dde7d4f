/**
 * Retries and dead letters against a real local HTTP subscriber (node:http on 127.0.0.1) that
 * fails on purpose. The worker is driven with runOnce() and an injected clock: instead of sleeping
 * until a retry is due, the test moves the clock past the slot's next_attempt_at.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../src/security/webhook-signature.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { claimDeliveries } from '../../src/store/delivery-repo.js'
import { subscriptionResolver } from '../../src/sync/subscription-destinations.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { attemptRows, deadLetterRows, deliveryRows, drain, latestSeq } from './support-delivery.js'
import { Subscriber, versionRegressions, type Behaviour } from './support-engine.js'

const ctx = { actor: 'test:delivery' }

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: retries and dead letters against a real subscriber`, () => {
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
      wh = await makeWarehouse(deps, { code: 'DL-W1' })
    })
    afterEach(async () => {
      while (cleanups.length) await cleanups.pop()!()
    })
    afterAll(async () => {
      await ts?.drop()
    })

    let skuSeq = 0
    /** A product, a real subscriber, a subscription to that product (made over the API), a worker. */
    async function scenario(behaviour: Behaviour, o: { maxAttempts?: number; timeoutMs?: number; skus?: number } = {}) {
      const products: Product[] = []
      for (let i = 0; i < (o.skus ?? 1); i++) products.push(await makeProduct(deps, { sku: `DL-${++skuSeq}` }))
      const sub = await Subscriber.start(behaviour)
      cleanups.push(() => sub.close())
      const res = await t.call('POST', 'subscriptions', { body: { url: sub.url, skus: products.map((p) => p.sku) } })
      expect(res.status).toBe(201)
      const created = ((await res.json()) as { data: { id: string; secret: string } }).data
      expect(created.secret).toMatch(/^whsec_/)
      cleanups.push(async () => t.call('DELETE', `subscriptions/${created.id}`))
      const worker = new DeliveryWorker(deps, subscriptionResolver(ts.store.db, o.timeoutMs ?? 5000, 0), {
        workerId: `test-${skuSeq}`,
        maxAttempts: o.maxAttempts ?? 10,
        random: () => 0.5,
      })
      const change = (quantity = 1, p: Product = products[0]!) =>
        updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity, source: 'test', referenceId: null, notes: null }, ctx)
      return { sub, id: created.id, secret: created.secret, worker, product: products[0]!, products, change }
    }

    /** Move the injected clock to the moment the (only) slot of the target is due. */
    async function advanceToDue(targetId: string) {
      const [row] = await deliveryRows(ts, targetId)
      expect(row).toBeDefined()
      clock.set(Math.max(clock.now(), row!.nextAttemptAt))
    }

    it('5xx is retried with backoff, then delivered; every request is signed and names its event', async () => {
      const s = await scenario((n) => ({ status: n === 1 ? 500 : n === 2 ? 502 : 200 }))
      await s.change(7)
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received.map((r) => r.status)).toEqual([500])
      let [row] = await deliveryRows(ts, s.id)
      // attempt 1: full jitter below a 1 s ceiling, drawn at 0.5
      expect(row).toMatchObject({ attempts: 1, lastStatus: 500, lastError: 'HTTP 500', lockedBy: null, nextAttemptAt: clock.now() + 500 })

      // not due yet: nothing is sent however often the worker looks
      expect(await s.worker.runOnce()).toBe(0)
      clock.advance(499)
      expect(await s.worker.runOnce()).toBe(0)
      expect(s.sub.received).toHaveLength(1)

      await advanceToDue(s.id)
      expect(await s.worker.runOnce()).toBe(1)
      ;[row] = await deliveryRows(ts, s.id)
      expect(row).toMatchObject({ attempts: 2, lastStatus: 502, nextAttemptAt: clock.now() + 1000 })

      await advanceToDue(s.id)
      expect(await s.worker.runOnce()).toBe(1)
      expect(await deliveryRows(ts, s.id)).toEqual([])
      expect(s.sub.received.map((r) => r.status)).toEqual([500, 502, 200])

      // the same event each time, signed under the subscription's secret, id in header and body
      const nowSeconds = Math.floor(Date.now() / 1000)
      for (const r of s.sub.received) {
        expect(r.headers['content-type']).toBe('application/json')
        expect(r.headers['x-stockbridge-event-id']).toBe(r.body.id)
        expect(r.headers['x-stockbridge-event-type']).toBe('stock.changed')
        const sig = r.headers[SIGNATURE_HEADER.toLowerCase()] as string
        expect(sig).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
        expect(verifyWebhookSignature(s.secret, sig, r.raw, nowSeconds)).toBe(true)
        expect(verifyWebhookSignature(s.secret, sig, r.raw.replace('"on_hand":7', '"on_hand":8'), nowSeconds)).toBe(false)
        expect(verifyWebhookSignature('whsec_wrong', sig, r.raw, nowSeconds)).toBe(false)
        expect(verifyWebhookSignature(s.secret, sig, r.raw, nowSeconds + 3600)).toBe(false)
      }
      expect(new Set(s.sub.received.map((r) => r.body.id)).size).toBe(1)
      expect(s.sub.received[0]!.body).toMatchObject({ type: 'stock.changed', sequence: await latestSeq(ts, s.product.sku), data: { sku: s.product.sku, version: 1, after: { on_hand: 7 } } })

      // the delivery log over the API: newest first, outcome and status per attempt
      const log = (await (await t.call('GET', `subscriptions/${s.id}/deliveries`)).json()) as { data: Array<{ outcome: string; status_code: number | null; event_id: string }> }
      expect(log.data.map((a) => [a.outcome, a.status_code])).toEqual([
        ['ok', 200],
        ['retry', 502],
        ['retry', 500],
      ])
      expect(new Set(log.data.map((a) => a.event_id))).toEqual(new Set([s.sub.received[0]!.body.id]))
      expect(s.worker.stats().get(s.id)).toEqual({ ok: 1, retried: 2, dead: 0 })
    })

    it('429 with Retry-After: 30 waits at least 30 s (next_attempt_at honours it)', async () => {
      const s = await scenario((n) => (n === 1 ? { status: 429, headers: { 'retry-after': '30' } } : { status: 200 }))
      await s.change()
      const t0 = clock.now()
      expect(await s.worker.runOnce()).toBe(1)
      const [row] = await deliveryRows(ts, s.id)
      // the jitter alone would say 500 ms; Retry-After is the floor
      expect(row).toMatchObject({ attempts: 1, lastStatus: 429, nextAttemptAt: t0 + 30_000 })
      clock.advance(29_999)
      expect(await s.worker.runOnce()).toBe(0)
      expect(s.sub.received).toHaveLength(1)
      clock.advance(1)
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received.map((r) => r.status)).toEqual([429, 200])
      expect((await attemptRows(ts, s.id)).map((a) => [a.outcome, a.statusCode])).toEqual([
        ['retry', 429],
        ['ok', 200],
      ])
    })

    it('a subscriber that never answers times out and is retried', async () => {
      const s = await scenario((n) => (n === 1 ? 'hang' : { status: 204 }), { timeoutMs: 300 })
      await s.change()
      const started = performance.now()
      expect(await s.worker.runOnce()).toBe(1)
      const took = performance.now() - started
      expect(took).toBeGreaterThanOrEqual(250) // it waited for the timeout before giving up on the attempt
      const [row] = await deliveryRows(ts, s.id)
      expect(row).toMatchObject({ attempts: 1, lastStatus: null, lastError: 'timed out' })
      expect((await attemptRows(ts, s.id)).map((a) => [a.outcome, a.statusCode, a.error])).toEqual([['retry', null, 'timed out']])
      await advanceToDue(s.id)
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received.map((r) => r.status)).toEqual([null, 204])
      expect(await deliveryRows(ts, s.id)).toEqual([])
    })

    it('a subscriber that is not listening (connection refused) is retried', async () => {
      const s = await scenario(() => ({ status: 200 }))
      await s.sub.down()
      await s.change()
      expect(await s.worker.runOnce()).toBe(1)
      const [row] = await deliveryRows(ts, s.id)
      expect(row!.lastStatus).toBeNull()
      expect(row!.lastError).toMatch(/ECONNREFUSED|fetch failed/)
      await s.sub.listen()
      await advanceToDue(s.id)
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received.map((r) => r.status)).toEqual([200])
    })

    it('classifies each status once: 408, 425, 429 and 5xx retry; other 4xx (and redirects) are permanent', async () => {
      const statuses = [408, 425, 429, 500, 503, 400, 401, 403, 404, 410, 422, 301]
      const retry = new Set([408, 425, 429, 500, 503])
      const s = await scenario(() => ({ status: 200 }), { skus: statuses.length })
      const statusOf = new Map(s.products.map((p, i) => [p.sku, statuses[i]!]))
      s.sub.behaviour = (_n, r) => {
        const status = statusOf.get(r.body.data.sku)!
        const headers: Record<string, string> = status === 301 ? { location: 'http://127.0.0.1:9/elsewhere' } : {}
        return { status, headers }
      }
      for (const p of s.products) await s.change(1, p)
      expect(await s.worker.runOnce()).toBe(statuses.length)
      const pending = new Map((await deliveryRows(ts, s.id)).map((r) => [r.sku, r]))
      const dead = new Map((await deadLetterRows(ts, s.id)).map((d) => [d.sku, d]))
      for (const [sku, status] of statusOf) {
        if (retry.has(status)) {
          expect({ status, pending: pending.get(sku)?.lastStatus, dead: dead.has(sku) }).toEqual({ status, pending: status, dead: false })
        } else {
          expect({ status, pending: pending.has(sku), dead: dead.get(sku)?.lastStatus }).toEqual({ status, pending: false, dead: status })
        }
      }
      expect(s.sub.received).toHaveLength(statuses.length)
    })

    it('4xx is permanent: a dead letter at once; replay sends the newest event; a second replay is 409', async () => {
      const s = await scenario(() => ({ status: 400 }))
      await s.change(1)
      expect(await s.worker.runOnce()).toBe(1)
      expect(await deliveryRows(ts, s.id)).toEqual([])
      const [dl1] = await deadLetterRows(ts, s.id)
      expect(dl1).toMatchObject({ sku: s.product.sku, attempts: 1, lastStatus: 400, lastError: 'HTTP 400', replayedAt: null })
      expect((await attemptRows(ts, s.id)).map((a) => [a.outcome, a.statusCode])).toEqual([['dead', 400]])
      const firstEventId = s.sub.received[0]!.body.id

      // two more changes while nothing runs: they coalesce into one request, refused again
      await s.change(2)
      await s.change(3)
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received.map((r) => r.body.data.version)).toEqual([1, 3])
      const dls = await deadLetterRows(ts, s.id)
      expect(dls).toHaveLength(2)
      const newest = await latestSeq(ts, s.product.sku)

      // the dead-letter list and one dead letter with its event, over the API
      const list = (await (await t.call('GET', `dead-letters?target_id=${s.id}`)).json()) as { data: Array<{ id: string; event_sequence: number; attempts: number; last_status: number }> }
      expect(list.data.map((d) => d.id).sort()).toEqual(dls.map((d) => d.id).sort())
      const one = await t.call('GET', `dead-letters/${dl1!.id}`)
      expect(one.status).toBe(200)
      const detail = ((await one.json()) as { data: { event: { id: string; data: { version: number } } } }).data
      expect(detail.event).toMatchObject({ id: firstEventId, data: { version: 1 } })

      // the subscriber is fixed; replaying the oldest dead letter sends the SKU's newest figure
      s.sub.behaviour = () => ({ status: 200 })
      const replay = await t.call('POST', `dead-letters/${dl1!.id}/replay`)
      expect(replay.status).toBe(202)
      expect(((await replay.json()) as { data: { event_sequence: number } }).data.event_sequence).toBe(newest)
      const again = await t.call('POST', `dead-letters/${dl1!.id}/replay`)
      expect(again.status).toBe(409)
      expect(((await again.json()) as { code: string }).code).toBe('dead_letter_replayed')
      expect((await t.call('POST', 'dead-letters/dlq_nothing_here/replay')).status).toBe(404)

      expect(await s.worker.runOnce()).toBe(1)
      const last = s.sub.received.at(-1)!
      expect(last.status).toBe(200)
      expect(last.body).toMatchObject({ sequence: newest, data: { version: 3, after: { on_hand: 6 } } })
      expect(versionRegressions(s.sub.received)).toEqual([])

      // the replayed one leaves the default list, stays visible with include_replayed
      const open = (await (await t.call('GET', `dead-letters?target_id=${s.id}`)).json()) as { data: Array<{ id: string }> }
      expect(open.data.map((d) => d.id)).toEqual([dls[1]!.id])
      const all = (await (await t.call('GET', `dead-letters?target_id=${s.id}&include_replayed=true`)).json()) as { data: Array<{ id: string; replayed_at: string | null }> }
      expect(all.data.find((d) => d.id === dl1!.id)!.replayed_at).not.toBeNull()
    })

    it('exhaustion: always 500 with maxAttempts 3 gives a dead letter after exactly 3 attempts', async () => {
      const s = await scenario(() => ({ status: 500 }), { maxAttempts: 3 })
      await s.change()
      expect(await s.worker.runOnce()).toBe(1)
      await advanceToDue(s.id)
      expect(await s.worker.runOnce()).toBe(1)
      const [row] = await deliveryRows(ts, s.id)
      expect(row).toMatchObject({ attempts: 2, nextAttemptAt: clock.now() + 1000 })
      await advanceToDue(s.id)
      expect(await s.worker.runOnce()).toBe(1)
      expect(await deliveryRows(ts, s.id)).toEqual([])
      const dls = await deadLetterRows(ts, s.id)
      expect(dls).toHaveLength(1)
      expect(dls[0]).toMatchObject({ attempts: 3, lastStatus: 500 })
      expect((await attemptRows(ts, s.id)).map((a) => [a.outcome, a.statusCode])).toEqual([
        ['retry', 500],
        ['retry', 500],
        ['dead', 500],
      ])
      // nothing more is sent, however far the clock moves
      clock.advance(24 * 60 * 60 * 1000)
      expect(await drain(s.worker)).toBe(0)
      expect(s.sub.received).toHaveLength(3)
      expect(s.worker.stats().get(s.id)).toEqual({ ok: 0, retried: 2, dead: 1 })
    })

    it("a crashed worker's lease is reclaimed once it runs out; the crashed attempt counts", async () => {
      const s = await scenario(() => ({ status: 200 }))
      await s.change()
      // a worker claims the slot and dies before delivering
      const claimed = await claimDeliveries(ts.store.db, ts.store.caps, 'crashed-worker', clock.now(), 30_000, 100)
      expect(claimed.map((c) => c.targetId)).toContain(s.id)
      expect(await s.worker.runOnce()).toBe(0)
      clock.advance(30_000)
      expect(await s.worker.runOnce()).toBe(0)
      clock.advance(1)
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received).toHaveLength(1)
      expect(await deliveryRows(ts, s.id)).toEqual([])
      // the late "crashed" worker can no longer complete or retry a slot it lost
      const ghosts = claimed.filter((c) => c.targetId === s.id)
      const { completeDelivery, retryDelivery } = await import('../../src/store/delivery-repo.js')
      await s.change()
      await retryDelivery(ts.store.db, ghosts[0]!, 'crashed-worker', clock.now() + 1e9, 'late', 500)
      await completeDelivery(ts.store.db, ghosts[0]!, 'crashed-worker', clock.now())
      const [row] = await deliveryRows(ts, s.id)
      expect(row).toMatchObject({ attempts: 0, nextAttemptAt: clock.now(), lastError: null })
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received.map((r) => r.body.data.version)).toEqual([1, 2])
    })

    it('a new event arriving while a delivery is in flight is delivered right after it, never an older one after it', async () => {
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      // the first request is answered only after a newer change has committed
      const s = await scenario((n) => (n === 1 ? gate.then(() => ({ status: 200 })) : { status: 200 }))
      await s.change(1)
      const round = s.worker.runOnce()
      await s.sub.waitFor(() => s.sub.received.length === 1, 5000)
      clock.advance(5000)
      await s.change(1)
      const changedAt = clock.now()
      // a third change during the same request: the first one that came meanwhile is what counts
      clock.advance(1000)
      await s.change(1)
      clock.advance(2000)
      release()
      expect(await round).toBe(1)
      // the slot was not freed: it now holds the newest event, due as of the first change that came
      // while the request was out (it waited that request already: no new batching window)
      const [row] = await deliveryRows(ts, s.id)
      expect(row).toMatchObject({ eventSeq: await latestSeq(ts, s.product.sku), attempts: 0, nextAttemptAt: changedAt, lockedBy: null })
      const slot = await ts.store.db.selectFrom('delivery').select(['created_at', 'pending_since']).where('target_id', '=', s.id).executeTakeFirstOrThrow()
      expect([Number(slot.created_at), slot.pending_since]).toEqual([changedAt, null])
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received.map((r) => [r.body.data.version, r.status])).toEqual([
        [1, 200],
        [3, 200],
      ])
      expect(versionRegressions(s.sub.received)).toEqual([])
      expect(await deliveryRows(ts, s.id)).toEqual([])
    })

    it('stopping the worker mid-delivery hands the slot back without charging the attempt, even on the last one', async () => {
      const s = await scenario(() => 'hang', { maxAttempts: 1, timeoutMs: 30_000 })
      const running = new DeliveryWorker(deps, subscriptionResolver(ts.store.db, 30_000, 0), { workerId: 'stopping', maxAttempts: 1, pollMs: 60_000 })
      running.start()
      await s.change()
      await s.sub.waitFor(() => s.sub.received.length === 1, 5000, 'the delivery to be in flight')
      await running.stop()
      // not a dead letter: the target did not fail, this worker stopped
      expect(await deadLetterRows(ts, s.id)).toEqual([])
      const [row] = await deliveryRows(ts, s.id)
      expect(row).toMatchObject({ attempts: 0, lockedBy: null, nextAttemptAt: clock.now() })
      const log = await attemptRows(ts, s.id)
      expect(log.map((a) => [a.outcome, a.statusCode])).toEqual([['retry', null]])
      expect(log[0]!.error).toMatch(/^aborted: worker stopping/)
      // the next worker delivers it at once
      s.sub.behaviour = () => ({ status: 200 })
      expect(await s.worker.runOnce()).toBe(1)
      expect(s.sub.received.map((r) => r.status)).toEqual([null, 200])
      expect(await deliveryRows(ts, s.id)).toEqual([])
    })

    it('deleting a subscription drops its pending deliveries; nothing more is sent', async () => {
      const s = await scenario(() => ({ status: 503 }))
      await s.change()
      expect(await s.worker.runOnce()).toBe(1)
      expect(await deliveryRows(ts, s.id)).toHaveLength(1)
      expect((await t.call('DELETE', `subscriptions/${s.id}`)).status).toBe(204)
      expect(await deliveryRows(ts, s.id)).toEqual([])
      await s.change()
      clock.advance(60 * 60 * 1000)
      expect(await drain(s.worker)).toBe(0)
      expect(s.sub.received).toHaveLength(1)
      expect((await t.call('GET', `subscriptions/${s.id}`)).status).toBe(404)
    })
  })
}
