/**
 * The admin UI's CSV upload (#14, #16), in-process on every database: a preview changes nothing
 * and lists each line's outcome; apply commits the valid rows; scopes, CSRF, size and a missing
 * file are refused and change nothing; a large file applies as an import job whose panel only
 * the key that started it sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/http/app.js'
import { ApiKeyVerifier } from '../../src/service/api-keys.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { getStock } from '../../src/service/stock.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testDeps } from '../support/fixtures.js'
import { signIn, type Signed } from './support-ui.js'

function upload(s: Signed, fields: Record<string, string>, csv: string | null, o: { csrf?: string; htmx?: boolean } = {}): RequestInit {
  const fd = new FormData()
  fd.set('_csrf', o.csrf ?? s.csrf)
  for (const [k, v] of Object.entries(fields)) fd.set(k, v)
  if (csv !== null) fd.set('file', new File([csv], 'counts.csv', { type: 'text/csv' }))
  return { method: 'POST', body: fd, headers: { cookie: s.cookie, ...(o.htmx === false ? {} : { 'hx-request': 'true' }) } }
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: admin UI CSV upload`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let t: Awaited<ReturnType<typeof testApp>>
    const fetcher = (path: string, init?: RequestInit) => t.app.request(path, init)
    const onHand = async (sku: string) => (await getStock(deps, sku)).levels.find((l) => l.warehouseCode === 'UP-W1')?.onHand ?? null

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store)
      t = await testApp(deps)
      await makeWarehouse(deps, { code: 'UP-W1' })
      for (const sku of ['UP-1', 'UP-2', 'UP-3']) await makeProduct(deps, { sku })
    })
    afterAll(async () => ts?.drop())

    const csv = 'sku;warehouse_code;quantity\r\nUP-1;UP-W1;5\r\nUP-2;UP-W1;7\r\nUP-NOPE;UP-W1;1\r\nUP-3;UP-W1;-4\r\n'

    it('previews a counts file: each line’s outcome, refused rows first, and nothing changes', async () => {
      const s = await signIn(fetcher, t.keys.write)
      const res = await fetcher('/admin/imports', upload(s, { kind: 'counts', mode: 'dry' }, csv))
      expect(res.status).toBe(200)
      const body = await res.text()
      expect(body).toContain('Dry run: nothing was changed.')
      expect(body).toMatch(/4 rows · 2 would change · 0 unchanged · 0 stale · 2 refused/)
      expect(body.indexOf('data-line="4"')).toBeLessThan(body.indexOf('data-line="2"')) // refused first
      expect(body).toContain('0 → 5')
      expect(await onHand('UP-1')).toBeNull()
    })

    it('applies the same file: valid rows commit, refused rows are listed by line', async () => {
      const s = await signIn(fetcher, t.keys.write)
      const res = await fetcher('/admin/imports', upload(s, { kind: 'counts', mode: 'apply' }, csv))
      expect(res.status).toBe(200)
      const body = await res.text()
      expect(body).toContain('Imported.')
      expect(body).toMatch(/data-line="4" data-status="rejected"/)
      expect(await onHand('UP-1')).toBe(5)
      expect(await onHand('UP-2')).toBe(7)
      expect(await onHand('UP-3')).toBeNull()
    })

    it('downloads levels and the ledger as CSV through the session, for any scope; without one it asks to sign in', async () => {
      const reader = await signIn(fetcher, t.keys.read)
      const levels = await fetcher('/admin/exports/levels.csv', { headers: { cookie: reader.cookie } })
      expect(levels.status).toBe(200)
      expect(levels.headers.get('content-type')).toContain('text/csv')
      const text = await levels.text()
      expect(text.split(/\r?\n/)[0]).toBe('sku,warehouse_code,quantity,reserved,available,safety_stock,low_stock_threshold,updated_at')
      expect(text).toMatch(/\nUP-1,UP-W1,5,/)
      const ledger = await (await fetcher('/admin/exports/ledger.csv', { headers: { cookie: reader.cookie } })).text()
      expect(ledger).toMatch(/,UP-2,.*,sync,/)
      expect((await fetcher('/admin/exports/levels.csv')).status).toBe(303)
    })

    it('refuses a read-only key, products without admin, a forged form, a missing file and a file over the limit, changing nothing', async () => {
      const reader = await signIn(fetcher, t.keys.read)
      const page = await (await fetcher('/admin/imports', { headers: { cookie: reader.cookie } })).text()
      expect(page).not.toContain('type="file"')
      const again = 'sku,warehouse_code,quantity\nUP-1,UP-W1,99\n'
      expect((await fetcher('/admin/imports', upload(reader, { kind: 'counts', mode: 'apply' }, again))).status).toBe(403)
      const writer = await signIn(fetcher, t.keys.write)
      expect((await fetcher('/admin/imports', upload(writer, { kind: 'products', mode: 'apply' }, 'sku,product_id\nUP-9,9\n'))).status).toBe(403)
      expect((await fetcher('/admin/imports', upload(writer, { kind: 'counts', mode: 'apply' }, again, { csrf: 'forged' }))).status).toBe(403)
      const missing = await fetcher('/admin/imports', upload(writer, { kind: 'counts', mode: 'apply' }, null))
      expect(missing.status).toBe(422)
      expect(await missing.text()).toContain('choose a CSV file')
      const notCsv = await fetcher('/admin/imports', upload(writer, { kind: 'counts', mode: 'apply' }, 'sku,colour\nUP-1,red\n'))
      expect(notCsv.status).toBe(422)
      const small = createApp({ ...deps, verifier: new ApiKeyVerifier(deps, 0), limits: { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024, importBodyBytes: 1000 } })
      const big = await small.request('/admin/imports', upload(writer, { kind: 'counts', mode: 'apply' }, 'sku,warehouse_code,quantity\n' + 'UP-1,UP-W1,99\n'.repeat(200)))
      expect(big.status).toBe(413)
      expect(await onHand('UP-1')).toBe(5)
      expect(await getStock(deps, 'UP-9').catch((e: { code?: string }) => e.code)).toBe('sku_not_found')
    })

    it('a file above the job threshold applies as an import job; its panel is the starting key’s alone', async () => {
      const jobApp = createApp({ ...deps, verifier: new ApiKeyVerifier(deps, 0), limits: { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024, importJobThreshold: 2 } })
      const s = await signIn((p, i) => jobApp.request(p, i), t.keys.write)
      const res = await jobApp.request('/admin/imports', upload(s, { kind: 'counts', mode: 'apply', warehouse: '' }, 'sku,warehouse_code,quantity\nUP-1,UP-W1,6\nUP-2,UP-W1,8\nUP-3,UP-W1,1\n'))
      expect(res.status).toBe(202)
      const panel = await res.text()
      const poll = /hx-get="(\/admin\/imports\/[^"]+)"/.exec(panel)![1]!
      expect((await jobApp.request(poll, { headers: { cookie: s.cookie } })).status).toBe(200)
      const admin = await signIn((p, i) => jobApp.request(p, i), t.keys.admin)
      expect((await jobApp.request(poll, { headers: { cookie: admin.cookie } })).status).toBe(404)
    })
  })
}
