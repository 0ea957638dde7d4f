/**
 * The stock read's one statement (store/stock-repo findProductsWithLevels: product columns plus the
 * levels packed as JSON) returns exactly what the two plain queries return, on both databases:
 * every level and figure, null and non-null count times, levels listed by warehouse id whatever
 * order they were created in, a product without levels, unknown SKUs left out (#13).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { findProducts } from '../../src/store/product-repo.js'
import { findLevelsBySkus, findProductsWithLevels } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps } from '../support/fixtures.js'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: stock read in one statement`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    const skus = ['SR-A', 'SR-B', 'SR-NONE', 'SR-Ü ✓']

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock())
      const whs = [await makeWarehouse(deps, { code: 'SR1' }), await makeWarehouse(deps, { code: 'SR2' }), await makeWarehouse(deps, { code: 'SR3' })]
      for (const [i, sku] of skus.entries()) await makeProduct(deps, { sku, productId: 9100 + i, parentId: i === 1 ? 9000 : null, name: i === 0 ? 'named' : null, safetyStock: i, lowStockThreshold: 3 + i })
      const move = (sku: string, w: number, changeType: 'restock' | 'sync' | 'sale', quantity: number) =>
        updateStock(deps, { sku, warehouseId: whs[w]!.id, changeType, quantity, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
      // Levels created out of warehouse order; a count (last_counted_at set) beside plain restocks.
      await move('SR-A', 2, 'restock', 7)
      await move('SR-A', 0, 'sync', 12)
      await move('SR-A', 1, 'restock', 3)
      await move('SR-A', 1, 'sale', 2)
      await move('SR-B', 1, 'restock', 1_000_000)
      await move('SR-Ü ✓', 0, 'restock', 5)
    })
    afterAll(async () => {
      await ts?.drop()
    })

    it('returns the products and levels the two plain queries return, levels by warehouse id', async () => {
      const asked = [...skus, 'SR-UNKNOWN']
      const found = await findProductsWithLevels(ts.store.db, ts.store.caps, asked)
      const products = await findProducts(ts.store.db, asked)
      const levels = await findLevelsBySkus(ts.store.db, asked)
      expect([...found.keys()].sort()).toEqual(products.map((p) => p.sku).sort())
      for (const p of products) {
        const f = found.get(p.sku)!
        expect(f.product).toEqual(p)
        const own = levels.filter((l) => l.sku === p.sku).sort((a, b) => a.warehouseId - b.warehouseId)
        expect(f.levels).toEqual(own)
      }
      expect(found.get('SR-A')!.levels.map((l) => l.onHand)).toEqual([12, 1, 7])
      expect(found.get('SR-A')!.levels[0]!.lastCountedAt).not.toBeNull()
      expect(found.get('SR-NONE')!.levels).toEqual([])
      expect(found.has('SR-UNKNOWN')).toBe(false)
    })

    it('one SKU and an empty list', async () => {
      const one = await findProductsWithLevels(ts.store.db, ts.store.caps, ['SR-B'])
      expect([...one.keys()]).toEqual(['SR-B'])
      expect(one.get('SR-B')!.levels.map((l) => [l.onHand, l.version])).toEqual([[1_000_000, 1]])
      expect((await findProductsWithLevels(ts.store.db, ts.store.caps, [])).size).toBe(0)
    })
  })
}
