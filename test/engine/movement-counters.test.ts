/**
 * stockbridge_movements_total counts every path that moves stock (#15), not only POST
 * /stock/update: bulk syncs (and CSV count imports and pulls, which go through them),
 * reservations, commits, releases and expiries, transfers, provider deliveries and held items
 * applied later; each with the ledger's change type and the right outcome, after the commit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registry } from '../../src/observability/metrics.js'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { bulkSync } from '../../src/service/bulk-sync.js'
import { importCounts } from '../../src/service/count-import.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { addProvider, findInboundProvider, receiveProviderPayload, resolveHeld } from '../../src/service/providers.js'
import { commitReservation, createReservation, expireReservations, releaseReservation } from '../../src/service/reservations.js'
import { updateStock } from '../../src/service/stock.js'
import { transferStock } from '../../src/service/transfer.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps, type TestClock } from '../support/fixtures.js'

const ctx = { actor: 'test:counters' }

async function movements(): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const v of (await registry.getSingleMetric('stockbridge_movements_total')!.get()).values) out.set(`${v.labels.change_type}/${v.labels.outcome}`, v.value)
  return out
}
const oversells = async () => (await registry.getSingleMetric('stockbridge_oversell_refusals_total')!.get()).values[0]?.value ?? 0

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: movement counters on every path`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let clock: TestClock
    let w1: Warehouse
    let w2: Warehouse
    let p: Product
    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      w1 = await makeWarehouse(deps, { code: 'MC-W1' })
      w2 = await makeWarehouse(deps, { code: 'MC-W2' })
      p = await makeProduct(deps, { sku: `MC-${db.name}` })
    })
    afterAll(async () => {
      await ts?.drop()
    })

    /** What `work` added to each change_type/outcome series (and to oversell refusals). */
    async function delta(work: () => Promise<unknown>): Promise<Record<string, number>> {
      const before = await movements()
      const o0 = await oversells()
      await work()
      const out: Record<string, number> = {}
      for (const [k, v] of await movements()) if (v !== (before.get(k) ?? 0)) out[k] = v - (before.get(k) ?? 0)
      const o = (await oversells()) - o0
      if (o !== 0) out.oversell = o
      return out
    }
    const refused = (work: () => Promise<unknown>) => async () => expect(work()).rejects.toMatchObject({ code: 'insufficient_stock' })

    it('counts bulk syncs, count imports and stale counts as sync; rejected items not at all', async () => {
      expect(await delta(() => bulkSync(deps, { items: [{ sku: p.sku, warehouse_id: w1.id, quantity: 20 }, { sku: p.sku, warehouse_id: w2.id, quantity: 5 }, { sku: 'MC-NOBODY', warehouse_id: w1.id, quantity: 1 }], source: 'test', referenceId: null }, ctx))).toEqual({ 'sync/applied': 2 })
      // a count observed before the last one is stale
      expect(await delta(() => bulkSync(deps, { items: [{ sku: p.sku, warehouse_id: w1.id, quantity: 7 }], source: 'test', referenceId: null, observedAt: clock.now() - 60_000 }, ctx))).toEqual({ 'sync/stale': 1 })
      // a CSV count import (and a warehouse pull, which imports its rows the same way)
      clock.advance(1000)
      expect(await delta(() => importCounts(deps, [{ line: 2, sku: p.sku, warehouse: w1.code, quantity: 30, observedAt: null, referenceId: null }], { source: 'csv', dryRun: false, observedAt: clock.now() }, ctx))).toEqual({ 'sync/applied': 1 })
    })

    it('counts reservations, commits, releases and expiries per warehouse line, and refusals', async () => {
      // 30 at W1, 5 at W2: 32 units split over both warehouses are two reserve movements
      const split = await createReservation(deps, { sku: p.sku, quantity: 32, source: 'test', referenceId: null, notes: null }, ctx)
      expect(split.value.reservation.lines).toHaveLength(2)
      expect(await delta(async () => commitReservation(deps, split.value.reservation.id, ctx))).toEqual({ 'commit/applied': 2 })
      expect(await delta(refused(() => createReservation(deps, { sku: p.sku, quantity: 1000, source: 'test', referenceId: null, notes: null }, ctx)))).toEqual({ 'reserve/refused': 1, oversell: 1 })
      let id = ''
      expect(
        await delta(async () => {
          id = (await createReservation(deps, { sku: p.sku, quantity: 1, warehouseId: w2.id, source: 'test', referenceId: null, notes: null }, ctx)).value.reservation.id
        }),
      ).toEqual({ 'reserve/applied': 1 })
      expect(await delta(() => releaseReservation(deps, id, ctx))).toEqual({ 'release/applied': 1 })
      await createReservation(deps, { sku: p.sku, quantity: 1, warehouseId: w2.id, source: 'test', referenceId: null, notes: null, ttlSeconds: 60 }, ctx)
      clock.advance(61_000)
      expect(await delta(() => expireReservations(deps))).toEqual({ 'release/applied': 1 })
    })

    it('counts both legs of a transfer, and a refused transfer once', async () => {
      await updateStock(deps, { sku: p.sku, warehouseId: w1.id, changeType: 'restock', quantity: 10, source: 'test', referenceId: null, notes: null }, ctx)
      expect(await delta(() => transferStock(deps, { sku: p.sku, fromWarehouseId: w1.id, toWarehouseId: w2.id, quantity: 2, source: 'test', referenceId: null, notes: null }, ctx))).toEqual({ 'transfer/applied': 2 })
      expect(await delta(refused(() => transferStock(deps, { sku: p.sku, fromWarehouseId: w1.id, toWarehouseId: w2.id, quantity: 1000, source: 'test', referenceId: null, notes: null }, ctx)))).toEqual({ 'transfer/refused': 1, oversell: 1 })
    })

    it('counts provider deliveries by their change types, held items when applied, and no replay', async () => {
      const opts = { sealKey: null }
      await addProvider(deps, opts, { name: `mc-wms-${db.name}`, secret: 'a-secret-for-the-counter-test', mapping: '{"event_id": id, "movements": [lines.{"sku": sku, "warehouse_code": "MC-W1", "quantity": qty, "change_type": type}]}', unknownSku: 'hold' })
      const provider = (await findInboundProvider(deps, opts, `mc-wms-${db.name}`))!
      const payload = JSON.stringify({ id: 'mc-1', lines: [{ sku: p.sku, qty: 4, type: 'restock' }, { sku: p.sku, qty: 1, type: 'sale' }, { sku: p.sku, qty: 100_000, type: 'sale' }, { sku: 'THEIR-MC', qty: 3, type: 'restock' }] })
      expect(await delta(() => receiveProviderPayload(deps, provider, payload, ctx))).toEqual({ 'restock/applied': 1, 'sale/applied': 1, 'sale/refused': 1, oversell: 1 })
      expect(await delta(() => receiveProviderPayload(deps, provider, payload, ctx))).toEqual({}) // the same event again: a replay
      expect(await delta(() => resolveHeld(deps, opts, provider.name, 'THEIR-MC', { sku: p.sku }, ctx))).toEqual({ 'restock/applied': 1 })
    })
  })
}
