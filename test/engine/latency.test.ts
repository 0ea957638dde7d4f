/**
 * Commit-to-webhook latency for a local subscriber, reported (never asserted: `npm run bench` measures): the worker
 * runs as in production (start(), woken by the commit), the subscriber is a real HTTP server on
 * 127.0.0.1. Each change waits for its delivery, so every sample is one change's own latency.
 */
import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { createSubscription } from '../../src/service/subscriptions.js'
import { subscriptionResolver } from '../../src/sync/subscription-destinations.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { EventBus } from '../../src/service/event-bus.js'
import { listenForOutbox } from '../../src/store/listen.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { latencySummary, Subscriber, versionRegressions } from './support-engine.js'

/** How long a test waits for one delivery before it fails as lost (the machine is shared; no latency is asserted). */
const WAIT_MS = 10_000
const N = 200

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: commit → webhook latency (local subscriber)`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let sub: Subscriber
    let worker: DeliveryWorker

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, systemClock)
      sub = await Subscriber.start(() => ({ status: 200 }))
    })
    afterAll(async () => {
      await worker?.stop()
      await sub?.close()
      await ts?.drop()
    })

    it(`delivers each of ${N} changes, in order, and reports p50/p99 (the bench measures; this only reports)`, async () => {
      const wh = await makeWarehouse(deps, { code: 'LAT-W1' })
      const p = await makeProduct(deps, { sku: 'LAT-A' })
      await createSubscription(deps, { url: sub.url })
      // the poll is slow on purpose: a delivery within milliseconds comes from the commit's wake-up
      worker = new DeliveryWorker(deps, subscriptionResolver(ts.store.db, 5000), { workerId: 'lat', pollMs: 10_000 })
      worker.start()

      const fromCommit: number[] = []
      const fromCall: number[] = []
      for (let i = 1; i <= N; i++) {
        const called = performance.now()
        await updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, { actor: 'test:latency' })
        const committed = performance.now()
        await sub.waitFor(() => sub.received.length > 0 && sub.received.at(-1)!.body.data.version === i, WAIT_MS, `version ${i}`)
        const got = sub.received.at(-1)!
        fromCommit.push(got.at - committed)
        fromCall.push(got.at - called)
      }
      expect(sub.received).toHaveLength(N)
      expect(sub.received.map((r) => r.body.data.version)).toEqual(Array.from({ length: N }, (_, i) => i + 1))
      expect(versionRegressions(sub.received)).toEqual([])
      const c = latencySummary(fromCommit)
      const k = latencySummary(fromCall)
      console.log(`[latency ${db.name}] commit→webhook received: p50 ${c.p50} ms, p99 ${c.p99} ms, max ${c.max} ms (n=${c.n}, ${fromCommit.filter((x) => x > 100).length} over 100 ms); call start→received: p50 ${k.p50} ms, p99 ${k.p99} ms`)
    })

    it.skipIf(db.name !== 'postgres')('PostgreSQL: a worker on another node is woken by NOTIFY, not by its (slow) poll', async () => {
      await worker.stop()
      const wh = await makeWarehouse(deps, { code: 'LAT-W2' })
      const p = await makeProduct(deps, { sku: 'LAT-NODE' })
      // node B: its own event bus (no in-process signal from node A's writes), woken only by LISTEN
      const nodeB: ServiceDeps = { ...deps, events: new EventBus() }
      const listener = listenForOutbox(ts.url, () => nodeB.events.notify(true))
      const other = new DeliveryWorker(nodeB, subscriptionResolver(ts.store.db, 5000), { workerId: 'node-b', pollMs: 30_000 })
      try {
        // the listener connects asynchronously; its first notification is the sign it is up
        await new Promise<void>((resolve) => {
          const off = nodeB.events.subscribe(() => {
            off()
            resolve()
          })
        })
        other.start()
        const lat: number[] = []
        for (let i = 1; i <= 50; i++) {
          await updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, { actor: 'test:node-a' })
          const committed = performance.now()
          await sub.waitFor(() => sub.of(p.sku).some((r) => r.body.data.version === i), WAIT_MS, `LAT-NODE v${i} via NOTIFY`)
          lat.push(sub.of(p.sku).find((r) => r.body.data.version === i)!.at - committed)
        }
        const s = latencySummary(lat)
        console.log(`[latency ${db.name}] other node, woken by LISTEN/NOTIFY: commit→webhook p50 ${s.p50} ms, p99 ${s.p99} ms (n=${s.n}; its poll is 30 s)`)
      } finally {
        await other.stop()
        await listener.close()
      }
    })
  })
}
