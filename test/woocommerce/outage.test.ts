/**
 * A store that cannot be reached (#12.15): connection refused for a while. Its health says so
 * (unhealthy, `unreachable_since`) while it lasts, nothing is lost, and once it answers again the
 * waiting pushes resume at once (the store is probed and its retries made due), not after the
 * backoff: here the backoff is 30 s and more, so only the probe can bring the figures in time.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { updateStock } from '../../src/service/stock.js'
import { storeView } from '../../src/service/stores.js'
import { findStore } from '../../src/store/woo-repo.js'
import { DATABASES } from '../support/databases.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { connectStore, registerSkus, startHub, startShop, stockOf, until, type Hub, type Shop } from './support.js'

const ctx = { actor: 'test' }

for (const { name, skipReason } of DATABASES) {
  describe.skipIf(skipReason !== null)(`WooCommerce store outage (${name})`, () => {
    let hub: Hub | null = null
    let shop: Shop | null = null
    let proxy: TcpProxy | null = null
    afterEach(async () => {
      await hub?.close()
      await proxy?.close()
      await shop?.emu.stop()
      hub = proxy = shop = null
    })

    it('while refused the store is unhealthy with unreachable_since; when it answers, pushes resume without waiting out the backoff; nothing lost', async () => {
      hub = await startHub(name, { backoff: { baseMs: 30_000, capMs: 120_000 }, random: () => 0.99, probeMs: 100 })
      shop = await startShop({ simple: 8, variable: 0 })
      proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(shop.emu.url).port) })
      const url = `http://127.0.0.1:${proxy.port}`
      // OAuth signs the URL the hub uses: the shop's home is the proxy's address.
      shop.emu.shop.homeUrl = url
      const skus = shop.seeded.skus
      await registerSkus(hub, skus, () => [20, 0])
      await connectStore(hub, shop, { url })
      await hub.woo.map('shop1')
      await hub.woo.sync('shop1')
      hub.worker.start()
      const db = hub.deps.store.db
      const wh = hub.warehouses[0]!.id
      const sell = (sku: string) => updateStock(hub!.deps, { sku, warehouseId: wh, changeType: 'sale', quantity: 1, source: 'pos', referenceId: null, notes: null }, ctx)
      await sell(skus[0]!)
      await until(() => stockOf(shop!, skus[0]!) === 19, 10_000, 'a push while the store answers')
      expect((await findStore(db, 'shop1'))?.health).toBe('ok')

      await proxy.down()
      for (const sku of skus) await sell(sku)
      await until(async () => (await findStore(db, 'shop1'))?.unreachableSince != null, 10_000, 'the store marked unreachable')
      const down = (await findStore(db, 'shop1'))!
      expect(down.health).toBe('unhealthy')
      expect(down.healthReason).toMatch(/cannot be reached/)
      expect(storeView(down).unreachable_since).toBe(new Date(down.unreachableSince!).toISOString())
      // Every failed push waits for a retry 30 s or more away.
      await until(
        async () => {
          const rows = await db.selectFrom('delivery').select(['next_attempt_at', 'locked_by']).where('target_id', '=', down.id).execute()
          return rows.length === skus.length && rows.every((r) => r.locked_by === null && Number(r.next_attempt_at) - Date.now() > 10_000)
        },
        10_000,
        'every push of the outage waiting for its retry',
      )
      for (const sku of skus.slice(0, 3)) await sell(sku)

      await proxy.up()
      const want = (i: number) => 20 - 1 - (i === 0 ? 1 : 0) - (i < 3 ? 1 : 0)
      await until(() => skus.every((sku, i) => stockOf(shop!, sku) === want(i)), 10_000, 'every figure once the store answers')
      const back = (await findStore(db, 'shop1'))!
      expect(back.unreachableSince).toBeNull()
      expect(back.health).toBe('ok')
      expect(await db.selectFrom('dead_letter').selectAll().execute()).toEqual([])
      // What steered the pushes is on the store, as the API shows it.
      await until(async () => (await findStore(db, 'shop1'))?.pushStatus != null, 5000, 'the push status recorded')
      const shown = (await (await hub.call('GET', 'stores/shop1')).json()) as { data: { unreachable_since: string | null; pushing: { window_ms: number; concurrency: number; max_concurrency: number; at: string } | null } }
      expect(shown.data.unreachable_since).toBeNull()
      expect(shown.data.pushing).toMatchObject({ max_concurrency: 4 })
      expect(shown.data.pushing!.window_ms).toBeLessThanOrEqual(600)
      expect(shown.data.pushing!.concurrency).toBeGreaterThanOrEqual(1)
    }, 60_000)
  })
}
