/**
 * The worker pipelines deliveries: it keeps claiming while earlier deliveries are in flight, each
 * target through its own lanes (`Destination.limits()`) under a global bound, never two
 * deliveries of one (target, SKU) at once, and it renews the lease of a request that outlives it.
 * Driven with the real clock and a destination in this process that records what it was handed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { OutboxEvent } from '../../src/domain/events.js'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { createSubscription, deleteSubscription } from '../../src/service/subscriptions.js'
import type { DeliveryOutcome } from '../../src/sync/classify.js'
import type { DeliveryLimits, Destination } from '../../src/sync/destination.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { deliveryRows } from './support-delivery.js'
import { pollUntil } from './support-engine.js'

const ctx = { actor: 'test:pipelining' }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A destination that takes `ms(n)` per call of n events and records concurrency and what arrived. */
class Probe implements Destination {
  inFlight = 0
  maxInFlight = 0
  readonly calls: number[] = []
  /** Per SKU, the versions delivered, in the order the deliveries finished. */
  readonly got = new Map<string, number[]>()
  /** SKUs handed over while a delivery of the same SKU was still in flight. */
  readonly overlaps: string[] = []
  readonly #busy = new Set<string>()
  readonly bounds: DeliveryLimits
  readonly ms: (n: number, events: ReadonlyArray<OutboxEvent>) => number
  readonly shared: { inFlight: number; max: number } | undefined
  constructor(bounds: DeliveryLimits, ms: (n: number, events: ReadonlyArray<OutboxEvent>) => number, shared?: { inFlight: number; max: number }) {
    this.bounds = bounds
    this.ms = ms
    this.shared = shared
  }
  limits(): DeliveryLimits {
    return this.bounds
  }
  async deliver(events: ReadonlyArray<OutboxEvent>): Promise<DeliveryOutcome[]> {
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    if (this.shared) this.shared.max = Math.max(this.shared.max, ++this.shared.inFlight)
    this.calls.push(events.length)
    for (const e of events) {
      if (this.#busy.has(e.sku)) this.overlaps.push(e.sku)
      this.#busy.add(e.sku)
    }
    await sleep(this.ms(events.length, events))
    for (const e of events) {
      this.#busy.delete(e.sku)
      this.got.set(e.sku, [...(this.got.get(e.sku) ?? []), e.skuVersion])
    }
    this.inFlight--
    if (this.shared) this.shared.inFlight--
    return events.map(() => ({ kind: 'ok', status: 200 }))
  }
  regressions(): string[] {
    const out: string[] = []
    for (const [sku, vs] of this.got) for (let i = 1; i < vs.length; i++) if (vs[i]! < vs[i - 1]!) out.push(`${sku}: v${vs[i]} after v${vs[i - 1]}`)
    return out
  }
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: pipelined deliveries`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let wh: Warehouse
    const cleanups: Array<() => Promise<unknown>> = []
    let seq = 0

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, systemClock)
      wh = await makeWarehouse(deps, { code: 'PL-W1' })
    })
    afterEach(async () => {
      while (cleanups.length) await cleanups.pop()!()
    })
    afterAll(async () => {
      await ts?.drop()
    })

    const move = (p: Product) => updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, ctx)
    /** `n` products and a target (a subscription, so commits fan out to it) per probe. */
    async function setup(n: number, targets: number) {
      const tag = ++seq
      const products = await Promise.all(Array.from({ length: n }, (_, i) => makeProduct(deps, { sku: `PL-${tag}-${i}` })))
      const ids: string[] = []
      for (let i = 0; i < targets; i++) {
        const s = await createSubscription(deps, { url: `http://127.0.0.1:59999/pl-${tag}-${i}`, skus: products.map((p) => p.sku) })
        cleanups.push(() => deleteSubscription(deps, s.id))
        ids.push(s.id)
      }
      return { products, ids }
    }
    async function newest(products: ReadonlyArray<Product>): Promise<Map<string, number>> {
      const rows = await ts.store.db.selectFrom('product').select(['sku', 'stock_version']).where('sku', 'in', products.map((p) => p.sku)).execute()
      return new Map(rows.map((r) => [r.sku, Number(r.stock_version)]))
    }
    function worker(resolve: (id: string) => Destination | undefined, o: Partial<ConstructorParameters<typeof DeliveryWorker>[2]> = {}) {
      const w = new DeliveryWorker(deps, async (id) => resolve(id), { workerId: `pl-${++seq}`, pollMs: 20, batchSize: 400, ...o })
      cleanups.push(() => w.stop())
      return w
    }

    it('a stream of changes to one target is carried by its lanes at once (up to its bound), never two deliveries of a SKU at once, newest last', async () => {
      const { products, ids } = await setup(40, 1)
      const probe = new Probe({ concurrency: 4, maxBatch: 100, minBatch: 1 }, (n) => 60 + 5 * n)
      const w = worker((id) => (id === ids[0] ? probe : undefined))
      w.start()
      // about 200 changes/s for a second, random SKUs (repeats included)
      for (let i = 0; i < 200; i++) {
        await move(products[Math.floor(Math.random() * products.length)]!)
        if (i % 2 === 1) await sleep(10)
      }
      const versions = await newest(products)
      await pollUntil(async () => ([...versions].every(([sku, v]) => v === 0 || probe.got.get(sku)?.at(-1) === v) ? true : undefined), 15_000, 20, 'every newest version')
      await pollUntil(async () => ((await deliveryRows(ts, ids[0]!)).length === 0 ? true : undefined), 5000, 20, 'the slots to be freed')
      expect(probe.overlaps).toEqual([])
      expect(probe.regressions()).toEqual([])
      expect(probe.maxInFlight).toBeGreaterThan(1)
      expect(probe.maxInFlight).toBeLessThanOrEqual(4)
      expect(w.stats().get(ids[0]!)?.dead ?? 0).toBe(0)
      console.log(`[pipelining ${db.name}] 200 changes over 40 SKUs: ${probe.calls.length} deliveries (${probe.calls.join(',')}), at most ${probe.maxInFlight} at once`)
    })

    it('a small batch lingers for more while the target has a delivery in flight; an idle target sends at once', async () => {
      const { products, ids } = await setup(4, 1)
      const probe = new Probe({ concurrency: 4, maxBatch: 100, minBatch: 4, lingerMs: 300 }, (n) => (n === 1 ? 800 : 10))
      const w = worker((id) => (id === ids[0] ? probe : undefined))
      w.start()
      await move(products[0]!)
      await pollUntil(async () => (probe.calls.length === 1 ? true : undefined), 5000, 5, 'the first change to go out alone')
      // Three more while the first is in flight: with free lanes they could each go alone; they wait for one another instead.
      for (const p of products.slice(1)) await move(p)
      await pollUntil(async () => (probe.got.size === 4 ? true : undefined), 10_000, 10, 'all four SKUs delivered')
      expect(probe.calls).toEqual([1, 3])
      expect(probe.overlaps).toEqual([])
    })

    it('a backlog goes out over every lane in batches of at most the target’s size; the global bound caps deliveries over all targets', async () => {
      const { products, ids } = await setup(300, 3)
      // the backlog is written before the worker starts
      for (const p of products) await move(p)
      const shared = { inFlight: 0, max: 0 }
      const probes = new Map(ids.map((id) => [id, new Probe({ concurrency: 4, maxBatch: 50, minBatch: 1 }, () => 80, shared)]))
      const w = worker((id) => probes.get(id), { concurrency: 5 })
      w.start()
      await pollUntil(async () => ([...probes.values()].every((p) => p.got.size === products.length) ? true : undefined), 15_000, 20, 'every SKU at every target')
      for (const p of probes.values()) {
        expect(p.overlaps).toEqual([])
        expect(p.calls.every((n) => n <= 50)).toBe(true)
        expect(p.maxInFlight).toBeLessThanOrEqual(4)
      }
      expect(shared.max).toBeGreaterThan(1)
      expect(shared.max).toBeLessThanOrEqual(5)
      // 300 SKUs a target in batches of at most 50: six full batches each is the fewest possible
      console.log(`[pipelining ${db.name}] 3 targets × 300 SKUs: ${[...probes.values()].map((p) => p.calls.length).join(' / ')} deliveries, at most ${shared.max} at once over all`)
    })

    it('a slow target fills only its own lanes: another target’s changes go out meanwhile', async () => {
      const { products, ids } = await setup(10, 2)
      const slow = new Probe({ concurrency: 2, maxBatch: 1, minBatch: 1 }, () => 3000)
      const fast = new Probe({ concurrency: 2, maxBatch: 1, minBatch: 1 }, () => 5)
      const w = worker((id) => (id === ids[0] ? slow : id === ids[1] ? fast : undefined))
      w.start()
      for (const p of products) await move(p)
      await pollUntil(async () => (fast.got.size === products.length ? true : undefined), 15_000, 10, 'the fast target to get every SKU')
      // The slow target needs five rounds of 3 s for its ten SKUs; the fast one did not wait for them.
      expect(slow.got.size).toBeLessThan(products.length)
      expect(slow.maxInFlight).toBe(2)
    })

    it('a request that outlives the lease keeps its slot (the lease is renewed): another worker does not send it again', async () => {
      const { products, ids } = await setup(1, 1)
      const probe = new Probe({ concurrency: 4, maxBatch: 100, minBatch: 1 }, () => 1200)
      const a = worker((id) => (id === ids[0] ? probe : undefined), { leaseMs: 300 })
      const b = worker((id) => (id === ids[0] ? probe : undefined), { leaseMs: 300 })
      a.start()
      await move(products[0]!)
      await pollUntil(async () => (probe.calls.length === 1 ? true : undefined), 3000, 5, 'the delivery in flight')
      b.start()
      await pollUntil(async () => (probe.got.size === 1 ? true : undefined), 5000, 10, 'the delivery to finish')
      await pollUntil(async () => ((await deliveryRows(ts, ids[0]!)).length === 0 ? true : undefined), 3000, 10, 'the slot to be freed')
      // four lease periods passed while the request was in flight: nobody took the slot
      expect(probe.calls).toEqual([1])
      expect(probe.overlaps).toEqual([])
      expect(a.stats().get(ids[0]!)).toEqual({ ok: 1, retried: 0, dead: 0 })
    })
  })
}
