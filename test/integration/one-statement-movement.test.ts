/**
 * Single movements (`updateStock`, no idempotency claim) on both databases. On PostgreSQL a sale or
 * restock is one data-modifying statement (store/movement-statement.ts, #13); these pin what that
 * statement must keep from the transactional path: a refused movement writes nothing, the event
 * body is exactly the transactional path's, and every event's totals are the SKU's figures at that
 * version even while other writers create levels of the same SKU in other warehouses.
 */
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DomainError } from '../../src/domain/errors.js'
import type { StockChangedData } from '../../src/domain/events.js'
import { updateStock, type StockUpdateInput } from '../../src/service/stock.js'
import { findLevel } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'

const ctx = { actor: 'test' }
const move = (over: Partial<StockUpdateInput> & Pick<StockUpdateInput, 'sku' | 'warehouseId' | 'changeType' | 'quantity'>): StockUpdateInput => ({ source: 'test', referenceId: null, notes: null, ...over })

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p
  } catch (e) {
    if (e instanceof DomainError) return e
    throw e
  }
  throw new Error('the movement was not refused')
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: single movements (#13)`, () => {
    let ts: TestStore
    beforeAll(async () => {
      ts = await createTestStore(db.name)
    })
    afterAll(async () => ts?.drop())

    const counts = async (sku: string) => {
      const ledger = await ts.store.db.selectFrom('ledger_entry').select('id').where('sku', '=', sku).execute()
      const events = await ts.store.db.selectFrom('outbox_event').select('seq').where('sku', '=', sku).execute()
      return { ledger: ledger.length, events: events.length }
    }

    it('a refused sale or compare-and-set writes no ledger row, no event and leaves the level as it was', async () => {
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps)
      const p = await makeProduct(deps, { safetyStock: 1 })
      await updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 5 }), ctx)
      await updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType: 'sale', quantity: 1 }), ctx)
      const before = { level: await findLevel(ts.store.db, p.sku, wh.id), ...(await counts(p.sku)) }

      const oversell = await refusal(updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType: 'sale', quantity: 4 }), ctx))
      expect({ code: oversell.code, details: oversell.details }).toMatchObject({ code: 'insufficient_stock', details: { sku: p.sku, warehouse_id: wh.id, requested: 4, available: 3 } })
      const cas = await refusal(updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1, expectedVersion: 1 }), ctx))
      expect({ code: cas.code, details: cas.details }).toMatchObject({ code: 'version_conflict', details: { version: 2, expected_version: 1 } })
      const casOnHand = await refusal(updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType: 'sale', quantity: 1, expectedOnHand: 5 }), ctx))
      expect(casOnHand.code).toBe('version_conflict')

      expect({ level: await findLevel(ts.store.db, p.sku, wh.id), ...(await counts(p.sku)) }).toEqual(before)
      // The guard passes when it holds.
      const ok = await updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType: 'sale', quantity: 3, expectedVersion: 2, expectedOnHand: 4 }), ctx)
      expect(ok.value.level).toMatchObject({ onHand: 1, available: 0, version: 3 })
    })

    it('refuses an unknown SKU and warehouse with 404 codes, writing nothing', async () => {
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps)
      const p = await makeProduct(deps)
      expect((await refusal(updateStock(deps, move({ sku: 'NO-SUCH-SKU', warehouseId: wh.id, changeType: 'restock', quantity: 1 }), ctx))).code).toBe('sku_not_found')
      expect((await refusal(updateStock(deps, move({ sku: p.sku, warehouseId: 999_999, changeType: 'sale', quantity: 1 }), ctx))).code).toBe('warehouse_not_found')
      expect(await counts(p.sku)).toEqual({ ledger: 0, events: 0 })
    })

    it('a SKU that allows backorders sells below zero; the sellable total stays at zero', async () => {
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps)
      const p = await makeProduct(deps, { allowsBackorders: true })
      await updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1 }), ctx)
      const sold = await updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType: 'sale', quantity: 3 }), ctx)
      expect(sold.value.level).toMatchObject({ onHand: -2, available: -2 })
      const [last] = await ts.store.db.selectFrom('outbox_event').select('payload').where('sku', '=', p.sku).orderBy('seq', 'desc').limit(1).execute()
      expect((JSON.parse(last!.payload) as StockChangedData).totals).toEqual({ on_hand: -2, reserved: 0, available: 0 })
    })

    it.skipIf(db.name !== 'postgres')('PostgreSQL leaves room in stock_level and product pages so movements update them in place (HOT, migration 0013)', async () => {
      const { rows } = await sql<{ relname: string; reloptions: string[] | null }>`select relname, reloptions from pg_class where relname in ('stock_level', 'product') order by relname`.execute(ts.store.db)
      expect(rows).toEqual([
        { relname: 'product', reloptions: ['fillfactor=70'] },
        { relname: 'stock_level', reloptions: ['fillfactor=70'] },
      ])
    })

    it('each event carries the SKU figures at its version while writers race and create levels in other warehouses', async () => {
      const deps = testDeps(ts.store)
      const whs = await Promise.all(Array.from({ length: 6 }, () => makeWarehouse(deps)))
      const p = await makeProduct(deps, { safetyStock: 2, parentId: 42 })
      await updateStock(deps, move({ sku: p.sku, warehouseId: whs[0]!.id, changeType: 'restock', quantity: 50 }), ctx)
      // The first movement in each other warehouse creates its level, racing sales and restocks elsewhere.
      const work: Array<Promise<unknown>> = []
      for (let i = 0; i < 120; i++) {
        const wh = whs[i % whs.length]!
        const changeType = i % 3 === 0 ? 'sale' : 'restock'
        work.push(updateStock(deps, move({ sku: p.sku, warehouseId: wh.id, changeType, quantity: 1 + (i % 4) }), ctx).catch((e: unknown) => (e instanceof DomainError && e.code === 'insufficient_stock' ? null : Promise.reject(e))))
      }
      await Promise.all(work)

      await expectLevelsMatchLedger(ts.store, [p.sku])
      await expectOneEventPerAppliedMovement(ts.store, [p.sku])
      const entries = await ts.store.db.selectFrom('ledger_entry').select(['id', 'warehouse_id', 'on_hand_after', 'reserved_after', 'level_version']).where('sku', '=', p.sku).execute()
      const byId = new Map(entries.map((e) => [Number(e.id), e]))
      const events = (await ts.store.db.selectFrom('outbox_event').select(['sku_version', 'payload']).where('sku', '=', p.sku).execute())
        .map((e) => ({ version: Number(e.sku_version), data: JSON.parse(e.payload) as StockChangedData, text: e.payload }))
        .sort((a, b) => a.version - b.version)
      expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1))
      // Replay in version order: every event's totals are the sum of each warehouse's figures then.
      const figures = new Map<number, { onHand: number; reserved: number }>()
      for (const e of events) {
        const entry = byId.get(e.data.movement_id)!
        expect({ version: e.version, level_version: e.data.level_version }).toEqual({ version: e.version, level_version: Number(entry.level_version) })
        figures.set(Number(entry.warehouse_id), { onHand: Number(entry.on_hand_after), reserved: Number(entry.reserved_after) })
        let onHand = 0
        let reserved = 0
        let available = 0
        for (const f of figures.values()) {
          onHand += f.onHand
          reserved += f.reserved
          available += Math.max(0, f.onHand - f.reserved - 2)
        }
        expect({ version: e.version, totals: e.data.totals }).toEqual({ version: e.version, totals: { on_hand: onHand, reserved, available } })
        expect(e.data).toMatchObject({ sku: p.sku, product_id: p.productId, parent_id: 42, warehouse_id: Number(entry.warehouse_id) })
        // The stored text is what JSON.stringify makes of the body, whichever path wrote it.
        expect(e.text).toBe(JSON.stringify(e.data))
      }
    })
  })
}
