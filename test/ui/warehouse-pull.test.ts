/**
 * The admin UI's view of a warehouse's pull source (#14, #16), in-process on every database,
 * against a real local HTTP server: the list shows each source's health, the source page shows
 * no credential, a dry run changes nothing, pull now applies and is listed as a run, a read-only
 * key gets no buttons and its forged post is refused.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { setPullSource } from '../../src/service/pulls.js'
import { getStock } from '../../src/service/stock.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testDeps } from '../support/fixtures.js'
import { form, signIn } from './support-ui.js'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: admin UI warehouse pull`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let t: Awaited<ReturnType<typeof testApp>>
    let api: Server
    let wh: number
    const fetcher = (path: string, init?: RequestInit) => t.app.request(path, init)
    const onHand = async () => (await getStock(deps, 'PULL-UI-1')).levels.find((l) => l.warehouseId === wh)?.onHand ?? null

    beforeAll(async () => {
      api = createServer((req, res) => {
        if (req.headers.authorization !== 'Bearer tok-secret-123') return void res.writeHead(401).end()
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ inventory_items: [{ sku: 'PULL-UI-1', quantity: 42 }, { sku: 'PULL-UI-NOPE', quantity: 1 }] }))
      })
      await new Promise<void>((r) => api.listen(0, '127.0.0.1', r))
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store)
      t = await testApp(deps)
      wh = (await makeWarehouse(deps, { code: 'PULL-W' })).id
      await makeWarehouse(deps, { code: 'NO-PULL' })
      await makeProduct(deps, { sku: 'PULL-UI-1' })
      await setPullSource(deps, wh, { url: `http://127.0.0.1:${(api.address() as AddressInfo).port}/inventory`, auth: { type: 'bearer', token: 'tok-secret-123' }, intervalSeconds: 600 })
    })
    afterAll(async () => {
      await ts?.drop()
      await new Promise((r) => api?.close(r))
    })

    it('lists each warehouse’s pull health and shows a source without its credentials', async () => {
      const s = await signIn(fetcher, t.keys.read)
      const list = await (await fetcher('/admin/warehouses', { headers: { cookie: s.cookie } })).text()
      expect(list).toContain(`href="/admin/warehouses/${wh}/pull"`)
      expect(list).toContain('none')
      const page = await fetcher(`/admin/warehouses/${wh}/pull`, { headers: { cookie: s.cookie } })
      expect(page.status).toBe(200)
      const body = await page.text()
      expect(body).toContain('/inventory')
      expect(body).toContain('every 600 s')
      expect(body).not.toContain('tok-secret-123')
      expect(body).not.toContain('Pull now') // read-only: no buttons
      const forged = form({ _csrf: s.csrf })
      expect((await fetcher(`/admin/warehouses/${wh}/pull`, { method: 'POST', body: forged.body, headers: { ...forged.headers, cookie: s.cookie } })).status).toBe(403)
      expect(await onHand()).toBeNull()
      expect((await fetcher('/admin/warehouses/99999/pull', { headers: { cookie: s.cookie } })).status).toBe(404)
    })

    it('a dry run changes nothing; pull now applies and is listed as a run', async () => {
      const s = await signIn(fetcher, t.keys.write)
      const dry = form({ _csrf: s.csrf, dry_run: '1' })
      const r1 = await fetcher(`/admin/warehouses/${wh}/pull`, { method: 'POST', body: dry.body, headers: { ...dry.headers, cookie: s.cookie } })
      expect(r1.status).toBe(200)
      expect(await r1.text()).toMatch(/Dry run: nothing was changed\. 1 pages, 2 items: 1 would change, 0 unchanged, 0 stale, 1 refused/)
      expect(await onHand()).toBeNull()
      const real = form({ _csrf: s.csrf })
      const r2 = await fetcher(`/admin/warehouses/${wh}/pull`, { method: 'POST', body: real.body, headers: { ...real.headers, cookie: s.cookie } })
      const body = await r2.text()
      expect(body).toMatch(/Pulled\. 1 pages, 2 items: 1 applied/)
      expect(body.match(/data-run="/g)).toHaveLength(2)
      expect(await onHand()).toBe(42)
    })
  })
}
