/**
 * The admin UI's Alerts and Providers pages, in-process on every database: what they show, that a
 * read-only key sees no form and is refused, that a forged post changes nothing, and that the
 * forms do the work they report (acknowledge, send a test, resolve held items).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChannel } from '../../src/service/alert-channels.js'
import { evaluateAlerts, getAlert, listAlerts, raiseOperationalAlert } from '../../src/service/alerts.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { addProvider, findInboundProvider, listHeld, receiveProviderPayload } from '../../src/service/providers.js'
import { getStock, updateStock } from '../../src/service/stock.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps } from '../support/fixtures.js'
import { snapshot } from '../e2e/support-e2e.js'
import { form, signIn, type Signed } from './support-ui.js'

const EVIL = '<img src=x onerror=alert(1)>'

async function evaluateAll(deps: ServiceDeps): Promise<void> {
  for (;;) {
    const r = await evaluateAlerts(deps)
    if (r.events === 0 && !r.more) return
  }
}

/** A loopback HTTP endpoint answering every request with `status`. */
async function sink(status: number): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0
  const server = http.createServer((req, res) => {
    hits++
    req.resume()
    req.on('end', () => res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'thanks' : 'nope'))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hook`, hits: () => hits, close: () => new Promise((r) => server.close(() => r())) }
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: admin UI alerts and providers pages`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let t: Awaited<ReturnType<typeof testApp>>
    const fetcher = (path: string, init?: RequestInit) => t.app.request(path, init)
    let wh: number
    const sinks: Array<Awaited<ReturnType<typeof sink>>> = []
    const post = async (s: Signed, path: string, fields: Record<string, string>, csrf: string | null = s.csrf) => {
      const f = form({ ...(csrf === null ? {} : { _csrf: csrf }), ...fields })
      const res = await fetcher(path, { method: 'POST', body: f.body, headers: { ...f.headers, cookie: s.cookie } })
      return { status: res.status, text: await res.text() }
    }
    const get = async (s: Signed, path: string) => {
      const res = await fetcher(path, { headers: { cookie: s.cookie } })
      return { status: res.status, text: await res.text() }
    }

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock(Date.now()))
      t = await testApp(deps)
      wh = (await makeWarehouse(deps, { code: 'AL-W1' })).id
    })
    afterAll(async () => {
      for (const s of sinks) await s.close()
      await ts?.drop()
    })

    describe('alerts', () => {
      let lowId: string
      let opId: string
      beforeAll(async () => {
        const p = await makeProduct(deps, { sku: 'AL-LOW-1', lowStockThreshold: 5 })
        await updateStock(deps, { sku: p.sku, warehouseId: wh, changeType: 'restock', quantity: 10, source: 'seed', referenceId: null, notes: null }, { actor: 'test' })
        await evaluateAll(deps)
        await updateStock(deps, { sku: p.sku, warehouseId: wh, changeType: 'sale', quantity: 7, source: 'seed', referenceId: null, notes: null }, { actor: 'test' })
        await evaluateAll(deps)
        const low = (await listAlerts(deps, { sku: p.sku })).find((a) => a.kind === 'low_stock')
        expect(low).toBeDefined()
        lowId = low!.id
        opId = (await raiseOperationalAlert(deps, 'store_unreachable', EVIL, `detail ${EVIL}`))!.id
      })

      it('lists open alerts with kind, scope, SKU or subject, figures and raise time, escaping every string', async () => {
        const s = await signIn(fetcher, t.keys.admin)
        const { status, text } = await get(s, '/admin/alerts')
        expect(status).toBe(200)
        expect(text).toContain(`data-alert="${lowId}"`)
        expect(text).toContain(`data-alert="${opId}"`)
        expect(text).toContain('low_stock')
        expect(text).toContain('/admin/sku/AL-LOW-1')
        expect(text).toContain('store_unreachable')
        expect(text).not.toContain('<img')
        expect(text).toContain('&lt;img src=x onerror=alert(1)&gt;')
        expect(text).toContain(`/admin/alerts/${lowId}/acknowledge"`)
        // The overview counts them.
        expect((await get(s, '/admin')).text).toMatch(/Open alerts<\/div><div class="value"><a href="\/admin\/alerts">\d+<\/a>/)
      })

      it('shows a read-only key no acknowledge form and no channels, and refuses its posts', async () => {
        await createChannel(deps, { name: 'ro-hidden', kind: 'webhook', config: { url: 'http://127.0.0.1:9/hook' } })
        const s = await signIn(fetcher, t.keys.read)
        const { status, text } = await get(s, '/admin/alerts')
        expect(status).toBe(200)
        expect(text).toContain(`data-alert="${lowId}"`)
        expect(text).not.toContain('/acknowledge"')
        expect(text).not.toContain('ro-hidden')
        expect(text).not.toContain('/test"')
        const before = await snapshot(ts.store.db)
        expect((await post(s, `/admin/alerts/${lowId}/acknowledge`, {})).status).toBe(403)
        expect((await getAlert(deps, lowId)).status).toBe('open')
        expect(await snapshot(ts.store.db)).toEqual(before)
      })

      it('refuses an acknowledge without the session CSRF token, or with another session\'s, and changes nothing', async () => {
        const a = await signIn(fetcher, t.keys.write)
        const b = await signIn(fetcher, t.keys.write)
        for (const token of [null, 'x', b.csrf]) {
          const r = await post(a, `/admin/alerts/${lowId}/acknowledge`, {}, token)
          expect(r.status).toBe(403)
          expect(r.text).toContain('CSRF')
        }
        expect((await getAlert(deps, lowId)).status).toBe('open')
      })

      it('acknowledges with a write key: the alert is marked acknowledged by that key and stays listed as open work', async () => {
        const s = await signIn(fetcher, t.keys.write)
        const r = await post(s, `/admin/alerts/${lowId}/acknowledge`, {})
        expect(r.status).toBe(200)
        expect(r.text).toContain(`Acknowledged alert ${lowId}`)
        const a = await getAlert(deps, lowId)
        expect(a.status).toBe('acknowledged')
        expect(a.acknowledgedBy).toMatch(/^key_/)
        expect(a.acknowledgedAt).not.toBeNull()
        // Still listed (with no second acknowledge button); unknown ids are a clear 404.
        const page = (await get(s, '/admin/alerts')).text
        expect(page).toContain(`data-alert="${lowId}"`)
        expect(page).not.toContain(`/admin/alerts/${lowId}/acknowledge"`)
        expect((await post(s, '/admin/alerts/alr_NOPE/acknowledge', {})).status).toBe(404)
      })

      it('shows closed alerts on request and refuses to acknowledge them', async () => {
        await updateStock(deps, { sku: 'AL-LOW-1', warehouseId: wh, changeType: 'restock', quantity: 50, source: 'seed', referenceId: null, notes: null }, { actor: 'test' })
        await evaluateAll(deps)
        expect((await getAlert(deps, lowId)).status).toBe('closed')
        const s = await signIn(fetcher, t.keys.admin)
        expect((await get(s, '/admin/alerts')).text).not.toContain(`data-alert="${lowId}"`)
        expect((await get(s, '/admin/alerts?state=closed')).text).toContain(`data-alert="${lowId}"`)
        const all = (await get(s, '/admin/alerts?state=all')).text
        expect(all).toContain(`data-alert="${lowId}"`)
        expect(all).toContain(`data-alert="${opId}"`)
        expect((await get(s, '/admin/alerts?state=%3Cx%3E')).status).toBe(200)
        const r = await post(s, `/admin/alerts/${lowId}/acknowledge?state=all`, {})
        expect(r.status).toBe(409)
        expect(r.text).toContain('closed')
      })

      it('lists channels for an admin and sends a test, showing what the channel answered', async () => {
        const good = await sink(200)
        const bad = await sink(500)
        sinks.push(good, bad)
        const g = await createChannel(deps, { name: 'ui-good', kind: 'webhook', config: { url: good.url }, mode: 'digest', digestSeconds: 600 })
        const b = await createChannel(deps, { name: 'ui-bad', kind: 'webhook', config: { url: bad.url } })
        const s = await signIn(fetcher, t.keys.admin)
        const page = (await get(s, '/admin/alerts')).text
        expect(page).toContain(`data-channel="${g.id}"`)
        expect(page).toContain('every 600 s')
        expect(page).toContain(`/admin/alert-channels/${b.id}/test"`)
        const ok = await post(s, `/admin/alert-channels/${g.id}/test`, {})
        expect(ok.status).toBe(200)
        expect(ok.text).toContain('Channel ui-good accepted the test message')
        expect(good.hits()).toBe(1)
        const no = await post(s, `/admin/alert-channels/${b.id}/test`, {})
        expect(no.status).toBe(502)
        expect(no.text).toContain('Channel ui-bad did not accept the test message')
        expect(no.text).toContain('500')
        expect(bad.hits()).toBe(1)
        // A write key may not send tests; an unknown channel is a 404.
        const w = await signIn(fetcher, t.keys.write)
        expect((await post(w, `/admin/alert-channels/${g.id}/test`, {})).status).toBe(403)
        expect(good.hits()).toBe(1)
        expect((await post(s, '/admin/alert-channels/ach_NOPE/test', {})).status).toBe(404)
      })
    })

    describe('providers', () => {
      const opts = { sealKey: null }
      const mapping = `{"event_id": id, "movements": [lines.{"sku": sku, "warehouse_code": "AL-W1", "quantity": qty, "change_type": kind}]}`
      const deliver = async (name: string, body: unknown) => {
        const p = await findInboundProvider(deps, opts, name)
        await receiveProviderPayload(deps, p!, JSON.stringify(body), { actor: 'test:provider' })
      }
      beforeAll(async () => {
        await addProvider(deps, opts, { name: 'acme-wms', secret: 'a-very-secret-value-123', mapping, unknownSku: 'hold' })
        await addProvider(deps, opts, { name: 'supplier-c', secret: 'another-secret-value-456', preset: 'supplier_portal_c', warehouses: ['AL-W1'] })
        await makeProduct(deps, { sku: 'OUR-CAP' })
        await deliver('acme-wms', { id: 'h-1', lines: [{ sku: 'THEIR-CAP', qty: 10, kind: 'restock' }, { sku: 'GONE-1', qty: 4, kind: 'restock' }] })
        await deliver('acme-wms', { id: 'h-2', lines: [{ sku: 'THEIR-CAP', qty: 3, kind: 'sale' }, { sku: EVIL.replace(/[<> =()]/g, '-'), qty: 1, kind: 'restock' }] })
        expect((await listHeld(deps, opts, 'acme-wms')).length).toBe(4)
      })

      it('lists providers (preset or custom mapping, policy, warehouses, never secrets) and their held items with a resolve form', async () => {
        const s = await signIn(fetcher, t.keys.admin)
        const { status, text } = await get(s, '/admin/providers')
        expect(status).toBe(200)
        expect(text).toContain('data-provider="acme-wms"')
        expect(text).toContain('custom mapping')
        expect(text).toContain('data-provider="supplier-c"')
        expect(text).toContain('preset <code>supplier_portal_c</code>')
        expect(text).toContain('>hold<')
        expect(text).not.toContain('a-very-secret-value-123')
        expect(text).not.toContain('another-secret-value-456')
        expect(text).toContain('data-held="THEIR-CAP"')
        expect(text).toContain('restock 10 at AL-W1<br>sale 3 at AL-W1')
        expect(text).toContain('action="/admin/providers/acme-wms/held/resolve"')
      })

      it('shows read-only and write keys no provider and no form, and refuses their resolve', async () => {
        for (const key of [t.keys.read, t.keys.write]) {
          const s = await signIn(fetcher, key)
          const { status, text } = await get(s, '/admin/providers')
          expect(status).toBe(403)
          expect(text).not.toContain('data-provider=')
          expect(text).not.toContain('/held/resolve"')
          const before = await snapshot(ts.store.db)
          expect((await post(s, '/admin/providers/acme-wms/held/resolve', { external_sku: 'THEIR-CAP', how: 'map', sku: 'OUR-CAP' })).status).toBe(403)
          expect(await snapshot(ts.store.db)).toEqual(before)
        }
        expect((await listHeld(deps, opts, 'acme-wms')).length).toBe(4)
      })

      it("refuses a resolve without the session CSRF token, or with another session's, and changes nothing", async () => {
        const a = await signIn(fetcher, t.keys.admin)
        const b = await signIn(fetcher, t.keys.admin)
        const before = await snapshot(ts.store.db)
        for (const token of [null, 'x', b.csrf]) {
          const r = await post(a, '/admin/providers/acme-wms/held/resolve', { external_sku: 'THEIR-CAP', how: 'map', sku: 'OUR-CAP' }, token)
          expect(r.status).toBe(403)
          expect(r.text).toContain('CSRF')
        }
        expect(await snapshot(ts.store.db)).toEqual(before)
        expect((await listHeld(deps, opts, 'acme-wms')).length).toBe(4)
      })

      it('refuses hostile resolve posts clearly and changes nothing', async () => {
        const s = await signIn(fetcher, t.keys.admin)
        const before = await snapshot(ts.store.db)
        expect(await post(s, '/admin/providers/acme-wms/held/resolve', { external_sku: 'THEIR-CAP', how: 'map' })).toMatchObject({ status: 422 })
        expect(await post(s, '/admin/providers/acme-wms/held/resolve', { external_sku: 'THEIR-CAP', how: 'drop' })).toMatchObject({ status: 422 })
        expect(await post(s, '/admin/providers/acme-wms/held/resolve', { how: 'create' })).toMatchObject({ status: 422 })
        expect(await post(s, '/admin/providers/acme-wms/held/resolve', { external_sku: 'THEIR-CAP', how: 'map', sku: 'NO-SUCH-SKU' })).toMatchObject({ status: 404 })
        expect(await post(s, '/admin/providers/nobody/held/resolve', { external_sku: 'THEIR-CAP', how: 'create' })).toMatchObject({ status: 404 })
        expect(await post(s, '/admin/providers/acme-wms/held/resolve', { external_sku: 'x'.repeat(500), how: 'create' })).toMatchObject({ status: 422 })
        expect(await snapshot(ts.store.db)).toEqual(before)
        expect((await listHeld(deps, opts, 'acme-wms')).length).toBe(4)
      })

      it('resolves: mapping applies the held items in order, create registers the SKU, discard drops them', async () => {
        const s = await signIn(fetcher, t.keys.admin)
        const mapped = await post(s, '/admin/providers/acme-wms/held/resolve', { external_sku: 'THEIR-CAP', how: 'map', sku: 'OUR-CAP' })
        expect(mapped.status).toBe(200)
        expect(mapped.text).toContain('mapped to <strong>OUR-CAP</strong>')
        expect(mapped.text).toContain('2 applied')
        expect((await getStock(deps, 'OUR-CAP', wh)).levels[0]!.onHand).toBe(7)
        expect(mapped.text).not.toContain('data-held="THEIR-CAP"')
        // Later payloads use the mapping.
        await deliver('acme-wms', { id: 'h-3', lines: [{ sku: 'THEIR-CAP', qty: 2, kind: 'sale' }] })
        expect((await getStock(deps, 'OUR-CAP', wh)).levels[0]!.onHand).toBe(5)

        const created = await post(s, '/admin/providers/acme-wms/held/resolve', { external_sku: '-img-src-x-onerror-alert-1--', how: 'create' })
        expect(created.status).toBe(200)
        expect(created.text).toContain('registered as a new SKU: 1 applied')
        expect((await getStock(deps, '-img-src-x-onerror-alert-1--', wh)).levels[0]!.onHand).toBe(1)

        const discarded = await post(s, '/admin/providers/acme-wms/held/resolve', { external_sku: 'GONE-1', how: 'discard', sku: '' })
        expect(discarded.status).toBe(200)
        expect(discarded.text).toContain('discarded: 1 discarded')
        expect(await listHeld(deps, opts, 'acme-wms')).toEqual([])
        expect(discarded.text).toContain('Nothing held')
      })
    })
  })
}
