/**
 * Bulk sync, set-based (#4): the same per-item outcomes as one movement at a time, answered in
 * request order, with writes in (sku, warehouse_id) lock order. On PostgreSQL, concurrent bulk
 * syncs, sales and transfers over the same SKUs run without a single deadlock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DomainError } from '../../src/domain/errors.js'
import { bulkSync } from '../../src/service/bulk-sync.js'
import type { Logger, ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { transferStock } from '../../src/service/transfer.js'
import { findLevel, findLevelsBySkus } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'

const ctx = { actor: 'test' }

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: bulk sync (set-based)`, () => {
    let ts: TestStore
    beforeAll(async () => {
      ts = await createTestStore(db.name)
    })
    afterAll(async () => ts?.drop())

    it('answers each item in request order: applied, stale, rejected; repeats of one level apply in order', async () => {
      const clock = testClock()
      const deps = testDeps(ts.store, clock)
      const [w1, w2] = [await makeWarehouse(deps), await makeWarehouse(deps)]
      const [a, b, c] = [await makeProduct(deps, { sku: 'BS-A' }), await makeProduct(deps, { sku: 'BS-B', safetyStock: 2, lowStockThreshold: 7 }), await makeProduct(deps, { sku: 'BS-C' })]
      // A count taken a minute from now is already applied to A@w1: the batch's count is older.
      await updateStock(deps, { sku: a.sku, warehouseId: w1.id, changeType: 'sync', quantity: 40, source: 'erp', referenceId: null, notes: null, observedAt: clock.now() + 60_000 }, ctx)
      await updateStock(deps, { sku: c.sku, warehouseId: w2.id, changeType: 'restock', quantity: 5, source: 'erp', referenceId: null, notes: null }, ctx)
      clock.advance(1000)

      const items = [
        { sku: c.sku, warehouse_id: w2.id, quantity: 5 },
        { sku: a.sku, warehouse_id: w1.id, quantity: 9 },
        { sku: b.sku, warehouse_id: w1.id, quantity: 3 },
        { sku: b.sku, warehouse_id: w1.id, quantity: -1 },
        { sku: 'BS-UNKNOWN', warehouse_id: w1.id, quantity: 1 },
        { sku: b.sku, warehouse_id: 999_999, quantity: 1 },
        { sku: b.sku, warehouse_id: w1.id, quantity: 4 },
        { sku: a.sku, warehouse_id: w2.id, quantity: 0 },
      ]
      const r = await bulkSync(deps, { items, source: 'erp', referenceId: 'count-1' }, ctx)
      expect(r.value.items.map((o) => [o.index, o.status, o.status === 'rejected' ? o.code : o.current])).toEqual([
        [0, 'unchanged', 5],
        [1, 'stale', 40],
        [2, 'applied', 3],
        [3, 'rejected', 'validation_failed'],
        [4, 'rejected', 'sku_not_found'],
        [5, 'rejected', 'warehouse_not_found'],
        [6, 'applied', 4],
        [7, 'unchanged', 0],
      ])
      // The counts partition the items (#12): a count equal to on hand is unchanged, not applied.
      expect({ applied: r.value.applied, stale: r.value.stale, unchanged: r.value.unchanged, rejected: r.value.rejected }).toEqual({ applied: 2, stale: 1, unchanged: 2, rejected: 3 })
      const movementIds = r.value.items.flatMap((o) => (o.status === 'rejected' ? [] : [o.movementId]))
      expect(movementIds.every((id) => typeof id === 'number')).toBe(true)
      expect(new Set(movementIds).size).toBe(movementIds.length)

      // B@w1 was created by the batch with the product's thresholds and moved twice, in request order.
      const bLevel = await findLevel(ts.store.db, b.sku, w1.id)
      expect(bLevel).toMatchObject({ onHand: 4, version: 2, safetyStock: 2, lowStockThreshold: 7, lastCountedAt: clock.now() })
      expect((await findLevel(ts.store.db, a.sku, w1.id))?.onHand).toBe(40)
      const stale = await ts.store.db.selectFrom('ledger_entry').selectAll().where('sku', '=', a.sku).where('status', '=', 'stale').execute()
      expect(stale.map((e) => [e.quantity, e.on_hand_before, e.on_hand_after])).toEqual([[9, 40, 40]])

      const skus = [a.sku, b.sku, c.sku]
      await expectLevelsMatchLedger(ts.store, skus)
      await expectOneEventPerAppliedMovement(ts.store, skus)
      // Each SKU's events carry consecutive versions, and the last one's totals are the SKU's totals now.
      for (const sku of skus) {
        const events = await ts.store.db.selectFrom('outbox_event').select(['sku_version', 'payload']).where('sku', '=', sku).orderBy('seq').execute()
        expect(events.map((e) => Number(e.sku_version))).toEqual(events.map((_, i) => i + 1))
        const last = JSON.parse(events[events.length - 1]!.payload) as { totals: { on_hand: number; reserved: number } }
        const levels = await findLevelsBySkus(ts.store.db, [sku])
        expect(last.totals.on_hand).toBe(levels.reduce((s, l) => s + l.onHand, 0))
      }
    })

    it('writes nothing for a batch with only refusals, and an empty product list is no error', async () => {
      const deps = testDeps(ts.store)
      const w = await makeWarehouse(deps)
      const before = await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()
      const r = await bulkSync(deps, { items: [{ sku: 'NOPE-1', warehouse_id: w.id, quantity: 1 }, 'junk'], source: 'erp', referenceId: null }, ctx)
      expect(r.value.items.map((o) => o.status)).toEqual(['rejected', 'rejected'])
      const after = await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()
      expect(Number(after.n)).toBe(Number(before.n))
    })

    it('keeps 10,000 items in one request equal to their ledger (both statement paths, all chunks)', async () => {
      const deps = testDeps(ts.store)
      const [w1, w2] = [await makeWarehouse(deps), await makeWarehouse(deps)]
      const skus = Array.from({ length: 5000 }, (_, i) => `BIG-${String(i).padStart(5, '0')}`)
      const now = deps.clock.now()
      for (let i = 0; i < skus.length; i += 1000) {
        await ts.store.db
          .insertInto('product')
          .values(skus.slice(i, i + 1000).map((sku, j) => ({ sku, product_id: 500_000 + i + j, parent_id: null, name: null, allows_backorders: 0, safety_stock: 0, low_stock_threshold: 5, created_at: now, updated_at: now })))
          .execute()
      }
      const items = skus.flatMap((sku, i) => [
        // Never 0: a count equal to a new level's 0 is `unchanged`, not applied (#12).
        { sku, warehouse_id: w2.id, quantity: (i % 17) + 1 },
        { sku, warehouse_id: w1.id, quantity: (i % 13) + 1 },
      ])
      const first = await bulkSync(deps, { items: items.reverse(), source: 'erp', referenceId: null }, ctx)
      expect(first.value.applied).toBe(10_000)
      const second = await bulkSync(deps, { items: items.map((it) => ({ ...it, quantity: it.quantity + 1 })), source: 'erp', referenceId: null }, ctx)
      expect(second.value.applied).toBe(10_000)
      expect(second.value.items.every((o, i) => o.index === i && o.status === 'applied' && o.current === items[i]!.quantity + 1)).toBe(true)
      const sample = skus.filter((_, i) => i % 97 === 0)
      await expectLevelsMatchLedger(ts.store, sample)
      await expectOneEventPerAppliedMovement(ts.store, sample)
      const levels = await findLevelsBySkus(ts.store.db, skus)
      expect(levels).toHaveLength(10_000)
      expect(levels.every((l) => l.version === 2)).toBe(true)
    })

    // PostgreSQL only: SQLite runs one writer at a time, so its writers cannot deadlock at all.
    if (db.name === 'postgres') it('runs concurrent bulk syncs (opposite orders), sales and transfers on the same SKUs without a deadlock', async () => {
      const retries: unknown[] = []
      const log: Logger = { debug: (o) => void retries.push(o), info() {}, warn() {}, error() {} }
      const deps: ServiceDeps = { ...testDeps(ts.store), log }
      const [w1, w2, w3] = [await makeWarehouse(deps), await makeWarehouse(deps), await makeWarehouse(deps)]
      const products = []
      for (let i = 0; i < 60; i++) products.push(await makeProduct(deps, { sku: `DL-${String(i).padStart(3, '0')}` }))
      const skus = products.map((p) => p.sku)
      const whs = [w1.id, w2.id, w3.id]
      const everything = skus.flatMap((sku, i) => whs.map((wh) => ({ sku, warehouse_id: wh, quantity: 50 + (i % 7) })))
      await bulkSync(deps, { items: everything, source: 'seed', referenceId: null }, ctx)

      const shuffled = (seed: number) => [...everything].sort((x, y) => ((x.sku.charCodeAt(4) * 31 + x.warehouse_id * seed) % 11) - ((y.sku.charCodeAt(4) * 31 + y.warehouse_id * seed) % 11))
      const work: Array<Promise<unknown>> = []
      for (let k = 0; k < 8; k++) {
        const items = (k % 2 === 0 ? [...everything].reverse() : shuffled(k)).map((it) => ({ ...it, quantity: it.quantity + k }))
        work.push(bulkSync(deps, { items, source: `erp-${k}`, referenceId: null }, ctx))
      }
      let sold = 0
      let refused = 0
      for (let k = 0; k < 120; k++) {
        const sku = skus[(k * 7) % skus.length]!
        work.push(
          updateStock(deps, { sku, warehouseId: whs[k % 3]!, changeType: 'sale', quantity: 1, source: 'shop', referenceId: null, notes: null }, ctx).then(
            () => sold++,
            (e: unknown) => {
              if (!(e instanceof DomainError && e.code === 'insufficient_stock')) throw e
              refused++
            },
          ),
        )
        if (k % 3 === 0) {
          const [from, to] = k % 2 === 0 ? [whs[2]!, whs[0]!] : [whs[0]!, whs[2]!]
          work.push(transferStock(deps, { sku, fromWarehouseId: from, toWarehouseId: to, quantity: 1, source: 'ops', referenceId: null, notes: null }, ctx))
        }
      }
      await Promise.all(work)
      expect(sold + refused).toBe(120)
      // inTransaction logs each retry at debug level with the SQLSTATE; a deadlock would be 40P01.
      expect(retries.filter((r) => (r as { code?: unknown }).code === '40P01')).toEqual([])
      await expectLevelsMatchLedger(ts.store, skus)
      await expectOneEventPerAppliedMovement(ts.store, skus)
    })
  })
}
