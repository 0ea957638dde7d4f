/**
 * Admin UI sessions and CSRF (#16), in-process on every database: the key is exchanged for a
 * session kept in the database (so two nodes share it), idle and absolute expiry, logout, a
 * revoked key ending its sessions, forms refused without the session's CSRF token, read-only keys
 * refused on every write, and strict security headers on every page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/http/app.js'
import { ApiKeyVerifier, createApiKey, revokeApiKey } from '../../src/service/api-keys.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { updateStock } from '../../src/service/stock.js'
import { snapshot } from '../e2e/support-e2e.js'
import { browseLevels } from '../../src/service/admin-views.js'
import { bulkSync } from '../../src/service/bulk-sync.js'
import { addStore } from '../../src/service/stores.js'
import { setPushStatus } from '../../src/store/woo-repo.js'
import { cookiesOf, csrfOf, form, signIn } from './support-ui.js'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: admin UI sessions and CSRF`, () => {
    let ts: TestStore
    let clock: TestClock
    let deps: ServiceDeps
    let t: Awaited<ReturnType<typeof testApp>>
    const fetcher = (path: string, init?: RequestInit) => t.app.request(path, init)
    let sku: string
    let wh: number

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock(Date.now())
      deps = testDeps(ts.store, clock)
      t = await testApp(deps)
      const w = await makeWarehouse(deps, { code: 'UI-W1' })
      wh = w.id
      sku = (await makeProduct(deps, { sku: 'UI-SESS-1' })).sku
      await updateStock(deps, { sku, warehouseId: wh, changeType: 'restock', quantity: 10, source: 'seed', referenceId: null, notes: null }, { actor: 'test' })
    })
    afterAll(async () => ts?.drop())

    it('sends a browser without a session to the login page, keeping where it was going', async () => {
      const res = await fetcher('/admin/stock?q=UI')
      expect(res.status).toBe(303)
      expect(res.headers.get('location')).toBe('/admin/login?next=%2Fadmin%2Fstock%3Fq%3DUI')
    })

    it('exchanges a key for an HttpOnly, SameSite=Strict session cookie scoped to /admin; the key itself is never set as a cookie', async () => {
      const s = await signIn(fetcher, t.keys.admin)
      const line = s.loginResponse.headers.getSetCookie().find((l) => l.startsWith('sb_admin='))!
      expect(line).toMatch(/HttpOnly/)
      expect(line).toMatch(/SameSite=Strict/)
      expect(line).toMatch(/Path=\/admin/)
      expect(line).toMatch(/Max-Age=\d+/)
      expect(s.loginResponse.headers.getSetCookie().join('\n')).not.toContain(t.keys.admin)
      // Only the token's hash is stored.
      const rows = await ts.store.db.selectFrom('admin_session').selectAll().execute()
      expect(rows.some((r) => r.id_hash === s.token)).toBe(false)
      expect(rows.length).toBeGreaterThan(0)
    })

    it('refuses a wrong key, and a login post without the login form token', async () => {
      const page = await fetcher('/admin/login')
      const loginCookie = cookiesOf(page).get('sb_admin_login')!
      const token = csrfOf(await page.text())
      const wrong = form({ _csrf: token, api_key: 'sbk_' + 'x'.repeat(43) })
      const r1 = await fetcher('/admin/login', { method: 'POST', body: wrong.body, headers: { ...wrong.headers, cookie: `sb_admin_login=${loginCookie}` } })
      expect(r1.status).toBe(401)
      expect(cookiesOf(r1).has('sb_admin')).toBe(false)
      const forged = form({ _csrf: 'forged', api_key: t.keys.admin })
      const r2 = await fetcher('/admin/login', { method: 'POST', body: forged.body, headers: { ...forged.headers, cookie: `sb_admin_login=${loginCookie}` } })
      expect(r2.status).toBe(403)
      expect(cookiesOf(r2).has('sb_admin')).toBe(false)
    })

    it('answers every page with a strict CSP (no inline script or style) and no caching', async () => {
      const s = await signIn(fetcher, t.keys.read)
      for (const path of ['/admin', '/admin/stock', `/admin/sku/${sku}`, '/admin/warehouses', '/admin/stores', '/admin/events', '/admin/alerts', '/admin/providers', '/admin/imports', '/admin/inbound', '/admin/keys']) {
        const res = await fetcher(path, { headers: { cookie: s.cookie } })
        expect([200, 403], path).toContain(res.status)
        const csp = res.headers.get('content-security-policy')!
        expect(csp).toContain("script-src 'self'")
        expect(csp).toContain("style-src 'self'")
        expect(csp).not.toContain('unsafe-inline')
        expect(res.headers.get('cache-control')).toBe('no-store')
        const body = await res.text()
        expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/) // every script is a file
        expect(body).not.toMatch(/\sstyle=/)
        expect(body).not.toMatch(/\son[a-z]+=/)
      }
    })

    it('refuses a form post without the session CSRF token, or with another session\'s, and changes nothing', async () => {
      const a = await signIn(fetcher, t.keys.admin)
      const b = await signIn(fetcher, t.keys.admin)
      const before = await snapshot(ts.store.db)
      for (const token of [null, 'x', b.csrf]) {
        const f = form({ ...(token ? { _csrf: token } : {}), kind: 'restock', warehouse_id: String(wh), quantity: '5', _idem: `forged-${token}` })
        const res = await fetcher(`/admin/sku/${sku}/move`, { method: 'POST', body: f.body, headers: { ...f.headers, cookie: a.cookie } })
        expect(res.status).toBe(403)
        expect(await res.text()).toContain('CSRF')
      }
      expect(await snapshot(ts.store.db)).toEqual(before)
      // With the right token the same post applies.
      const ok = form({ _csrf: a.csrf, kind: 'restock', warehouse_id: String(wh), quantity: '5', _idem: 'legit-1' })
      const res = await fetcher(`/admin/sku/${sku}/move`, { method: 'POST', body: ok.body, headers: { ...ok.headers, cookie: a.cookie, 'hx-request': 'true' } })
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('Applied')
      expect((await snapshot(ts.store.db)).ledgerCount).toBe(before.ledgerCount + 1)
    })

    it('shows a read-only key no forms, and refuses its posts even with a valid token', async () => {
      const s = await signIn(fetcher, t.keys.read)
      const page = await (await fetcher(`/admin/sku/${sku}`, { headers: { cookie: s.cookie } })).text()
      expect(page).not.toContain('/move"')
      expect(page).not.toContain('/transfer"')
      expect(page).toContain('read scope only')
      const before = await snapshot(ts.store.db)
      const f = form({ _csrf: s.csrf, kind: 'restock', warehouse_id: String(wh), quantity: '5', _idem: 'ro-1' })
      const res = await fetcher(`/admin/sku/${sku}/move`, { method: 'POST', body: f.body, headers: { ...f.headers, cookie: s.cookie } })
      expect(res.status).toBe(403)
      const w = form({ _csrf: s.csrf, code: 'RO-NEW', name: 'x', priority: '1', is_active: 'on' })
      expect((await fetcher('/admin/warehouses', { method: 'POST', body: w.body, headers: { ...w.headers, cookie: s.cookie } })).status).toBe(403)
      const k = form({ _csrf: s.csrf, name: 'ro', scope_admin: 'on' })
      expect((await fetcher('/admin/keys', { method: 'POST', body: k.body, headers: { ...k.headers, cookie: s.cookie } })).status).toBe(403)
      expect(await snapshot(ts.store.db)).toEqual(before)
    })

    it('ends a session idle for 30 minutes, and any session 12 hours after login however busy', async () => {
      const s = await signIn(fetcher, t.keys.admin)
      clock.advance(29 * 60_000)
      expect((await fetcher('/admin/warehouses', { headers: { cookie: s.cookie } })).status).toBe(200)
      clock.advance(31 * 60_000)
      expect((await fetcher('/admin/warehouses', { headers: { cookie: s.cookie } })).status).toBe(303)

      const busy = await signIn(fetcher, t.keys.admin)
      for (let h = 0; h < 12 * 4 - 1; h++) {
        clock.advance(15 * 60_000)
        expect((await fetcher('/admin/warehouses', { headers: { cookie: busy.cookie } })).status).toBe(200)
      }
      clock.advance(16 * 60_000)
      expect((await fetcher('/admin/warehouses', { headers: { cookie: busy.cookie } })).status).toBe(303)
    })

    it('logs out: the cookie is cleared and the old token no longer works', async () => {
      const s = await signIn(fetcher, t.keys.admin)
      const f = form({ _csrf: s.csrf })
      const res = await fetcher('/admin/logout', { method: 'POST', body: f.body, headers: { ...f.headers, cookie: s.cookie } })
      expect(res.status).toBe(303)
      expect(res.headers.getSetCookie().some((l) => l.startsWith('sb_admin=;') && /Max-Age=0/.test(l))).toBe(true)
      expect((await fetcher('/admin', { headers: { cookie: s.cookie } })).status).toBe(303)
    })

    it('ends the sessions of a revoked key at their next request', async () => {
      const k = await createApiKey(deps, 'soon revoked', ['read'])
      const s = await signIn(fetcher, k.secret)
      await revokeApiKey(deps, k.apiKey.id)
      expect((await fetcher('/admin', { headers: { cookie: s.cookie } })).status).toBe(303)
    })

    it('serves a session opened on one node from another node over the same database', async () => {
      const s = await signIn(fetcher, t.keys.admin)
      const other = createApp({ ...deps, verifier: new ApiKeyVerifier(deps, 0), limits: { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024 } })
      const res = await other.request('/admin/warehouses', { headers: { cookie: s.cookie } })
      expect(res.status).toBe(200)
      expect(csrfOf(await res.text())).toBe(s.csrf)
    })

    it('a store reconcile started from the UI is a job: another node answers its progress, another key cannot see it', async () => {
      // No runner here: the job stays queued, which is all this needs (the browser suite runs one to the end).
      const store = await addStore(deps, { name: 'ui-ops-shop', url: 'http://127.0.0.1:9', consumerKey: 'ck_x', consumerSecret: 'cs_x', warehouses: ['UI-W1'] })
      const s = await signIn(fetcher, t.keys.admin)
      const f = form({ _csrf: s.csrf, dry_run: '1' })
      const res = await fetcher(`/admin/stores/${store.id}/reconcile`, { method: 'POST', body: f.body, headers: { ...f.headers, cookie: s.cookie, 'hx-request': 'true' } })
      expect(res.status).toBe(202)
      const panel = await res.text()
      const poll = /hx-get="(\/admin\/ops\/[^"]+)"/.exec(panel)![1]!
      const job = await ts.store.db.selectFrom('job').select(['type', 'status', 'actor']).where('id', '=', poll.split('/').pop()!).executeTakeFirstOrThrow()
      expect(job).toMatchObject({ type: 'store-reconcile', status: 'queued' })
      const other = createApp({ ...deps, verifier: new ApiKeyVerifier(deps, 0), limits: { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024 } })
      const there = await other.request(poll, { headers: { cookie: s.cookie } })
      expect(there.status).toBe(200)
      expect(await there.text()).toContain('data-op-state="running"')
      const viewer = await signIn(fetcher, t.keys.read)
      expect((await fetcher(poll, { headers: { cookie: viewer.cookie } })).status).toBe(404)
    })

    it("a store's page shows what steers its pushes, as the node pushing last recorded it", async () => {
      const store = await addStore(deps, { name: 'ui-pacing-shop', url: 'http://127.0.0.1:9', consumerKey: 'ck_x', consumerSecret: 'cs_x', warehouses: ['UI-W1'] })
      const s = await signIn(fetcher, t.keys.read)
      const page = async () => (await (await fetcher(`/admin/stores/${store.id}`, { headers: { cookie: s.cookie } })).text()).replace(/\s+/g, ' ')
      expect(await page()).toContain('Pushing: nothing pushed yet.')
      await setPushStatus(ts.store.db, store.id, { window_ms: 600, loaded: true, in_flight: 1, concurrency: 2, max_concurrency: 4, capacity: 2, latency_ms: 742, backlog: 17, busy: 0.8, at: Date.UTC(2026, 11, 3, 22, 0, 5) })
      const shown = /<p id="pushing">(.*?)<\/p>/.exec(await page())![1]!.replace(/<[^>]+>/g, '')
      expect(shown).toBe('Pushing: store loaded · window 600 ms · 1 in flight of 2 allowed (max 4) · capacity 2 · store answers in 742 ms · 17 waiting as of 2026-12-03 22:00:05')
    })

    it('refuses a mangled session cookie and a next parameter pointing elsewhere', async () => {
      expect((await fetcher('/admin', { headers: { cookie: 'sb_admin=' + 'A'.repeat(43) } })).status).toBe(303)
      expect((await fetcher('/admin', { headers: { cookie: 'sb_admin=<script>' } })).status).toBe(303)
      const page = await fetcher('/admin/login')
      const loginCookie = cookiesOf(page).get('sb_admin_login')!
      for (const next of ['//evil.example/', 'https://evil.example/admin', '/adminevil', '/admin\\@evil']) {
        const f = form({ _csrf: csrfOf(await page.clone().text()), api_key: t.keys.admin, next })
        const res = await fetcher('/admin/login', { method: 'POST', body: f.body, headers: { ...f.headers, cookie: `sb_admin_login=${loginCookie}` } })
        expect(res.status).toBe(303)
        expect(res.headers.get('location')).toBe('/admin')
      }
    })

    it('escapes every user string: names, notes and search terms render as text', async () => {
      const evil = '<img src=x onerror=alert(1)>'
      const p = await makeProduct(deps, { sku: 'UI-XSS-1', name: evil })
      await updateStock(deps, { sku: p.sku, warehouseId: wh, changeType: 'restock', quantity: 1, source: 'seed', referenceId: null, notes: evil }, { actor: 'test' })
      const s = await signIn(fetcher, t.keys.admin)
      for (const path of [`/admin/sku/${p.sku}`, `/admin/stock?q=${encodeURIComponent(evil)}`, '/admin/stock?q=UI-XSS']) {
        const body = await (await fetcher(path, { headers: { cookie: s.cookie } })).text()
        expect(body, path).not.toContain('<img')
        expect(body, path).toContain('&lt;img src=x onerror=alert(1)&gt;')
      }
    })

    it('answers hostile form posts with a clear refusal and changes nothing', async () => {
      const s = await signIn(fetcher, t.keys.admin)
      const before = await snapshot(ts.store.db)
      const post = async (path: string, fields: Record<string, string>, extra: Record<string, string> = {}) => {
        const f = form({ _csrf: s.csrf, ...fields })
        const res = await fetcher(path, { method: 'POST', body: f.body, headers: { ...f.headers, cookie: s.cookie, ...extra } })
        return { status: res.status, text: await res.text() }
      }
      const move = (fields: Record<string, string>) => post(`/admin/sku/${sku}/move`, { _idem: `h-${Math.random()}`, ...fields })
      expect(await move({ kind: 'restock', warehouse_id: String(wh), quantity: 'abc' })).toMatchObject({ status: 422, text: expect.stringContaining('Quantity must be a whole number') })
      expect(await move({ kind: 'restock', warehouse_id: String(wh), quantity: '-5' })).toMatchObject({ status: 422 })
      expect(await move({ kind: 'restock', warehouse_id: String(wh), quantity: '99999999999' })).toMatchObject({ status: 422 })
      expect(await move({ kind: 'restock', warehouse_id: String(wh) })).toMatchObject({ status: 422, text: expect.stringContaining('Quantity is required') })
      expect(await move({ kind: 'drop table', warehouse_id: String(wh), quantity: '1' })).toMatchObject({ status: 422, text: expect.stringContaining('Unknown movement') })
      expect(await move({ kind: 'restock', warehouse_id: '987654', quantity: '1' })).toMatchObject({ status: 404 })
      expect(await move({ kind: 'restock', warehouse_id: String(wh), quantity: '1', notes: 'n'.repeat(600) })).toMatchObject({ status: 422 })
      expect((await post(`/admin/sku/${sku}/transfer`, { warehouse_id: String(wh), to_warehouse_id: String(wh), quantity: '1' })).status).toBe(422)
      expect((await post('/admin/warehouses', { code: 'bad code!', name: 'x', priority: '1' })).status).toBe(422)
      expect((await post('/admin/warehouses', { code: 'OK', name: '', priority: '1' })).status).toBe(422)
      expect((await post('/admin/keys', { name: 'no scopes' })).status).toBe(422)
      expect((await post('/admin/keys/key_nope/revoke', {})).status).toBe(404)
      expect((await post('/admin/dead-letters/dl_nope/replay', {})).status).toBe(404)
      expect((await post('/admin/stores/nope/reconcile', { dry_run: '1' })).status).toBe(404)
      // JSON instead of a form carries no CSRF token: refused before anything is read.
      const json = await fetcher(`/admin/sku/${sku}/move`, { method: 'POST', body: JSON.stringify({ _csrf: s.csrf, kind: 'restock', warehouse_id: wh, quantity: 1 }), headers: { 'content-type': 'application/json', cookie: s.cookie } })
      expect(json.status).toBe(403)
      const huge = form({ _csrf: s.csrf, kind: 'restock', warehouse_id: String(wh), quantity: '1', notes: 'x'.repeat(400_000) })
      const big = await fetcher(`/admin/sku/${sku}/move`, { method: 'POST', body: huge.body, headers: { ...huge.headers, cookie: s.cookie } })
      expect(big.status).toBe(413)
      expect((await fetcher('/admin/sku/not%20a%20sku', { headers: { cookie: s.cookie } })).status).toBe(404)
      expect((await fetcher('/admin/sku/NO-SUCH-SKU', { headers: { cookie: s.cookie } })).status).toBe(404)
      expect((await fetcher('/admin/stock?after=%%%&warehouse=abc&state=nope&sort=x', { headers: { cookie: s.cookie } })).status).toBe(200)
      const bigCursor = Buffer.from(JSON.stringify(['UI-SESS-1', 9_999_999_999])).toString('base64url')
      for (const path of ['/admin/stock?warehouse=9999999999', `/admin/stock?after=${bigCursor}`, `/admin/sku/${sku}?warehouse=9999999999&type=x&cursor=%%`, `/admin/sku/${sku}/history?warehouse=9999999999`]) {
        expect((await fetcher(path, { headers: { cookie: s.cookie } })).status, path).toBe(200)
      }
      expect(await snapshot(ts.store.db)).toEqual(before)
    })

    it('pages the stock browser by keyset without losing or repeating a level, by SKU prefix and by name with a filter', async () => {
      const w2 = await makeWarehouse(deps, { code: 'UI-W2' })
      const items: Array<{ sku: string; warehouse_id: number; quantity: number }> = []
      for (let i = 0; i < 230; i++) {
        const p = await makeProduct(deps, { sku: `UI-PG-${String(i).padStart(3, '0')}`, name: i % 2 ? `Paged thing ${i}` : `Other ${i}`, lowStockThreshold: 5 })
        items.push({ sku: p.sku, warehouse_id: wh, quantity: i % 3 === 0 ? 2 : 40 }, { sku: p.sku, warehouse_id: w2.id, quantity: 40 })
      }
      await bulkSync(deps, { source: 'test', referenceId: null, items }, { actor: 'test' })
      const all = async (f: { query: string; state?: 'low'; descending?: boolean }) => {
        const seen: string[] = []
        let after: { sku: string; warehouseId: number } | undefined
        for (let pages = 0; pages < 50; pages++) {
          const page = await browseLevels(deps, { query: f.query, state: f.state, descending: f.descending ?? false, after })
          seen.push(...page.rows.map((r) => `${r.sku}@${r.warehouseId}`))
          if (!page.next) return seen
          after = page.next
        }
        throw new Error('too many pages')
      }
      const byPrefix = await all({ query: 'UI-PG-' })
      expect(byPrefix).toHaveLength(460)
      expect(new Set(byPrefix).size).toBe(460)
      expect(byPrefix).toEqual([...byPrefix].sort((a, b) => (a < b ? -1 : 1)))
      expect(await all({ query: 'ui-pg-', descending: true })).toEqual([...byPrefix].reverse())
      // Odd i named "Paged thing", low when i % 3 === 0 (only in the first warehouse): i = 3, 9, 15, …
      const lowByName = await all({ query: 'paged THING', state: 'low' })
      const expected = Array.from({ length: 230 }, (_, i) => i).filter((i) => i % 2 === 1 && i % 3 === 0).map((i) => `UI-PG-${String(i).padStart(3, '0')}@${wh}`)
      expect(lowByName).toEqual(expected)
      // 115 products match the name: more than one batch of names, several pages of levels.
      const byName = await all({ query: 'Paged thing' })
      expect(byName).toEqual(byPrefix.filter((k) => Number(k.slice(6, 9)) % 2 === 1))
      expect(await all({ query: 'Paged thing', descending: true })).toEqual([...byName].reverse())
    })
  })
}
