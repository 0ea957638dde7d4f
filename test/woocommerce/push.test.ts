/** Stock changes in the hub reach a WooCommerce store (the emulator) through the engine. */
import { afterEach, describe, expect, it } from 'vitest'
import { updateStock } from '../../src/service/stock.js'
import { changeStore } from '../../src/service/stores.js'
import { findStore } from '../../src/store/woo-repo.js'
import { DATABASES } from '../support/databases.js'
import { connectStore, registerSkus, setCounts, startHub, startShop, stockOf, until, type Hub, type Shop } from './support.js'

const ctx = { actor: 'test' }

for (const { name, skipReason } of DATABASES) {
  describe.skipIf(skipReason !== null)(`push to WooCommerce (${name})`, () => {
    let hub: Hub | null = null
    let shop: Shop | null = null
    afterEach(async () => {
      await hub?.close()
      await shop?.emu.stop()
      hub = null
      shop = null
    })

    it('pushes available across the store warehouses minus the buffer; variations go to their parent batch URL', async () => {
      hub = await startHub(name)
      shop = await startShop({ simple: 3, variable: 2 })
      const skus = shop.seeded.skus
      await registerSkus(hub, skus, () => [10, 5])
      await connectStore(hub, shop, { buffer: 2 })
      const map = await hub.woo.map('shop1')
      expect(map).toMatchObject({ mapped: skus.length, unknown: [] })
      // A store figure for every SKU (nothing changed yet): push them all once.
      const sync = await hub.woo.sync('shop1')
      expect(sync).toMatchObject({ skus: skus.length, pushed: skus.length, failed: [] })
      for (const sku of skus) expect(stockOf(shop, sku)).toBe(13)
      const paths = new Set(shop.emu.batchRequests().map((r) => r.path))
      for (const parent of shop.seeded.parents) expect(paths).toContain(`/wp-json/wc/v3/products/${parent.id}/variations/batch`)
      expect(paths).toContain('/wp-json/wc/v3/products/batch')

      // Now through the engine: a sale of 3 in BER shows up in the store.
      hub.worker.start()
      const variation = shop.seeded.variations[1]!.sku
      await updateStock(hub.deps, { sku: variation, warehouseId: hub.warehouses[0]!.id, changeType: 'sale', quantity: 3, source: 'pos', referenceId: null, notes: null }, ctx)
      await until(() => stockOf(shop!, variation) === 10, 5000, 'the sale to reach the store')
      // Never below zero without backorders: counts that leave 1 available, buffer 2 → 0.
      const simple = shop.seeded.simple[0]!.sku
      await setCounts(hub, [
        { sku: simple, warehouse_id: hub.warehouses[0]!.id, quantity: 1 },
        { sku: simple, warehouse_id: hub.warehouses[1]!.id, quantity: 0 },
      ])
      await until(() => stockOf(shop!, simple) === 0, 5000, 'zero in the store')
      // A warehouse the store does not sell from changes nothing for it.
      await changeStore(hub.deps, 'shop1', { warehouses: ['BER'] })
      await updateStock(hub.deps, { sku: simple, warehouseId: hub.warehouses[1]!.id, changeType: 'restock', quantity: 50, source: 'po', referenceId: null, notes: null }, ctx)
      await updateStock(hub.deps, { sku: simple, warehouseId: hub.warehouses[0]!.id, changeType: 'restock', quantity: 4, source: 'po', referenceId: null, notes: null }, ctx)
      await until(() => stockOf(shop!, simple) === 3, 5000, 'BER only, minus the buffer')
      expect((await findStore(hub.deps.store.db, 'shop1'))?.health).toBe('ok')
    })

    it('10,000 changed SKUs reach the store in at most 100 batch requests', async () => {
      hub = await startHub(name)
      shop = await startShop({ simple: 10_000, variable: 0 })
      const skus = shop.seeded.skus
      const now = Date.now()
      for (let i = 0; i < skus.length; i += 2000) {
        await hub.deps.store.db
          .insertInto('product')
          .values(skus.slice(i, i + 2000).map((sku, j) => ({ sku, product_id: 500_000 + i + j, parent_id: null, name: null, allows_backorders: 0, safety_stock: 0, low_stock_threshold: 0, created_at: now, updated_at: now })))
          .execute()
      }
      await connectStore(hub, shop)
      expect((await hub.woo.map('shop1')).mapped).toBe(10_000)
      const before = shop.emu.batchRequests().length
      await setCounts(hub, skus.map((sku, i) => ({ sku, warehouse_id: hub!.warehouses[0]!.id, quantity: 1 + (i % 50) })))
      hub.worker.start()
      await until(() => skus.every((sku, i) => stockOf(shop!, sku) === 1 + (i % 50)), 90_000, 'every figure in the store')
      const batches = shop.emu.batchRequests().slice(before)
      expect(batches.length).toBeLessThanOrEqual(100)
      expect(batches.every((b) => b.items <= 100 && b.path === '/wp-json/wc/v3/products/batch')).toBe(true)
    }, 120_000)
  })
}
