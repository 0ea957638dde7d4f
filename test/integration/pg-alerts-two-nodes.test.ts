/**
 * Two nodes on one PostgreSQL database (#15): each with its own pool, alert evaluator and delivery
 * worker running, sales arriving through both at once. Every crossing becomes exactly one alert
 * and one message, whichever node evaluated it: the nodes queue on the evaluator's cursor row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alertChannelResolver } from '../../src/connectors/alert-channels/destination.js'
import { createChannel } from '../../src/service/alert-channels.js'
import { AlertEvaluator } from '../../src/service/alerts.js'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { openStore, type Store } from '../../src/store/db.js'
import { readEventPage } from '../../src/store/outbox-repo.js'
import { subscriptionResolver } from '../../src/sync/subscription-destinations.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { pollUntil, Subscriber } from '../engine/support-engine.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'

const pgDb = DATABASES.find((d) => d.name === 'postgres')

describe.skipIf(!pgDb || pgDb.skipReason !== null)('postgres: two nodes evaluate alerts, one alert per crossing', () => {
  let ts: TestStore
  let storeB: Store
  let a: ServiceDeps
  let b: ServiceDeps
  let sink: Subscriber
  const stops: Array<() => Promise<void>> = []

  beforeAll(async () => {
    ts = await createTestStore('postgres')
    storeB = openStore(ts.url, { poolSize: 8 })
    a = testDeps(ts.store, systemClock)
    b = testDeps(storeB, systemClock)
    sink = await Subscriber.start()
    for (const deps of [a, b]) {
      const ev = new AlertEvaluator(deps, { hysteresis: 0, pageSize: 7 }, { pollMs: 50, minGapMs: 1 })
      const worker = new DeliveryWorker(deps, alertChannelResolver(deps, 5000, subscriptionResolver(deps.store.db, 5000, 0)), { workerId: `node-${stops.length}`, pollMs: 50 })
      ev.start()
      worker.start()
      stops.push(() => ev.stop(), () => worker.stop())
    }
  })
  afterAll(async () => {
    for (const s of stops) await s()
    await sink?.close()
    await storeB?.close().catch(() => {})
    await ts?.drop()
  })

  it('sales through both nodes cross the threshold three times: three alerts, three messages', async () => {
    const wh = await makeWarehouse(a, { code: 'TN-W' })
    const p = await makeProduct(a, { sku: 'TN-1', lowStockThreshold: 20 })
    await createChannel(a, { name: 'two-nodes', kind: 'webhook', config: { url: sink.url }, scopes: ['total'] })
    const move = (deps: ServiceDeps, changeType: 'sale' | 'restock', quantity: number) =>
      updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType, quantity, source: 'test', referenceId: null, notes: null }, { actor: 'test:two-nodes' })
    await move(a, 'restock', 60)
    // Sales through both nodes at once, 10 in flight: 60 → 10 crosses 20 once.
    const sales = async (n: number) => {
      for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => move(j % 2 ? a : b, 'sale', 1)))
    }
    await sales(50)
    await move(b, 'restock', 100) // 110: back in stock
    await sales(95) // 15: low again

    const kinds = async () =>
      (await ts.store.db.selectFrom('alert').select(['id', 'kind']).where('sku', '=', p.sku).where('scope', '=', 'total').orderBy('id').execute()).map((r) => r.kind)
    await pollUntil(async () => ((await kinds()).length >= 3 && sink.received.length >= 3 ? true : undefined), 30_000, 50, 'three alerts delivered')
    // Let any duplicate evaluation or delivery show itself before counting: wait until no
    // committed stock event lies past the cursor. The cursor is in transaction order
    // (tx_id, seq), so its seq need not be the largest seq: a later transaction can hold a
    // smaller one.
    await pollUntil(async () => {
      const c = await ts.store.db.selectFrom('alert_cursor').select(['tx_id', 'seq']).executeTakeFirstOrThrow()
      const page = await readEventPage(ts.store.db, ts.store.caps, { txId: Number(c.tx_id), seq: Number(c.seq) }, { events: ['stock.changed'] }, 1)
      return page.events.length === 0 && !page.heldBack ? true : undefined
    }, 30_000, 50, 'the evaluator to reach the last event')
    expect(await kinds()).toEqual(['low_stock', 'back_in_stock', 'low_stock'])
    const ids = sink.received.map((r) => (JSON.parse(r.raw) as { data: { id: string } }).data.id)
    expect(ids).toHaveLength(3)
    expect(new Set(ids).size).toBe(3)
  })
})
