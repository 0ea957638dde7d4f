/**
 * Every route's happy path through the in-process app: response shapes (the seed's success/data),
 * the stock rules as a caller sees them, reservations with expiry on an injected clock,
 * idempotent replays, history paging, the catalogue, and the unauthenticated documents.
 */
import { z } from '@hono/zod-openapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { expireReservations } from '../../src/service/reservations.js'
import { BulkItemSchema, EntrySchema, envelope, MovementSchema, ProductSchema, ReservationSchema, StockSchema, WarehouseSchema } from '../../src/http/schemas.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, testApp, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { expectLevelsMatchLedger } from '../support/ledger-check.js'
import { API, expectJson, expectProblem, seedCatalog, snapshot, type Seed } from './support-e2e.js'

const StockResponse = envelope(StockSchema).extend({ timestamp: z.string() })
const BatchResponse = envelope(z.array(StockSchema)).extend({ not_found: z.array(z.string()), timestamp: z.string() })
const UpdateResponse = envelope(MovementSchema).extend({ message: z.string() })
const BulkResponse = envelope(z.object({ applied: z.number(), stale: z.number(), unchanged: z.number(), rejected: z.number(), results: z.array(BulkItemSchema) }))
const TransferResponse = envelope(z.object({ transfer_id: z.string(), from: MovementSchema, to: MovementSchema }))
const ReservationResponse = envelope(ReservationSchema)
const HistoryResponse = envelope(z.array(EntrySchema)).extend({ next_cursor: z.string().nullable() })
type Entry = z.infer<typeof EntrySchema>

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: every route, happy paths`, () => {
    let ts: TestStore
    let clock: TestClock
    let deps: ServiceDeps
    let s: Seed
    let t: Awaited<ReturnType<typeof testApp>>
    let n = 0

    /** A fresh SKU (so tests do not depend on each other), stocked through the API. */
    async function stocked(stock: Array<[number, number]>, over: Partial<Product> = {}): Promise<Product> {
      const p = await makeProduct(deps, { sku: `R-P${++n}`, productId: 20_000 + n, ...over })
      for (const [warehouseId, quantity] of stock) await update({ sku: p.sku, warehouse_id: warehouseId, quantity, change_type: 'restock' })
      return p
    }
    async function update(body: Record<string, unknown>, headers: Record<string, string> = {}) {
      return UpdateResponse.parse(await expectJson(await t.call('POST', 'stock/update', { body, headers })))
    }
    async function level(sku: string, warehouseId: number) {
      return (await findLevelsBySkus(ts.store.db, [sku])).find((l) => l.warehouseId === warehouseId)
    }
    async function ledgerOf(sku: string) {
      return ts.store.db.selectFrom('ledger_entry').selectAll().where('sku', '=', sku).orderBy('id').execute()
    }

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      s = await seedCatalog(deps, 'R')
      t = await testApp(deps)
    })
    afterAll(async () => ts?.drop())

    describe('reading stock', () => {
      it('GET /stock/{sku} without a warehouse: totals and a per-warehouse breakdown', async () => {
        const body = StockResponse.parse(await expectJson(await t.call('GET', `stock/${s.tee.sku}`, { key: t.keys.read })))
        expect(body.success).toBe(true)
        expect(Date.parse(body.timestamp)).not.toBeNaN()
        expect(body.data).toMatchObject({ sku: s.tee.sku, product_id: 501, parent_id: null, backorders: false, total_stock: 15, total_reserved: 0, total_available: 15, warehouse_ids: `${s.w1.id},${s.w2.id}` })
        expect(body.data.warehouses.map((l) => [l.warehouse_id, l.warehouse_code, l.on_hand, l.reserved, l.available])).toEqual([
          [s.w1.id, s.w1.code, 10, 0, 10],
          [s.w2.id, s.w2.code, 5, 0, 5],
        ])
        expect(body.data.current_stock).toBeUndefined()
        // warehouse_id=0 means the same as no warehouse (the seed's convention).
        const zero = StockResponse.parse(await expectJson(await t.call('GET', `stock/${s.tee.sku}?warehouse_id=0`)))
        expect(zero.data).toEqual(body.data)
      })

      it('GET /stock/{sku}?warehouse_id=: the seed\'s current_stock / reserved_stock / available_stock', async () => {
        const p = await stocked([[s.w2.id, 7]], { safetyStock: 1 })
        await expectJson(await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 2, warehouse_id: s.w2.id } }), 201)
        const body = StockResponse.parse(await expectJson(await t.call('GET', `stock/${p.sku}?warehouse_id=${s.w2.id}`)))
        expect(body.data).toMatchObject({ warehouse_id: s.w2.id, current_stock: 7, reserved_stock: 2, available_stock: 4, total_stock: 7, total_reserved: 2, total_available: 4 })
        expect(body.data.warehouses).toHaveLength(1)
        expect(body.data.warehouses[0]).toMatchObject({ on_hand: 7, reserved: 2, safety_stock: 1, available: 4, version: 2 })
        // A registered SKU reads as zero in a warehouse it never moved in.
        const empty = StockResponse.parse(await expectJson(await t.call('GET', `stock/${p.sku}?warehouse_id=${s.w1.id}`)))
        expect(empty.data).toMatchObject({ warehouse_id: s.w1.id, current_stock: 0, reserved_stock: 0, available_stock: -1 })
      })

      it('GET /stock?skus=: several SKUs at once, unknown ones listed in not_found', async () => {
        const body = BatchResponse.parse(await expectJson(await t.call('GET', `stock?skus=${s.mug.sku},NOPE-1,${s.tee.sku},${s.mug.sku}`)))
        expect(body.data.map((d) => [d.sku, d.total_stock])).toEqual([
          [s.mug.sku, 3],
          [s.tee.sku, 15],
        ])
        expect(body.not_found).toEqual(['NOPE-1'])
        const one = BatchResponse.parse(await expectJson(await t.call('GET', `stock?skus=${s.tee.sku}&warehouse_id=${s.w2.id}`)))
        expect(one.data[0]).toMatchObject({ sku: s.tee.sku, warehouse_id: s.w2.id, current_stock: 5 })
      })
    })

    describe('POST /stock/update', () => {
      it('returns previous_stock and new_stock and appends one ledger row per movement', async () => {
        const p = await stocked([])
        const restock = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 5, change_type: 'restock', source: 'erp', reference_id: 'PO-1', notes: 'first delivery' })
        expect(restock).toMatchObject({ success: true, message: 'Stock updated' })
        expect(restock.data).toMatchObject({ sku: p.sku, warehouse_id: s.w1.id, change_type: 'restock', status: 'applied', quantity: 5, delta: 5, previous_stock: 0, new_stock: 5, source: 'erp', reference_id: 'PO-1', notes: 'first delivery', available: 5 })
        expect(restock.data.level).toMatchObject({ on_hand: 5, version: 1, warehouse_code: s.w1.code })
        // The seed's aliases: deduction is a sale, addition a restock.
        const deduction = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 2, change_type: 'deduction' })
        expect(deduction.data).toMatchObject({ change_type: 'sale', previous_stock: 5, new_stock: 3, delta: -2 })
        const addition = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 4, change_type: 'addition' })
        expect(addition.data).toMatchObject({ change_type: 'restock', previous_stock: 3, new_stock: 7 })
        const adjustment = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 2, change_type: 'adjustment' })
        expect(adjustment.data).toMatchObject({ change_type: 'adjustment', quantity: 2, previous_stock: 7, new_stock: 2, delta: -5 })
        const rows = await ledgerOf(p.sku)
        expect(rows.map((r) => [Number(r.id), r.change_type, r.on_hand_before, r.on_hand_after])).toEqual([
          [restock.data.id, 'restock', 0, 5],
          [deduction.data.id, 'sale', 5, 3],
          [addition.data.id, 'restock', 3, 7],
          [adjustment.data.id, 'adjustment', 7, 2],
        ])
        expect(rows.every((r) => r.actor.startsWith('key_'))).toBe(true)
        await expectLevelsMatchLedger(ts.store, [p.sku])
      })

      it('a sale beyond available is refused with the available figure, and never clamped', async () => {
        const p = await stocked([[s.w1.id, 2]])
        const problem = await expectProblem(await t.call('POST', 'stock/update', { body: { sku: p.sku, warehouse_id: s.w1.id, quantity: 3, change_type: 'sale' } }), 409, 'insufficient_stock')
        expect(problem).toMatchObject({ requested: 3, available: 2 })
        expect((await level(p.sku, s.w1.id))?.onHand).toBe(2)
      })

      it('a SKU that allows backorders may be sold beyond what is on hand', async () => {
        const sold = await update({ sku: s.pre.sku, warehouse_id: s.w1.id, quantity: 3, change_type: 'sale' })
        expect(sold.data).toMatchObject({ previous_stock: 1, new_stock: -2, available: -2 })
        const body = StockResponse.parse(await expectJson(await t.call('GET', `stock/${s.pre.sku}`)))
        expect(body.data).toMatchObject({ backorders: true, total_stock: -2 })
        await expectLevelsMatchLedger(ts.store, [s.pre.sku])
      })

      it('a sync older than the newest applied count is recorded as stale and changes nothing', async () => {
        const p = await stocked([[s.w1.id, 10]])
        const at = (minutesAgo: number) => new Date(clock.now() - minutesAgo * 60_000).toISOString()
        const fresh = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 8, change_type: 'sync', observed_at: at(5) })
        expect(fresh).toMatchObject({ message: 'Stock updated', data: { status: 'applied', previous_stock: 10, new_stock: 8, observed_at: at(5) } })
        const late = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 50, change_type: 'sync', observed_at: at(30) })
        expect(late.message).toMatch(/stale/)
        expect(late.data).toMatchObject({ status: 'stale', quantity: 50, previous_stock: 8, new_stock: 8, delta: 0, observed_at: at(30) })
        const lvl = await level(p.sku, s.w1.id)
        expect(lvl).toMatchObject({ onHand: 8, lastCountedAt: clock.now() - 5 * 60_000 })
        const rows = await ledgerOf(p.sku)
        expect(rows.map((r) => [r.change_type, r.status, r.quantity, r.on_hand_after])).toEqual([
          ['restock', 'applied', 10, 10],
          ['sync', 'applied', 8, 8],
          ['sync', 'stale', 50, 8],
        ])
        // A newer count applies again.
        const newer = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 6, change_type: 'sync', observed_at: at(1) })
        expect(newer.data).toMatchObject({ status: 'applied', previous_stock: 8, new_stock: 6 })
        await expectLevelsMatchLedger(ts.store, [p.sku])
      })

      it('expected_on_hand is a compare-and-set: a mismatch is 409 version_conflict and changes nothing', async () => {
        const p = await stocked([[s.w1.id, 4]])
        const before = await snapshot(ts.store.db)
        const problem = await expectProblem(await t.call('POST', 'stock/update', { body: { sku: p.sku, warehouse_id: s.w1.id, quantity: 9, change_type: 'adjustment', expected_on_hand: 5 } }), 409, 'version_conflict')
        expect(problem).toMatchObject({ sku: p.sku, warehouse_id: s.w1.id, on_hand: 4, expected_on_hand: 5 })
        expect(await snapshot(ts.store.db)).toEqual(before)
        const ok = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 9, change_type: 'adjustment', expected_on_hand: 4 })
        expect(ok.data).toMatchObject({ previous_stock: 4, new_stock: 9 })
        const versioned = await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale', expected_version: ok.data.version })
        expect(versioned.data).toMatchObject({ previous_stock: 9, new_stock: 8, version: ok.data.version + 1 })
        await expectProblem(await t.call('POST', 'stock/update', { body: { sku: p.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale', expected_version: ok.data.version } }), 409, 'version_conflict')
      })
    })

    describe('POST /stock/bulk-sync', () => {
      it('applies the valid items, refuses the others, and answers each item in order', async () => {
        const a = await stocked([[s.w1.id, 10]])
        const b = await stocked([])
        const before = await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()
        const body = BulkResponse.parse(
          await expectJson(
            await t.call('POST', 'stock/bulk-sync', {
              body: {
                source: 'wms',
                reference_id: 'count-7',
                items: [
                  { sku: a.sku, warehouse_id: s.w1.id, quantity: 12 },
                  { sku: 'bad\u0007sku', warehouse_id: s.w1.id, quantity: 1 },
                  { sku: b.sku, warehouse_id: s.w2.id, quantity: 4 },
                  { sku: 'NOPE-9', warehouse_id: s.w1.id, quantity: 1 },
                  { sku: a.sku, warehouse_id: 9999, quantity: 1 },
                  { sku: a.sku, warehouse_id: s.w2.id, quantity: -1 },
                  { sku: a.sku, warehouse_id: s.w1.id, quantity: 12 },
                ],
              },
            }),
          ),
        )
        expect(body.success).toBe(true)
        expect(body.data).toMatchObject({ applied: 2, stale: 0, unchanged: 1, rejected: 4 })
        expect(body.data.results.map((r) => [r.index, r.status, r.code ?? null, r.previous_stock ?? null, r.new_stock ?? null])).toEqual([
          [0, 'applied', null, 10, 12],
          [1, 'rejected', 'validation_failed', null, null],
          [2, 'applied', null, 0, 4],
          [3, 'rejected', 'sku_not_found', null, null],
          [4, 'rejected', 'warehouse_not_found', null, null],
          [5, 'rejected', 'validation_failed', null, null],
          [6, 'unchanged', null, 12, 12],
        ])
        expect((await level(a.sku, s.w1.id))?.onHand).toBe(12)
        expect((await level(b.sku, s.w2.id))?.onHand).toBe(4)
        expect(await level(a.sku, s.w2.id)).toBeUndefined()
        // Each applied item's movement_id is its own ledger row (rows may be written in lock order,
        // not request order, but two items of one level keep their order).
        const byIndex = new Map(body.data.results.map((r) => [r.index, r.movement_id]))
        const rows = await ts.store.db.selectFrom('ledger_entry').selectAll().where('reference_id', '=', 'count-7').orderBy('id').execute()
        const rowById = new Map(rows.map((r) => [Number(r.id), r]))
        expect(rows).toHaveLength(3)
        expect(rowById.get(byIndex.get(0)!)).toMatchObject({ sku: a.sku, warehouse_id: s.w1.id, on_hand_before: 10, on_hand_after: 12 })
        expect(rowById.get(byIndex.get(2)!)).toMatchObject({ sku: b.sku, warehouse_id: s.w2.id, on_hand_before: 0, on_hand_after: 4 })
        expect(rowById.get(byIndex.get(6)!)).toMatchObject({ sku: a.sku, warehouse_id: s.w1.id, on_hand_before: 12, on_hand_after: 12 })
        expect(byIndex.get(0)!).toBeLessThan(byIndex.get(6)!)
        expect(rows.every((r) => r.change_type === 'sync' && r.source === 'wms')).toBe(true)
        // A count that confirms the figure is kept, marked unchanged (#12).
        expect([0, 2, 6].map((i) => rowById.get(byIndex.get(i)!)?.status)).toEqual(['applied', 'applied', 'unchanged'])
        const after = await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()
        expect(Number(after.n) - Number(before.n)).toBe(3)
        await expectLevelsMatchLedger(ts.store, [a.sku, b.sku])
      })

      it('a batch observed before the last count is stale for that level', async () => {
        const p = await stocked([])
        await update({ sku: p.sku, warehouse_id: s.w1.id, quantity: 5, change_type: 'sync', observed_at: new Date(clock.now() - 60_000).toISOString() })
        const body = BulkResponse.parse(
          await expectJson(await t.call('POST', 'stock/bulk-sync', { body: { observed_at: new Date(clock.now() - 3_600_000).toISOString(), items: [{ sku: p.sku, warehouse_id: s.w1.id, quantity: 99 }] } })),
        )
        expect(body.data).toMatchObject({ applied: 0, stale: 1, results: [{ status: 'stale', previous_stock: 5, new_stock: 5 }] })
        expect((await level(p.sku, s.w1.id))?.onHand).toBe(5)
        expect((await ledgerOf(p.sku)).at(-1)).toMatchObject({ change_type: 'sync', status: 'stale', quantity: 99 })
      })
    })

    it('POST /stock/transfer moves units with both legs in the ledger', async () => {
      const p = await stocked([[s.w1.id, 6]])
      const body = TransferResponse.parse(await expectJson(await t.call('POST', 'stock/transfer', { body: { sku: p.sku, from_warehouse_id: s.w1.id, to_warehouse_id: s.w2.id, quantity: 4, notes: 'rebalance' } })))
      expect(body.data.transfer_id).toMatch(/^trf_/)
      expect(body.data.from).toMatchObject({ warehouse_id: s.w1.id, change_type: 'transfer', quantity: 4, previous_stock: 6, new_stock: 2, reference_id: body.data.transfer_id })
      expect(body.data.to).toMatchObject({ warehouse_id: s.w2.id, change_type: 'transfer', quantity: 4, previous_stock: 0, new_stock: 4, reference_id: body.data.transfer_id })
      const rows = (await ledgerOf(p.sku)).filter((r) => r.change_type === 'transfer')
      expect(rows.map((r) => [r.warehouse_id, r.on_hand_before, r.on_hand_after, r.reference_id])).toEqual([
        [s.w1.id, 6, 2, body.data.transfer_id],
        [s.w2.id, 0, 4, body.data.transfer_id],
      ])
      const stock = StockResponse.parse(await expectJson(await t.call('GET', `stock/${p.sku}`)))
      expect(stock.data.total_stock).toBe(6)
      await expectLevelsMatchLedger(ts.store, [p.sku])
    })

    describe('reservations', () => {
      it('create in a named warehouse, read it back, commit it into a sale', async () => {
        const p = await stocked([[s.w1.id, 5]])
        const res = await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 2, warehouse_id: s.w1.id, reference_id: 'cart-1', source: 'shop' } })
        const created = ReservationResponse.parse(await expectJson(res, 201))
        const r = created.data
        expect(res.headers.get('location')).toBe(`${API}/reservations/${r.id}`)
        expect(r).toMatchObject({ sku: p.sku, quantity: 2, status: 'active', lines: [{ warehouse_id: s.w1.id, quantity: 2 }], reference_id: 'cart-1', source: 'shop' })
        expect(r.allocation).toEqual([`${s.w1.code} requested by the caller`])
        expect(Date.parse(r.expires_at) - Date.parse(r.created_at)).toBe(15 * 60_000)
        expect(await level(p.sku, s.w1.id)).toMatchObject({ onHand: 5, reserved: 2 })
        const got = ReservationResponse.parse(await expectJson(await t.call('GET', `reservations/${r.id}`, { key: t.keys.read })))
        expect(got.data).toEqual({ ...r, allocation: undefined })
        const committed = ReservationResponse.parse(await expectJson(await t.call('POST', `reservations/${r.id}/commit`, { key: t.keys.writeOnly })))
        expect(committed.data).toMatchObject({ id: r.id, status: 'committed' })
        expect(await level(p.sku, s.w1.id)).toMatchObject({ onHand: 3, reserved: 0 })
        expect((await ledgerOf(p.sku)).map((e) => [e.change_type, e.reservation_id, e.on_hand_after, e.reserved_after])).toEqual([
          ['restock', null, 5, 0],
          ['reserve', r.id, 5, 2],
          ['commit', r.id, 3, 0],
        ])
        await expectLevelsMatchLedger(ts.store, [p.sku])
      })

      it('without a warehouse: split across warehouses by priority, with the allocation explained; release gives it back', async () => {
        const p = await stocked([
          [s.w1.id, 3],
          [s.w2.id, 5],
        ])
        const created = ReservationResponse.parse(await expectJson(await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 6 } }), 201))
        expect(created.data.lines).toEqual([
          { warehouse_id: s.w1.id, quantity: 3 },
          { warehouse_id: s.w2.id, quantity: 3 },
        ])
        expect(created.data.allocation).toEqual(expect.arrayContaining([`${s.w1.code} (priority 1) gives 3 of 3 available`, `${s.w2.code} (priority 2) gives 3 of 5 available`]))
        expect(await level(p.sku, s.w1.id)).toMatchObject({ onHand: 3, reserved: 3 })
        expect(await level(p.sku, s.w2.id)).toMatchObject({ onHand: 5, reserved: 3 })
        const released = ReservationResponse.parse(await expectJson(await t.call('POST', `reservations/${created.data.id}/release`)))
        expect(released.data.status).toBe('released')
        expect(await level(p.sku, s.w1.id)).toMatchObject({ onHand: 3, reserved: 0 })
        expect(await level(p.sku, s.w2.id)).toMatchObject({ onHand: 5, reserved: 0 })
        const rows = await ledgerOf(p.sku)
        expect(rows.filter((e) => e.change_type === 'release').map((e) => [e.warehouse_id, e.quantity])).toEqual([
          [s.w1.id, 3],
          [s.w2.id, 3],
        ])
        await expectLevelsMatchLedger(ts.store, [p.sku])
      })

      describe('expiry on the injected clock', () => {
        let p: Product
        let id: string
        beforeAll(async () => {
          p = await stocked([[s.w1.id, 5]])
          id = ReservationResponse.parse(await expectJson(await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 2, warehouse_id: s.w1.id, ttl_seconds: 60 } }), 201)).data.id
          clock.advance(61_000)
        })

        it('commit after the expiry (before the sweeper ran) is 409 reservation_expired and changes nothing', async () => {
          const before = await snapshot(ts.store.db)
          await expectProblem(await t.call('POST', `reservations/${id}/commit`), 409, 'reservation_expired')
          expect(await snapshot(ts.store.db)).toEqual(before)
        })

        it('expireReservations releases it: status expired and a release row in the ledger', async () => {
          expect(await level(p.sku, s.w1.id)).toMatchObject({ reserved: 2 })
          expect(await expireReservations(deps)).toBe(1)
          expect(await expireReservations(deps)).toBe(0)
          const got = ReservationResponse.parse(await expectJson(await t.call('GET', `reservations/${id}`)))
          expect(got.data).toMatchObject({ status: 'expired', updated_at: new Date(clock.now()).toISOString() })
          expect(await level(p.sku, s.w1.id)).toMatchObject({ onHand: 5, reserved: 0 })
          expect((await ledgerOf(p.sku)).at(-1)).toMatchObject({ change_type: 'release', reservation_id: id, quantity: 2, reserved_before: 2, reserved_after: 0, actor: 'system:expiry' })
          await expectLevelsMatchLedger(ts.store, [p.sku])
        })

        it('commit after the sweeper expired it is still 409 reservation_expired', async () => {
          const before = await snapshot(ts.store.db)
          await expectProblem(await t.call('POST', `reservations/${id}/commit`), 409, 'reservation_expired')
          expect(await snapshot(ts.store.db)).toEqual(before)
        })
      })
    })

    describe('idempotency', () => {
      it('the same POST /stock/update twice under one Idempotency-Key: one ledger row, the same answer', async () => {
        const p = await stocked([[s.w1.id, 10]])
        const body = { sku: p.sku, warehouse_id: s.w1.id, quantity: 3, change_type: 'sale' }
        const first = await t.call('POST', 'stock/update', { body, headers: { 'Idempotency-Key': 'order-9001-line-1' } })
        const firstText = await first.text()
        expect(first.status).toBe(200)
        expect(first.headers.get('idempotent-replayed')).toBeNull()
        // Same request, keys in another order: still the same request.
        const second = await t.call('POST', 'stock/update', { raw: JSON.stringify({ change_type: 'sale', quantity: 3, warehouse_id: s.w1.id, sku: p.sku }), headers: { 'Idempotency-Key': 'order-9001-line-1' } })
        expect(second.status).toBe(200)
        expect(second.headers.get('idempotent-replayed')).toBe('true')
        expect(JSON.parse(await second.text())).toEqual(JSON.parse(firstText))
        expect((await ledgerOf(p.sku)).filter((r) => r.change_type === 'sale')).toHaveLength(1)
        expect((await level(p.sku, s.w1.id))?.onHand).toBe(7)
        // The key belongs to the caller: another key's identical request is a new movement.
        const other = await t.call('POST', 'stock/update', { body, key: t.keys.write, headers: { 'Idempotency-Key': 'order-9001-line-1' } })
        expect(other.status).toBe(200)
        expect(other.headers.get('idempotent-replayed')).toBeNull()
        expect((await level(p.sku, s.w1.id))?.onHand).toBe(4)
      })

      it('the seed\'s source + reference_id is an idempotency key too', async () => {
        const p = await stocked([[s.w1.id, 10]])
        const body = { sku: p.sku, warehouse_id: s.w1.id, quantity: 2, change_type: 'sale', source: 'woocommerce', reference_id: 'order-1042' }
        const first = UpdateResponse.parse(await expectJson(await t.call('POST', 'stock/update', { body })))
        const again = await t.call('POST', 'stock/update', { body })
        expect(again.headers.get('idempotent-replayed')).toBe('true')
        expect(UpdateResponse.parse(await expectJson(again))).toEqual(first)
        expect((await ledgerOf(p.sku)).filter((r) => r.change_type === 'sale')).toHaveLength(1)
        // The same order's line in another warehouse is a different movement.
        const w2 = await update({ ...body, warehouse_id: s.w2.id, change_type: 'restock' })
        expect(w2.data.id).not.toBe(first.data.id)
      })

      it('reservations, their commit, transfers and bulk syncs replay under their keys', async () => {
        const p = await stocked([[s.w1.id, 10]])
        const k = { 'Idempotency-Key': `rsv-${p.sku}` }
        const r1 = await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 1 }, headers: k })
        const r2 = await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 1 }, headers: k })
        const [a, b] = [ReservationResponse.parse(await expectJson(r1, 201)), ReservationResponse.parse(await expectJson(r2, 201))]
        expect(r2.headers.get('idempotent-replayed')).toBe('true')
        expect(b).toEqual(a)
        const c1 = await t.call('POST', `reservations/${a.data.id}/commit`, { headers: { 'Idempotency-Key': `commit-${p.sku}` } })
        const c2 = await t.call('POST', `reservations/${a.data.id}/commit`, { headers: { 'Idempotency-Key': `commit-${p.sku}` } })
        expect(ReservationResponse.parse(await expectJson(c2))).toEqual(ReservationResponse.parse(await expectJson(c1)))
        expect(c2.headers.get('idempotent-replayed')).toBe('true')
        // Without a key, a second commit is refused: the reservation is no longer active.
        await expectProblem(await t.call('POST', `reservations/${a.data.id}/commit`), 409, 'reservation_not_active')
        const tb = { sku: p.sku, from_warehouse_id: s.w1.id, to_warehouse_id: s.w2.id, quantity: 2 }
        const t1 = TransferResponse.parse(await expectJson(await t.call('POST', 'stock/transfer', { body: tb, headers: { 'Idempotency-Key': `trf-${p.sku}` } })))
        const t2 = TransferResponse.parse(await expectJson(await t.call('POST', 'stock/transfer', { body: tb, headers: { 'Idempotency-Key': `trf-${p.sku}` } })))
        expect(t2).toEqual(t1)
        const bb = { items: [{ sku: p.sku, warehouse_id: s.w2.id, quantity: 5 }] }
        const b1 = BulkResponse.parse(await expectJson(await t.call('POST', 'stock/bulk-sync', { body: bb, headers: { 'Idempotency-Key': `bulk-${p.sku}` } })))
        const b2 = BulkResponse.parse(await expectJson(await t.call('POST', 'stock/bulk-sync', { body: bb, headers: { 'Idempotency-Key': `bulk-${p.sku}` } })))
        expect(b2).toEqual(b1)
        expect((await ledgerOf(p.sku)).map((e) => e.change_type)).toEqual(['restock', 'reserve', 'commit', 'transfer', 'transfer', 'sync'])
        await expectLevelsMatchLedger(ts.store, [p.sku])
      })
    })

    describe('history', () => {
      let p: Product
      let times: number[]
      beforeAll(async () => {
        p = await stocked([])
        times = []
        const moves: Array<[number, string, number]> = [
          [s.w1.id, 'restock', 10],
          [s.w1.id, 'sale', 2],
          [s.w2.id, 'restock', 5],
          [s.w1.id, 'adjustment', 7],
          [s.w2.id, 'sale', 1],
          [s.w2.id, 'sync', 3],
        ]
        for (const [warehouse_id, change_type, quantity] of moves) {
          clock.advance(60_000)
          times.push(clock.now())
          await update({ sku: p.sku, warehouse_id, change_type, quantity })
        }
      })
      const history = async (query: string) => HistoryResponse.parse(await expectJson(await t.call('GET', `stock/history?${query}`, { key: t.keys.read })))

      it('by SKU, newest first, with filters by change type, warehouse and time', async () => {
        const all = await history(`sku=${p.sku}`)
        expect(all.next_cursor).toBeNull()
        expect(all.data.map((e) => e.change_type)).toEqual(['sync', 'sale', 'adjustment', 'restock', 'sale', 'restock'])
        expect(all.data.map((e) => e.id)).toEqual([...all.data.map((e) => e.id)].sort((a, b) => b - a))
        expect(all.data[0]).toMatchObject({ sku: p.sku, warehouse_id: s.w2.id, quantity: 3, previous_stock: 4, new_stock: 3, delta: -1, created_at: new Date(times[5]!).toISOString() })
        expect((await history(`sku=${p.sku}&change_type=sale`)).data.map((e) => e.new_stock)).toEqual([4, 8])
        expect((await history(`sku=${p.sku}&change_type=sale,restock`)).data).toHaveLength(4)
        expect((await history(`sku=${p.sku}&warehouse_id=${s.w2.id}`)).data.map((e) => e.change_type)).toEqual(['sync', 'sale', 'restock'])
        // from is inclusive, to exclusive.
        const range = await history(`sku=${p.sku}&from=${new Date(times[1]!).toISOString()}&to=${new Date(times[3]!).toISOString()}`)
        expect(range.data.map((e) => e.change_type)).toEqual(['restock', 'sale'])
      })

      it('cursor paging: no duplicates and no gaps, down to the last page', async () => {
        const pages: Entry[][] = []
        let cursor: string | null = null
        do {
          const page: z.infer<typeof HistoryResponse> = await history(`sku=${p.sku}&limit=4${cursor ? `&cursor=${cursor}` : ''}`)
          pages.push(page.data)
          cursor = page.next_cursor
        } while (cursor !== null && pages.length < 10)
        expect(pages.map((pg) => pg.length)).toEqual([4, 2])
        expect(pages.flat()).toEqual((await history(`sku=${p.sku}`)).data)

        // The whole ledger, 3 rows a page, against the database itself.
        const seen: number[] = []
        cursor = null
        for (let i = 0; i < 200; i++) {
          const page: z.infer<typeof HistoryResponse> = await history(`limit=3${cursor ? `&cursor=${cursor}` : ''}`)
          seen.push(...page.data.map((e) => e.id))
          expect(page.data.length === 3 || page.next_cursor === null).toBe(true)
          cursor = page.next_cursor
          if (cursor === null) break
        }
        const ids = (await ts.store.db.selectFrom('ledger_entry').select('id').orderBy('id', 'desc').execute()).map((r) => Number(r.id))
        expect(seen).toEqual(ids)
      })

      it('GET /stock/history/{product_id}: a parent gathers all its variations', async () => {
        const red = await ledgerOf(s.capRed.sku)
        const blue = await ledgerOf(s.capBlue.sku)
        expect(red.length + blue.length).toBeGreaterThan(1)
        await update({ sku: s.capRed.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale' })
        const parent = HistoryResponse.parse(await expectJson(await t.call('GET', `stock/history/${s.capParentId}`)))
        expect(new Set(parent.data.map((e) => e.sku))).toEqual(new Set([s.capRed.sku, s.capBlue.sku]))
        expect(parent.data).toHaveLength(red.length + blue.length + 1)
        expect(parent.data[0]).toMatchObject({ sku: s.capRed.sku, change_type: 'sale', product_id: s.capRed.productId })
        const variation = HistoryResponse.parse(await expectJson(await t.call('GET', `stock/history/${s.capBlue.productId}`)))
        expect(variation.data.map((e) => e.sku)).toEqual(blue.map(() => s.capBlue.sku))
        const filtered = HistoryResponse.parse(await expectJson(await t.call('GET', `stock/history/${s.capParentId}?change_type=sale&warehouse_id=${s.w1.id}`)))
        expect(filtered.data.map((e) => [e.sku, e.change_type])).toEqual([[s.capRed.sku, 'sale']])
      })
    })

    describe('catalogue', () => {
      const W = envelope(WarehouseSchema)
      const P = envelope(ProductSchema)

      it('warehouses: list in allocation order, create, read, change, and 409 already_exists', async () => {
        const list = envelope(z.array(WarehouseSchema)).parse(await expectJson(await t.call('GET', 'warehouses', { key: t.keys.read })))
        expect(list.data.map((w) => w.code)).toEqual([s.w1.code, s.w2.code])
        const res = await t.call('POST', 'warehouses', { body: { code: 'R-WEST', name: 'West', location: 'Lyon', priority: 5 } })
        const created = W.parse(await expectJson(res, 201))
        expect(created.data).toMatchObject({ code: 'R-WEST', name: 'West', location: 'Lyon', priority: 5, active: true })
        expect(res.headers.get('location')).toBe(`${API}/warehouses/${created.data.id}`)
        expect(W.parse(await expectJson(await t.call('GET', `warehouses/${created.data.id}`))).data).toEqual(created.data)
        const changed = W.parse(await expectJson(await t.call('PATCH', `warehouses/${created.data.id}`, { body: { priority: 0, active: false, location: null } })))
        expect(changed.data).toMatchObject({ id: created.data.id, code: 'R-WEST', priority: 0, active: false, location: null })
        const relisted = envelope(z.array(WarehouseSchema)).parse(await expectJson(await t.call('GET', 'warehouses')))
        expect(relisted.data.map((w) => w.code)).toEqual(['R-WEST', s.w1.code, s.w2.code])
        // An inactive warehouse takes no part in allocation, whatever its priority.
        const p = await stocked([[created.data.id, 9], [s.w1.id, 1]])
        await expectProblem(await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 2 } }), 409, 'insufficient_stock')
        const dup = await expectProblem(await t.call('POST', 'warehouses', { body: { code: s.w1.code, name: 'Again' } }), 409, 'already_exists')
        expect(dup.detail).toContain(s.w1.code)
        await expectProblem(await t.call('PATCH', `warehouses/${created.data.id}`, { body: { code: s.w2.code } }), 409, 'already_exists')
      })

      it('products: register a variation, read, search and page, change settings, 409 already_exists', async () => {
        const res = await t.call('POST', 'products', { body: { sku: 'R-CAP-GREEN', product_id: 603, parent_id: s.capParentId, name: 'Cap, green', safety_stock: 1 } })
        const created = P.parse(await expectJson(res, 201))
        expect(created.data).toMatchObject({ sku: 'R-CAP-GREEN', product_id: 603, parent_id: s.capParentId, name: 'Cap, green', backorders: false, safety_stock: 1, low_stock_threshold: 5 })
        expect(res.headers.get('location')).toBe(`${API}/products/R-CAP-GREEN`)
        expect(P.parse(await expectJson(await t.call('GET', 'products/R-CAP-GREEN', { key: t.keys.read }))).data).toEqual(created.data)
        const Page = envelope(z.array(ProductSchema)).extend({ next_cursor: z.string().nullable() })
        const found = Page.parse(await expectJson(await t.call('GET', 'products?search=CAP')))
        expect(found.data.map((p) => p.sku)).toEqual(expect.arrayContaining(['R-CAP-GREEN', s.capRed.sku, s.capBlue.sku]))
        // Paging through every product, two at a time.
        const skus: string[] = []
        let cursor: string | null = null
        for (let i = 0; i < 100; i++) {
          const page: z.infer<typeof Page> = Page.parse(await expectJson(await t.call('GET', `products?limit=2${cursor ? `&cursor=${cursor}` : ''}`)))
          skus.push(...page.data.map((p) => p.sku))
          cursor = page.next_cursor
          if (cursor === null) break
        }
        const all = (await ts.store.db.selectFrom('product').select('sku').execute()).map((r) => r.sku)
        expect([...skus].sort()).toEqual([...all].sort())
        expect(new Set(skus).size).toBe(skus.length)
        // New safety stock applies to the product's existing levels at once.
        await update({ sku: 'R-CAP-GREEN', warehouse_id: s.w1.id, quantity: 6, change_type: 'restock' })
        const patched = P.parse(await expectJson(await t.call('PATCH', 'products/R-CAP-GREEN', { body: { safety_stock: 4, backorders: true } })))
        expect(patched.data).toMatchObject({ safety_stock: 4, backorders: true })
        const stock = StockResponse.parse(await expectJson(await t.call('GET', `stock/R-CAP-GREEN?warehouse_id=${s.w1.id}`)))
        expect(stock.data).toMatchObject({ current_stock: 6, available_stock: 2, backorders: true })
        await expectProblem(await t.call('POST', 'products', { body: { sku: 'R-CAP-GREEN', product_id: 604 } }), 409, 'already_exists')
      })
    })

    describe('documents without a key', () => {
      it('GET /healthz', async () => {
        const body = await expectJson(await t.app.request('/healthz'))
        expect(body).toMatchObject({ status: 'ok', database: 'ok' })
      })

      it('GET /inventory/v1/openapi.json is an OpenAPI 3.1 document of our routes', async () => {
        const doc = await expectJson(await t.app.request(`${API}/openapi.json`))
        expect(doc.openapi).toBe('3.1.0')
        expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) })
        expect(doc.servers).toEqual([{ url: API }])
        expect(doc.components.securitySchemes.ApiKey).toEqual({ type: 'apiKey', in: 'header', name: 'X-API-Key' })
        const expected: Record<string, string[]> = {
          '/stock': ['get'],
          '/stock/{sku}': ['get'],
          '/stock/update': ['post'],
          '/stock/bulk-sync': ['post'],
          '/stock/transfer': ['post'],
          '/stock/history': ['get'],
          '/stock/history/{product_id}': ['get'],
          '/reservations': ['get', 'post'],
          '/jobs': ['get'],
          '/reservations/{id}': ['get'],
          '/reservations/{id}/commit': ['post'],
          '/reservations/{id}/release': ['post'],
          '/warehouses': ['get', 'post'],
          '/warehouses/{id}': ['get', 'patch'],
          '/products': ['get', 'post'],
          '/products/{sku}': ['get', 'patch'],
        }
        for (const [path, methods] of Object.entries(expected)) {
          expect(Object.keys(doc.paths[path] ?? {}).sort(), path).toEqual([...methods].sort())
        }
        // Structurally sound: every path parameter declared, every operation answers, every $ref resolves.
        for (const [path, item] of Object.entries<Record<string, { parameters?: Array<{ in: string; name: string; required?: boolean }>; responses: Record<string, unknown> }>>(doc.paths)) {
          for (const [method, op] of Object.entries(item)) {
            for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
              expect(op.parameters?.some((p) => p.in === 'path' && p.name === name && p.required === true), `${method} ${path} declares ${name}`).toBe(true)
            }
            expect(Object.keys(op.responses).some((code) => /^2\d\d$/.test(code)), `${method} ${path} has a success response`).toBe(true)
          }
        }
        const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!)
        expect(refs.length).toBeGreaterThan(0)
        for (const ref of refs) expect(doc.components.schemas[ref], ref).toBeDefined()
      })

      it('GET /docs is a browsable page served from local files', async () => {
        const page = await t.app.request('/docs')
        expect(page.status).toBe(200)
        expect(page.headers.get('content-type')).toMatch(/^text\/html/)
        expect(await page.text()).toContain('/docs/swagger-ui-bundle.js')
        const css = await t.app.request('/docs/swagger-ui.css')
        expect(css.status).toBe(200)
        expect(css.headers.get('content-type')).toMatch(/^text\/css/)
      })
    })
  })
}
