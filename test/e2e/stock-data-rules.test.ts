/**
 * The stock figures' rules a new user tripped over (#12): negative availability hidden from
 * totals and store figures, adjustments that are not counts, bulk-sync outcomes that partition
 * the items, inactive warehouses, and one SKU per product id. Through the app, on both databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { storeFigures } from '../../src/connectors/woocommerce/figures.js'
import { findLevel } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'
import { expectJson, expectProblem, snapshot } from './support-e2e.js'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: stock data rules (#12)`, () => {
    let ts: TestStore
    let clock: TestClock
    let deps: ServiceDeps
    let t: Awaited<ReturnType<typeof testApp>>
    let w1: Warehouse
    let w2: Warehouse
    let n = 0

    const product = (over: Partial<Product> = {}) => makeProduct(deps, { sku: `DR-${++n}`, productId: 40_000 + n, ...over })
    const move = async (body: Record<string, unknown>) => expectJson(await t.call('POST', 'stock/update', { body }))
    const lastEvent = async (sku: string) => {
      const row = await ts.store.db.selectFrom('outbox_event').select('payload').where('sku', '=', sku).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()
      return JSON.parse(row.payload) as { totals: { on_hand: number; reserved: number; available: number } }
    }

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      t = await testApp(deps)
      w1 = await makeWarehouse(deps, { priority: 1 })
      w2 = await makeWarehouse(deps, { priority: 2 })
    })
    afterAll(async () => ts?.drop())

    describe('negative availability (item 1)', () => {
      it('a warehouse short of its safety stock adds nothing to total_available, the event totals or the store figure', async () => {
        const p = await product({ safetyStock: 2 })
        await move({ sku: p.sku, warehouse_id: w1.id, quantity: 0, change_type: 'adjustment' }) // 0 on hand, safety 2: available −2
        await move({ sku: p.sku, warehouse_id: w2.id, quantity: 7, change_type: 'restock' }) // available 5
        const body = await expectJson(await t.call('GET', `stock/${p.sku}`))
        expect(body.data.warehouses.map((l: { available: number }) => l.available)).toEqual([-2, 5])
        expect(body.data).toMatchObject({ total_stock: 7, total_reserved: 0, total_available: 5 })
        expect((await lastEvent(p.sku)).totals).toEqual({ on_hand: 7, reserved: 0, available: 5 })
        const figures = await storeFigures(ts.store.db, { warehouses: [w1.id, w2.id], buffer: 0 }, [p.sku])
        expect(figures.get(p.sku)).toBe(5)
        // The batch read and a bulk sync's events follow the same rule.
        const batch = await expectJson(await t.call('GET', `stock?skus=${p.sku}`))
        expect(batch.data[0].total_available).toBe(5)
        await expectJson(await t.call('POST', 'stock/bulk-sync', { body: { items: [{ sku: p.sku, warehouse_id: w2.id, quantity: 9 }] } }))
        expect((await lastEvent(p.sku)).totals).toEqual({ on_hand: 9, reserved: 0, available: 7 })
      })

      it('reservations beyond a level do not go negative into totals either; backorder SKUs never total below zero', async () => {
        const p = await product({ allowsBackorders: true })
        await move({ sku: p.sku, warehouse_id: w1.id, quantity: 3, change_type: 'sale' }) // backorder: on hand −3
        await move({ sku: p.sku, warehouse_id: w2.id, quantity: 4, change_type: 'restock' })
        const body = await expectJson(await t.call('GET', `stock/${p.sku}`))
        expect(body.data).toMatchObject({ total_stock: 1, total_available: 4 })
        expect((await lastEvent(p.sku)).totals.available).toBe(4)
        expect((await storeFigures(ts.store.db, { warehouses: [w1.id], buffer: 0 }, [p.sku])).get(p.sku)).toBe(0)
      })
    })

    describe('counts and adjustments (item 2)', () => {
      it('an adjustment does not make a sync observed a moment before it stale', async () => {
        const p = await product()
        await move({ sku: p.sku, warehouse_id: w1.id, quantity: 10, change_type: 'adjustment' })
        const level = await findLevel(ts.store.db, p.sku, w1.id)
        expect(level?.lastCountedAt).toBeNull()
        const res = await move({ sku: p.sku, warehouse_id: w1.id, quantity: 8, change_type: 'sync', observed_at: new Date(clock.now() - 500).toISOString() })
        expect(res.data).toMatchObject({ status: 'applied', new_stock: 8 })
        // A sync is a count: an older one after it is still stale.
        const late = await move({ sku: p.sku, warehouse_id: w1.id, quantity: 1, change_type: 'sync', observed_at: new Date(clock.now() - 1000).toISOString() })
        expect(late.data).toMatchObject({ status: 'stale', new_stock: 8 })
      })
    })

    describe('bulk-sync outcomes (item 3)', () => {
      it('applied + unchanged + stale + rejected = items; a count equal to on hand is kept in the ledger, marked unchanged, with no event', async () => {
        const [a, b, c] = [await product(), await product(), await product()]
        await move({ sku: a.sku, warehouse_id: w1.id, quantity: 5, change_type: 'restock' })
        await move({ sku: c.sku, warehouse_id: w1.id, quantity: 2, change_type: 'sync', observed_at: new Date(clock.now() + 60_000).toISOString() })
        const before = await findLevel(ts.store.db, a.sku, w1.id)
        const body = await expectJson(
          await t.call('POST', 'stock/bulk-sync', {
            body: {
              reference_id: 'count-dr-1',
              items: [
                { sku: a.sku, warehouse_id: w1.id, quantity: 5 },
                { sku: b.sku, warehouse_id: w1.id, quantity: 4 },
                { sku: c.sku, warehouse_id: w1.id, quantity: 9 },
                { sku: 'DR-NOPE', warehouse_id: w1.id, quantity: 1 },
              ],
            },
          }),
        )
        expect(body.data).toMatchObject({ applied: 1, unchanged: 1, stale: 1, rejected: 1 })
        expect(body.data.applied + body.data.unchanged + body.data.stale + body.data.rejected).toBe(4)
        expect(body.data.results.map((r: { status: string }) => r.status)).toEqual(['unchanged', 'applied', 'stale', 'rejected'])
        const rows = await ts.store.db.selectFrom('ledger_entry').selectAll().where('reference_id', '=', 'count-dr-1').orderBy('id').execute()
        expect(rows.map((r) => [r.sku, r.status]).sort()).toEqual([[a.sku, 'unchanged'], [b.sku, 'applied'], [c.sku, 'stale']].sort())
        const after = await findLevel(ts.store.db, a.sku, w1.id)
        expect(after).toMatchObject({ onHand: 5, version: before!.version, lastCountedAt: clock.now() })
        await expectOneEventPerAppliedMovement(ts.store, [a.sku, b.sku, c.sku])
        await expectLevelsMatchLedger(ts.store, [a.sku, b.sku, c.sku])
        // History shows the marked row.
        const hist = await expectJson(await t.call('GET', `stock/history?sku=${a.sku}&limit=1`))
        expect(hist.data[0]).toMatchObject({ change_type: 'sync', status: 'unchanged', delta: 0 })
      })

      it('a single sync equal to on hand is marked unchanged too', async () => {
        const p = await product()
        await move({ sku: p.sku, warehouse_id: w1.id, quantity: 3, change_type: 'restock' })
        const res = await move({ sku: p.sku, warehouse_id: w1.id, quantity: 3, change_type: 'sync' })
        expect(res).toMatchObject({ message: expect.stringMatching(/confirms/), data: { status: 'unchanged', delta: 0 } })
        await expectOneEventPerAppliedMovement(ts.store, [p.sku])
        await expectLevelsMatchLedger(ts.store, [p.sku])
      })
    })

    describe('inactive warehouses (item 4)', () => {
      it('refuse explicit sales and reservations with 409 warehouse_inactive; restocks, counts and transfers still apply', async () => {
        const closing = await makeWarehouse(deps, { isActive: false })
        const p = await product()
        await move({ sku: p.sku, warehouse_id: closing.id, quantity: 6, change_type: 'restock' })
        const snap = await snapshot(ts.store.db)
        const sale = await expectProblem(await t.call('POST', 'stock/update', { body: { sku: p.sku, warehouse_id: closing.id, quantity: 1, change_type: 'sale' } }), 409, 'warehouse_inactive')
        expect(sale).toMatchObject({ warehouse_id: closing.id })
        expect(sale.detail).toMatch(/inactive/)
        await expectProblem(await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 1, warehouse_id: closing.id } }), 409, 'warehouse_inactive')
        expect(await snapshot(ts.store.db)).toEqual(snap)
        await move({ sku: p.sku, warehouse_id: closing.id, quantity: 5, change_type: 'sync' })
        await expectJson(await t.call('POST', 'stock/transfer', { body: { sku: p.sku, from_warehouse_id: closing.id, to_warehouse_id: w1.id, quantity: 5 } }))
        // Its stock still counts in totals.
        expect((await expectJson(await t.call('GET', `stock/${p.sku}`))).data.total_stock).toBe(5)
      })
    })

    describe('one SKU per product id (item 5)', () => {
      it('a second SKU on a taken product id is 409 product_id_taken; variations with their own ids are fine', async () => {
        const p = await product()
        const snap = await snapshot(ts.store.db)
        const res = await expectProblem(await t.call('POST', 'products', { body: { sku: `${p.sku}-DUP`, product_id: p.productId } }), 409, 'product_id_taken')
        expect(res).toMatchObject({ product_id: p.productId, sku: p.sku })
        expect(await snapshot(ts.store.db)).toEqual(snap)
        await expectJson(await t.call('POST', 'products', { body: { sku: `${p.sku}-V1`, product_id: 49_001, parent_id: p.productId } }), 201)
        await expectJson(await t.call('POST', 'products', { body: { sku: `${p.sku}-V2`, product_id: 49_002, parent_id: p.productId } }), 201)
        await expectProblem(await t.call('PATCH', `products/${p.sku}-V2`, { body: { product_id: 49_001 } }), 409, 'product_id_taken')
        // Its own id again is no conflict.
        await expectJson(await t.call('PATCH', `products/${p.sku}`, { body: { product_id: p.productId } }))
      })
    })
  })
}
