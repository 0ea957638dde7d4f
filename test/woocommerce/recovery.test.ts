/** A store that fails for a while loses nothing; drift is found, left alone by a dry run, and repaired. */
import { afterEach, describe, expect, it } from 'vitest'
import { updateStock } from '../../src/service/stock.js'
import { findStore, listDrift } from '../../src/store/woo-repo.js'
import { DATABASES } from '../support/databases.js'
import { connectStore, registerSkus, startHub, startShop, stockOf, until, type Hub, type Shop } from './support.js'

const ctx = { actor: 'test' }

for (const { name, skipReason } of DATABASES) {
  describe.skipIf(skipReason !== null)(`WooCommerce failures and drift (${name})`, () => {
    let hub: Hub | null = null
    let shop: Shop | null = null
    afterEach(async () => {
      await hub?.close()
      await shop?.emu.stop()
      hub = null
      shop = null
    })

    it('a store answering 500, then 429 with Retry-After, then 401 loses nothing; the figures are right after recovery', async () => {
      hub = await startHub(name)
      shop = await startShop({ simple: 20, variable: 2 })
      const skus = shop.seeded.skus
      await registerSkus(hub, skus, () => [20, 0])
      await connectStore(hub, shop)
      await hub.woo.map('shop1')
      await hub.woo.sync('shop1')
      hub.worker.start()
      const wh = hub.warehouses[0]!.id
      const sell = async (sku: string, q: number) => updateStock(hub!.deps, { sku, warehouseId: wh, changeType: 'sale', quantity: q, source: 'pos', referenceId: null, notes: null }, ctx)
      const isBatch = (r: { method: string; path: string }) => r.path.endsWith('/batch')

      const stop500 = shop.emu.fail({ status: 500, match: isBatch })
      for (const sku of skus.slice(0, 10)) await sell(sku, 1)
      await until(() => shop!.emu.requests.filter((r) => r.status === 500).length >= 2, 5000, 'failed pushes')
      stop500()
      const stop429 = shop.emu.fail({ status: 429, retryAfter: '1', match: isBatch, times: 2 })
      for (const sku of skus.slice(5, 15)) await sell(sku, 2)
      await until(() => shop!.emu.requests.some((r) => r.status === 429), 5000, 'a 429')
      const stop401 = shop.emu.fail({ status: 401, match: isBatch })
      for (const sku of skus.slice(10)) await sell(sku, 3)
      await until(async () => (await findStore(hub!.deps.store.db, 'shop1'))?.health === 'unhealthy', 8000, 'the store marked unhealthy')
      stop429()
      stop401()
      const expected = (i: number) => 20 - (i < 10 ? 1 : 0) - (i >= 5 && i < 15 ? 2 : 0) - (i >= 10 ? 3 : 0)
      await until(() => skus.every((sku, i) => stockOf(shop!, sku) === expected(i)), 20_000, 'every figure after recovery')
      await until(async () => (await findStore(hub!.deps.store.db, 'shop1'))?.health === 'ok', 5000, 'healthy again')
      expect(await hub.deps.store.db.selectFrom('dead_letter').selectAll().execute()).toEqual([])
      // Only integers ever left the hub, never more than 100 a request.
      expect(shop.emu.batchRequests().every((r) => r.items <= 100)).toBe(true)
    }, 60_000)

    it('reconcile finds drift made in the store; --dry-run changes nothing; a repair fixes it and re-enables disabled webhooks', async () => {
      hub = await startHub(name)
      shop = await startShop({ simple: 6, variable: 1 })
      const skus = shop.seeded.skus
      await registerSkus(hub, skus, () => [7, 1])
      await connectStore(hub, shop)
      await hub.woo.map('shop1')
      await hub.woo.sync('shop1')
      await hub.woo.registerWebhooks('shop1', 'http://127.0.0.1:9/unreachable-hub')
      for (const w of shop.emu.shop.webhooks.values()) w.status = 'disabled'
      // Drift on purpose: an admin edit, a negative figure from an oversized REST order, an unmanaged item.
      const byS = (sku: string) => [...shop!.emu.shop.products.values()].find((p) => p.sku === sku)!
      shop.emu.shop.setQuantity(byS(skus[0]!), 3)
      shop.emu.shop.setQuantity(byS(skus[1]!), -2)
      const v = byS(shop.seeded.variations[0]!.sku)
      shop.emu.shop.setQuantity(v, 40)

      const dry = await hub.woo.reconcile('shop1', { dryRun: true })
      expect(dry).toMatchObject({ status: 'done', dryRun: true, checked: skus.length, drift: 3, repaired: 0, webhooksReenabled: 0 })
      const report = dry.report as { drift: Array<{ sku: string; store_figure: number; hub_figure: number }>; webhooks: unknown[] }
      expect(report.drift.map((d) => [d.sku, d.store_figure, d.hub_figure]).sort()).toEqual(
        [
          [skus[0], 3, 8],
          [skus[1], -2, 8],
          [v.sku, 40, 8],
        ].sort(),
      )
      expect(report.webhooks).toHaveLength(3)
      expect(stockOf(shop, skus[0]!)).toBe(3)
      expect([...shop.emu.shop.webhooks.values()].every((w) => w.status === 'disabled')).toBe(true)

      const fix = await hub.woo.reconcile('shop1', { dryRun: false })
      expect(fix).toMatchObject({ status: 'done', dryRun: false, drift: 3, repaired: 3, webhooksReenabled: 3 })
      for (const sku of skus) expect(stockOf(shop, sku)).toBe(8)
      expect([...shop.emu.shop.webhooks.values()].every((w) => w.status === 'active')).toBe(true)
      const again = await hub.woo.reconcile('shop1', { dryRun: true })
      expect(again).toMatchObject({ drift: 0 })
      const store = (await findStore(hub.deps.store.db, 'shop1'))!
      expect((await listDrift(hub.deps.store.db, store.id, { runId: dry.id, limit: 10 })).length).toBe(3)
      // Over the API too.
      const runs = (await (await hub.call('GET', 'stores/shop1/reconciliations')).json()) as { data: Array<{ id: string; drift: number }> }
      expect(runs.data.map((r) => r.drift)).toEqual([0, 3, 3])
      const one = (await (await hub.call('GET', `stores/shop1/reconciliations/${dry.id}`)).json()) as { data: { report: { drift: unknown[] } } }
      expect(one.data.report.drift).toHaveLength(3)
    })
  })
}
