/**
 * A store's map, sync and reconcile over HTTP run as background jobs (#12 item 16): the request
 * answers 202 with Location at once, GET /jobs/{id} shows progress and then the result. Bad input
 * and unknown stores are refused before anything is queued.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { JobRunner } from '../../src/service/jobs.js'
import { storeJobHandlers } from '../../src/service/store-jobs.js'
import { DATABASES } from '../support/databases.js'
import { connectStore, registerSkus, startHub, startShop, stockOf, type Hub, type Shop } from './support.js'

type Job = { id: string; type: string; status: string; done: number; total: number; error: string | null; result: Record<string, unknown> | null }

for (const { name, skipReason } of DATABASES) {
  describe.skipIf(skipReason !== null)(`store jobs over HTTP (${name})`, () => {
    let hub: Hub | null = null
    let shop: Shop | null = null
    afterEach(async () => {
      await hub?.close()
      await shop?.emu.stop()
      hub = null
      shop = null
    })
    const jobCount = async (h: Hub) => Number((await h.deps.store.db.selectFrom('job').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n)

    it('map, sync and reconcile answer 202 + Location; the job runs them and reports progress and the result', async () => {
      hub = await startHub(name)
      shop = await startShop({ simple: 6, variable: 1, webhookMode: 'manual' })
      await registerSkus(hub, shop.seeded.skus, () => [2, 5])
      await connectStore(hub, shop)
      const runner = new JobRunner(hub.deps, 'store-jobs-test', { handlers: storeJobHandlers(hub.deps) })
      const h = hub
      async function queue(path: string, body?: unknown): Promise<Job> {
        const res = await h.call('POST', path, body === undefined ? {} : { body })
        expect(res.status, await res.clone().text()).toBe(202)
        const job = ((await res.json()) as { data: Job }).data
        expect(res.headers.get('location')).toBe(`/inventory/v1/jobs/${job.id}`)
        expect(job.status).toBe('queued')
        expect(await runner.runOnce()).toBe(true)
        const done = ((await (await h.call('GET', `jobs/${job.id}`)).json()) as { data: Job }).data
        expect(done.status, done.error ?? '').toBe('done')
        return done
      }
      const n = shop.seeded.skus.length
      const map = await queue('stores/shop1/map', {})
      expect(map).toMatchObject({ type: 'store-map', result: { mapped: n, unknown: [], duplicated: [] } })
      // Progress counts the lookups (lists of 100 SKUs): all of them done.
      expect(map.total).toBeGreaterThan(0)
      expect(map.done).toBe(map.total)
      const sync = await queue('stores/shop1/sync')
      expect(sync).toMatchObject({ type: 'store-sync', result: { skus: n, pushed: n, failed: [] } })
      expect(sync.total).toBeGreaterThan(0)
      expect(sync.done).toBe(sync.total)
      expect(stockOf(shop, shop.seeded.skus[0]!)).toBe(7)
      shop.emu.shop.setQuantity(shop.seeded.simple[0]!, 3)
      const rec = await queue('stores/shop1/reconcile', { dry_run: true })
      expect(rec.result).toMatchObject({ dry_run: true, status: 'done', checked: n, drift: 1, repaired: 0 })
      const run = await h.call('GET', `stores/shop1/reconciliations/${rec.result!.run_id as string}`)
      expect(run.status).toBe(200)
      expect(stockOf(shop, shop.seeded.skus[0]!)).toBe(3)
    })

    it('an unknown store is 404 and bad bodies are refused, and no job is queued', async () => {
      hub = await startHub(name)
      shop = await startShop({ simple: 1, variable: 0, webhookMode: 'manual' })
      await connectStore(hub, shop)
      for (const path of ['stores/nope/map', 'stores/nope/sync', 'stores/nope/reconcile']) expect((await hub.call('POST', path, { body: {} })).status).toBe(404)
      const bad = await hub.call('POST', 'stores/shop1/map', { body: { scan: 'yes' } })
      expect(bad.status).toBe(422)
      expect(bad.headers.get('content-type')).toMatch(/problem\+json/)
      expect((await hub.call('POST', 'stores/shop1/reconcile', { body: { dry_run: true, extra: 1 } })).status).toBe(422)
      expect((await hub.call('POST', 'stores/shop1/reconcile', { raw: '{"dry_run":', headers: { 'content-type': 'application/json' } })).status).toBe(400)
      expect((await hub.call('POST', 'stores/shop1/sync', { key: null })).status).toBe(401)
      expect(await jobCount(hub)).toBe(0)
    })
  })
}
