/**
 * Events that cannot change a watch state (#15). On SQLite the evaluator hands the database only
 * the question "which events of this page could move a figure's state?" and judges just those; an
 * event is left out when both its figures are stored ok (or never stored) and stand above their
 * current thresholds before and after the movement. Each test below needs one part of that rule:
 * a stored state that is not ok, the figure before the movement, the total's figure before it, the
 * level's own threshold. The rule must give exactly the alerts judging every event gives, so the
 * same expectations hold on PostgreSQL, which judges every event.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { evaluateAlerts, type AlertSettings } from '../../src/service/alerts.js'
import { updateProduct } from '../../src/service/catalog.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { updateLevelSettings } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'

// Small pages: a crossing lands inside a page of events that cross nothing, and pages end mid-stream.
const SETTINGS: AlertSettings = { hysteresis: 0, pageSize: 3, checkpointMs: 3_600_000 }

async function evaluateAll(deps: ServiceDeps, settings = SETTINGS): Promise<string[]> {
  const raised: string[] = []
  for (;;) {
    const r = await evaluateAlerts(deps, settings)
    raised.push(...r.raised.map((a) => `${a.scope}:${a.kind}`))
    if (r.events === 0 && !r.more) return raised.sort()
  }
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: events that cannot change a watch state`, () => {
    let ts: TestStore
    afterEach(async () => {
      await ts?.drop()
    })

    async function setUp(code: string, lowStockThreshold: number) {
      ts = await createTestStore(db.name)
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps, { code: `${code}-W` })
      const p = await makeProduct(deps, { sku: code, lowStockThreshold })
      const move = (changeType: 'sale' | 'restock', quantity: number) => updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType, quantity, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
      // Movements on another SKU, far from any threshold, around each step. Its first movement is
      // evaluated here: a figure's first sight is stored, and a page that stores anything is judged
      // whole, which would hide what a test looks for.
      const other = await makeProduct(deps, { sku: `${code}-FAR`, lowStockThreshold })
      const noise = async (n: number) => {
        for (let i = 0; i < n; i++) await updateStock(deps, { sku: other.sku, warehouseId: wh.id, changeType: 'restock', quantity: 1000, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
      }
      await noise(1)
      expect(await evaluateAll(deps)).toEqual([])
      return { deps, wh, p, move, noise }
    }

    // Each test watches one figure (the other's threshold is 0, so it stays ok throughout), so that
    // no other part of the rule lets the event through instead.
    const threshold = (deps: ServiceDeps, sku: string, warehouseId: number, lowStockThreshold: number) => updateLevelSettings(deps.store.db, sku, warehouseId, { lowStockThreshold }, deps.clock.now())

    it('a level stored low recovers on a movement above a threshold lowered since', async () => {
      const { deps, wh, p, move, noise } = await setUp('QE-1', 0)
      await move('restock', 100)
      await threshold(deps, p.sku, wh.id, 10)
      expect(await evaluateAll(deps)).toEqual([])
      await move('sale', 95) // level 100 → 5: only its figure after the movement is at its threshold
      expect(await evaluateAll(deps)).toEqual(['level:low_stock'])
      await threshold(deps, p.sku, wh.id, 2)
      await noise(2)
      // 5 → 4: above the new threshold before and after; only the stored state (low) makes it news.
      await move('sale', 1)
      await noise(2)
      expect(await evaluateAll(deps)).toEqual(['level:back_in_stock'])
    })

    it("a SKU's total stored low recovers on a movement above a threshold lowered since", async () => {
      const { deps, wh, p, move, noise } = await setUp('QE-2', 10)
      await move('restock', 100)
      await threshold(deps, p.sku, wh.id, 0)
      expect(await evaluateAll(deps)).toEqual([])
      await move('sale', 95) // total 100 → 5: only its figure after the movement is at its threshold
      expect(await evaluateAll(deps)).toEqual(['total:low_stock'])
      await updateProduct(deps, p.sku, { lowStockThreshold: 2 })
      await threshold(deps, p.sku, wh.id, 0)
      await noise(2)
      await move('sale', 1) // total 5 → 4, above 2: only the stored state makes it news
      await noise(2)
      expect(await evaluateAll(deps)).toEqual(['total:back_in_stock'])
    })

    it('a level that rose past its threshold is stored ok, so a raised threshold reports the next fall', async () => {
      const { deps, wh, p, move, noise } = await setUp('QE-3', 0)
      await move('restock', 5)
      await threshold(deps, p.sku, wh.id, 10)
      expect(await evaluateAll(deps)).toEqual([]) // low from its first sight: nothing to report, nothing stored
      await noise(2)
      // 5 → 25: only the level's figure before the movement is at its threshold.
      await move('restock', 20)
      await noise(2)
      expect(await evaluateAll(deps)).toEqual([])
      await threshold(deps, p.sku, wh.id, 30)
      await move('sale', 1) // 25 → 24: below the new threshold, from a figure known to be ok
      expect(await evaluateAll(deps)).toEqual(['level:low_stock'])
    })

    it("a SKU's total that rose past its threshold is stored ok, whatever its level's figures", async () => {
      const { deps, wh, p, move, noise } = await setUp('QE-4', 10)
      await move('restock', 4)
      // The level watches nothing (threshold 0); the SKU's total watches 10.
      await threshold(deps, p.sku, wh.id, 0)
      expect(await evaluateAll(deps)).toEqual([])
      await noise(2)
      // Level 4 → 14 (above 0 throughout); total 4 → 14: only the total before is at its threshold.
      await move('restock', 10)
      await noise(2)
      expect(await evaluateAll(deps)).toEqual([])
      await updateProduct(deps, p.sku, { lowStockThreshold: 20 })
      await threshold(deps, p.sku, wh.id, 0)
      await move('sale', 1) // total 14 → 13: below 20, from a total known to be ok
      expect(await evaluateAll(deps)).toEqual(['total:low_stock'])
    })

    it("a level is judged against its own threshold, not the SKU's", async () => {
      const { deps, wh, p, move, noise } = await setUp('QE-5', 0)
      await move('restock', 50)
      await threshold(deps, p.sku, wh.id, 10)
      await noise(2)
      expect(await evaluateAll(deps)).toEqual([])
      await move('sale', 45) // level 5: at or below its own 10; the total (threshold 0) is fine
      await noise(2)
      expect(await evaluateAll(deps)).toEqual(['level:low_stock'])
      await move('sale', 5) // 0: out, for the level and the total
      expect(await evaluateAll(deps)).toEqual(['level:out_of_stock', 'total:out_of_stock'])
    })

    it('a figure taken low in a page: its later events in the page are judged from low, whatever their figures', async () => {
      const { deps, p, move } = await setUp('QE-7', 10)
      await updateProduct(deps, p.sku, { safetyStock: 20 })
      await move('restock', 100) // available 80
      expect(await evaluateAll(deps)).toEqual([])
      await move('sale', 72) // available 8: low
      // Safety stock changes a figure without a movement: available 28, and the next movement
      // starts from there. Judged on its own, 28 → 27 crosses nothing; after the sale before it
      // in the same page (stored states still ok), it is the recovery.
      await updateProduct(deps, p.sku, { safetyStock: 0 })
      await move('sale', 1)
      expect(await evaluateAll(deps)).toEqual(['level:back_in_stock', 'level:low_stock', 'total:back_in_stock', 'total:low_stock'])
    })

    it('a page of events far from every threshold raises nothing and is evaluated once', async () => {
      const { deps, move, noise } = await setUp('QE-6', 10)
      await move('restock', 100)
      expect(await evaluateAll(deps)).toEqual([])
      await noise(7)
      const r = await evaluateAlerts(deps, SETTINGS)
      expect(r).toMatchObject({ events: 3, raised: [], more: true })
      expect(await evaluateAll(deps)).toEqual([])
      await move('sale', 90)
      expect(await evaluateAll(deps)).toEqual(['level:low_stock', 'total:low_stock'])
    })
  })
}
