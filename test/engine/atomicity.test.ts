/**
 * Transactional outbox: a refused movement leaves no event; every applied movement has exactly one,
 * carrying its ledger id; a stale sync has none; a transfer has one per leg; per-SKU versions grow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DomainError } from '../../src/domain/errors.js'
import type { StockChangedData } from '../../src/domain/events.js'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock, type StockUpdateInput } from '../../src/service/stock.js'
import { transferStock } from '../../src/service/transfer.js'
import { createReservation } from '../../src/service/reservations.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { expectOneEventPerAppliedMovement } from '../support/ledger-check.js'

const ctx = { actor: 'test:atomicity' }

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: transactional outbox atomicity`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let clock: TestClock
    let w1: Warehouse
    let w2: Warehouse

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      w1 = await makeWarehouse(deps, { code: 'AT-W1' })
      w2 = await makeWarehouse(deps, { code: 'AT-W2' })
      expect(w1.id).toBeLessThan(w2.id)
    })
    afterAll(async () => {
      await ts?.drop()
    })

    const counts = async () => ({
      events: Number((await ts.store.db.selectFrom('outbox_event').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n),
      ledger: Number((await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n),
      deliveries: Number((await ts.store.db.selectFrom('delivery').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n),
    })
    const eventsOf = async (sku: string) =>
      (await ts.store.db.selectFrom('outbox_event').selectAll().where('sku', '=', sku).orderBy('seq').execute()).map((r) => ({
        seq: Number(r.seq),
        skuVersion: Number(r.sku_version),
        warehouseId: Number(r.warehouse_id),
        data: JSON.parse(r.payload) as StockChangedData,
      }))
    const update = (p: Product, w: Warehouse, changeType: StockUpdateInput['changeType'], quantity: number, extra: Partial<StockUpdateInput> = {}) =>
      updateStock(deps, { sku: p.sku, warehouseId: w.id, changeType, quantity, source: 'test', referenceId: null, notes: null, ...extra }, ctx)

    async function expectRefused(code: string, work: () => Promise<unknown>) {
      const before = await counts()
      const err = await work().then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(DomainError)
      expect((err as DomainError).code).toBe(code)
      expect(await counts()).toEqual(before)
    }

    it('each applied movement writes exactly one event with movement_id = its ledger id; refusals write none', async () => {
      const p = await makeProduct(deps, { sku: 'AT-ONE' })
      // A subscription, so applied movements also fill a delivery slot (refusals must leave none).
      await ts.store.db.insertInto('subscription').values({ id: 'sub_atomicity', url: 'http://127.0.0.1:9/x', secret: 's', events: '["stock.changed"]', skus: null, warehouses: null, is_active: 1, created_at: clock.now() }).execute()
      deps.events.invalidateTargets()

      const r1 = await update(p, w1, 'restock', 10)
      clock.advance(1000)
      const r2 = await update(p, w1, 'sale', 3)
      const r3 = await update(p, w1, 'adjustment', 20)
      const r4 = await update(p, w1, 'sync', 15, { observedAt: clock.now() })

      await expectRefused('insufficient_stock', () => update(p, w1, 'sale', 16))
      await expectRefused('version_conflict', () => update(p, w1, 'sale', 1, { expectedVersion: 1 }))
      await expectRefused('version_conflict', () => update(p, w1, 'adjustment', 3, { expectedOnHand: 999 }))
      await expectRefused('sku_not_found', () => updateStock(deps, { sku: 'AT-NOPE', warehouseId: w1.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, ctx))
      await expectRefused('warehouse_not_found', () => updateStock(deps, { sku: p.sku, warehouseId: 99_999, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, ctx))

      // A stale sync (observed before the newest applied count) is recorded in the ledger, without an event.
      const before = await counts()
      const stale = await update(p, w1, 'sync', 1, { observedAt: clock.now() - 60_000 })
      expect(stale.value.entry.status).toBe('stale')
      const after = await counts()
      expect(after).toEqual({ ...before, ledger: before.ledger + 1 })

      const events = await eventsOf(p.sku)
      const applied = [r1, r2, r3, r4].map((r) => r.value.entry)
      expect(events).toHaveLength(4)
      for (const [i, entry] of applied.entries()) {
        expect(events[i]!.data.movement_id).toBe(entry.id)
        expect(events[i]!.data.after.on_hand).toBe(entry.onHandAfter)
        expect(events[i]!.data.before.on_hand).toBe(entry.onHandBefore)
      }
      expect(events.map((e) => e.skuVersion)).toEqual([1, 2, 3, 4])
      expect(events.map((e) => e.data.version)).toEqual([1, 2, 3, 4])
      await expectOneEventPerAppliedMovement(ts.store, [p.sku])
      // One coalesced delivery slot for the subscription, holding the newest event.
      const slots = await ts.store.db.selectFrom('delivery').selectAll().where('sku', '=', p.sku).execute()
      expect(slots.map((s) => [s.target_id, Number(s.event_seq)])).toEqual([['sub_atomicity', events.at(-1)!.seq]])
      await ts.store.db.deleteFrom('delivery').execute()
      await ts.store.db.deleteFrom('subscription').execute()
      deps.events.invalidateTargets()
    })

    it('the reuse of an idempotency key with another request is refused and writes nothing', async () => {
      const p = await makeProduct(deps, { sku: 'AT-IDEM' })
      await updateStock(deps, { sku: p.sku, warehouseId: w1.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, { ...ctx, idempotencyKey: 'idem-1' })
      await expectRefused('idempotency_key_reused', () =>
        updateStock(deps, { sku: p.sku, warehouseId: w1.id, changeType: 'restock', quantity: 2, source: 'test', referenceId: null, notes: null }, { ...ctx, idempotencyKey: 'idem-1' }),
      )
      // a replay of the same request returns the stored answer and writes no second event
      const replay = await updateStock(deps, { sku: p.sku, warehouseId: w1.id, changeType: 'restock', quantity: 1, source: 'test', referenceId: null, notes: null }, { ...ctx, idempotencyKey: 'idem-1' })
      expect(replay.replayed).toBe(true)
      expect(await eventsOf(p.sku)).toHaveLength(1)
      await expectOneEventPerAppliedMovement(ts.store, [p.sku])
    })

    it('a transfer writes one event per leg; a transfer refused after its first leg was written leaves none', async () => {
      const p = await makeProduct(deps, { sku: 'AT-TRF' })
      await update(p, w2, 'restock', 5)
      const t = await transferStock(deps, { sku: p.sku, fromWarehouseId: w2.id, toWarehouseId: w1.id, quantity: 2, source: 'test', referenceId: null, notes: null }, ctx)
      const events = await eventsOf(p.sku)
      expect(events).toHaveLength(3)
      const legs = events.slice(1)
      expect(new Set(legs.map((e) => e.data.movement_id))).toEqual(new Set([t.value.from.entry.id, t.value.to.entry.id]))
      expect(legs.map((e) => e.data.change_type)).toEqual(['transfer', 'transfer'])
      const byWh = new Map(legs.map((e) => [e.warehouseId, e]))
      expect(byWh.get(w2.id)!.data.after.on_hand).toBe(3)
      expect(byWh.get(w1.id)!.data.after.on_hand).toBe(2)
      // totals are consistent inside the transaction: the second leg sees both legs
      expect(legs.at(-1)!.data.totals.on_hand).toBe(5)

      // From w2 to w1 (w1 < w2): the in-leg (w1) is written first, event included; then the
      // out-leg finds too little stock. The whole transaction, first event included, must vanish.
      await expectRefused('insufficient_stock', () =>
        transferStock(deps, { sku: p.sku, fromWarehouseId: w2.id, toWarehouseId: w1.id, quantity: 50, source: 'test', referenceId: null, notes: null }, ctx),
      )
      expect(await eventsOf(p.sku)).toHaveLength(3)
      await expectOneEventPerAppliedMovement(ts.store, [p.sku])
    })

    it('a reservation split over two warehouses writes one event per line; a refused one writes none', async () => {
      const p = await makeProduct(deps, { sku: 'AT-RES' })
      await update(p, w1, 'restock', 2)
      await update(p, w2, 'restock', 2)
      const ok = await createReservation(deps, { sku: p.sku, quantity: 3, source: 'test', referenceId: null, notes: null }, ctx)
      expect(ok.value.reservation.lines.length).toBe(2)
      expect(await eventsOf(p.sku)).toHaveLength(4)
      await expectRefused('insufficient_stock', () => createReservation(deps, { sku: p.sku, quantity: 2, source: 'test', referenceId: null, notes: null }, ctx))
      await expectOneEventPerAppliedMovement(ts.store, [p.sku])
    })

    it('under concurrent writers each SKU version is handed out once and grows with the sequence', async () => {
      const skus = await Promise.all([0, 1, 2].map((i) => makeProduct(deps, { sku: `AT-CONC-${i}` })))
      for (const p of skus) await update(p, w1, 'restock', 100)
      const work: Array<Promise<unknown>> = []
      for (let i = 0; i < 120; i++) {
        const p = skus[i % skus.length]!
        const w = i % 2 === 0 ? w1 : w2
        // some of these are refused (sales beyond stock in w2): they must leave no event
        work.push((i % 5 === 0 ? update(p, w, 'sale', 3) : update(p, w, 'restock', 1 + (i % 3))).catch((e: unknown) => e))
      }
      const results = await Promise.all(work)
      const refused = results.filter((r) => r instanceof DomainError)
      expect(refused.every((r) => (r as DomainError).code === 'insufficient_stock')).toBe(true)
      for (const p of skus) {
        const events = await eventsOf(p.sku)
        const versions = events.map((e) => e.skuVersion)
        // strictly increasing in sequence order, contiguous from 1: none lost, none doubled
        expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1))
        expect(events.map((e) => e.data.version)).toEqual(versions)
        const product = await ts.store.db.selectFrom('product').select('stock_version').where('sku', '=', p.sku).executeTakeFirstOrThrow()
        expect(Number(product.stock_version)).toBe(versions.length)
        // each level's figures chain through its events: the newest after equals the stored level
        for (const w of [w1, w2]) {
          const mine = events.filter((e) => e.warehouseId === w.id)
          for (let i = 1; i < mine.length; i++) expect(mine[i]!.data.before.on_hand).toBe(mine[i - 1]!.data.after.on_hand)
          const level = await ts.store.db.selectFrom('stock_level').select('on_hand').where('sku', '=', p.sku).where('warehouse_id', '=', w.id).executeTakeFirst()
          if (mine.length > 0) expect(mine.at(-1)!.data.after.on_hand).toBe(Number(level!.on_hand))
        }
      }
      await expectOneEventPerAppliedMovement(
        ts.store,
        skus.map((p) => p.sku),
      )
    })
  })
}
