/**
 * Paced targets (a store's limits ask for pacing, sync/pacing.ts), through the real worker and
 * database: under any arrival pattern of changes the last figure each SKU's target receives is
 * the newest (coalescing and the window never leave an older one last), never two deliveries of a
 * SKU at once, the window it reports never exceeds its bound; and each delivery gets a signal of
 * its own (#12.17: one signal shared by every delivery piled abort listeners up on it).
 */
import { getEventListeners } from 'node:events'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboxEvent } from '../../src/domain/events.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { createSubscription, deleteSubscription } from '../../src/service/subscriptions.js'
import type { DeliveryOutcome } from '../../src/sync/classify.js'
import type { DeliveryLimits, Destination } from '../../src/sync/destination.js'
import type { PacingSnapshot } from '../../src/sync/pacing.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { deliveryRows } from './support-delivery.js'
import { pollUntil } from './support-engine.js'

const ctx = { actor: 'test:paced' }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const BOUND = 150

/** A slow store: 20 ms a call + 5 ms an event; records versions per SKU, overlaps, snapshots, listeners. */
class PacedProbe implements Destination {
  readonly got = new Map<string, number>()
  readonly overlaps: string[] = []
  readonly snapshots: PacingSnapshot[] = []
  readonly signals = new Set<AbortSignal>()
  maxListeners = 0
  calls = 0
  readonly #busy = new Set<string>()
  limits(): DeliveryLimits {
    return { concurrency: 3, maxBatch: 100, minBatch: 4, lingerMs: 10, pacing: { maxWindowMs: BOUND } }
  }
  observe(p: PacingSnapshot): void {
    this.snapshots.push(p)
  }
  async deliver(events: ReadonlyArray<OutboxEvent>, signal: AbortSignal): Promise<DeliveryOutcome[]> {
    // As a request does: listen for an abort while in flight.
    const onAbort = () => undefined
    signal.addEventListener('abort', onAbort)
    this.signals.add(signal)
    this.calls++
    this.maxListeners = Math.max(this.maxListeners, getEventListeners(signal, 'abort').length)
    for (const e of events) {
      if (this.#busy.has(e.sku)) this.overlaps.push(e.sku)
      this.#busy.add(e.sku)
    }
    await sleep(20 + 5 * events.length)
    for (const e of events) {
      this.#busy.delete(e.sku)
      this.got.set(e.sku, e.skuVersion)
    }
    signal.removeEventListener('abort', onAbort)
    return events.map(() => ({ kind: 'ok', status: 200 }))
  }
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: paced deliveries`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let wh: Warehouse
    let seq = 0
    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, systemClock)
      wh = await makeWarehouse(deps, { code: 'PC-W1' })
    })
    afterAll(async () => {
      await ts?.drop()
    })

    it('under any arrival pattern the last figure per SKU is the newest; no SKU twice at once; the window within its bound; a signal per delivery', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ sku: fc.integer({ min: 0, max: 7 }), gap: fc.constantFrom(0, 0, 1, 5, 30) }), { minLength: 1, maxLength: 60 }),
          async (arrivals) => {
            const tag = ++seq
            const products = await Promise.all(Array.from({ length: 8 }, (_, i) => makeProduct(deps, { sku: `PC-${tag}-${i}` })))
            const sub = await createSubscription(deps, { url: `http://127.0.0.1:59999/pc-${tag}`, skus: products.map((p) => p.sku) })
            const probe = new PacedProbe()
            const w = new DeliveryWorker(deps, async (id) => (id === sub.id ? probe : undefined), { workerId: `pc-${tag}`, pollMs: 20, batchSize: 400 })
            w.start()
            try {
              for (const a of arrivals) {
                await updateStock(deps, { sku: products[a.sku]!.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, ctx)
                if (a.gap) await sleep(a.gap)
              }
              const rows = await ts.store.db.selectFrom('product').select(['sku', 'stock_version']).where('sku', 'in', products.map((p) => p.sku)).execute()
              const newest = new Map(rows.map((r) => [r.sku, Number(r.stock_version)]))
              await pollUntil(async () => ([...newest].every(([sku, v]) => v === 0 || probe.got.get(sku) === v) ? true : undefined), 15_000, 20, 'the newest version of every SKU')
              await pollUntil(async () => ((await deliveryRows(ts, sub.id)).length === 0 ? true : undefined), 5000, 20, 'the slots to be freed')
              expect(probe.overlaps).toEqual([])
              expect(probe.snapshots.length).toBeGreaterThan(0)
              expect(probe.snapshots.every((s) => s.window_ms <= BOUND && s.concurrency >= 1 && s.concurrency <= 3)).toBe(true)
              expect(probe.maxListeners).toBe(1)
            } finally {
              await w.stop()
              await deleteSubscription(deps, sub.id)
            }
            // Each delivery had a signal of its own.
            expect(probe.signals.size).toBe(probe.calls)
          },
        ),
        { numRuns: 8 },
      )
    }, 120_000)
  })
}
