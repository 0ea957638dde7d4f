/**
 * Bodies over a real socket. Behind @hono/node-server the body is read straight from Node's
 * request stream (http/middleware/body.ts), not through a WHATWG Request as in-process requests
 * are; these cases hold both paths to the same answers: limits counted on the bytes that arrive
 * (honest, chunked or absent Content-Length), malformed JSON, a UTF-8 byte-order mark, signed
 * requests whose HMAC covers the raw bytes, and a client that hangs up halfway.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { testClock, testDeps } from '../support/fixtures.js'
import { secureApp } from '../security/support-security.js'
import { signatureHeaders } from '../security/support-security.js'
import { API, seedCatalog, snapshot, type Seed } from './support-e2e.js'

const LIMITS = { bodyBytes: 2048, bulkBodyBytes: 8192 }

interface RawAnswer {
  readonly status: number
  readonly body: string
}

/** One request with exactly these headers; `chunks` are written one by one (chunked unless a Content-Length is given). */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string | string[]>, chunks: ReadonlyArray<string | Buffer>): Promise<RawAnswer & { headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    for (const c of chunks) req.write(c)
    req.end()
  })
}

const codeOf = (text: string) => (JSON.parse(text) as { code?: string }).code

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: request bodies over a real socket`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let s: Seed
    let t: ReturnType<typeof secureApp>
    let key: { secret: string; signingSecret: string }
    let server: ServerType
    let port: number

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock())
      s = await seedCatalog(deps, 'SB')
      t = secureApp(deps, { limits: LIMITS })
      key = await t.key('socket', ['admin'])
      await new Promise<void>((resolve) => {
        server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve())
      })
      port = (server.address() as AddressInfo).port
    })
    afterAll(async () => {
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
      await ts?.drop()
    })

    const json = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', 'x-api-key': key.secret, ...extra })
    const sale = (over: object = {}) => JSON.stringify({ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale', ...over })

    /** Same bytes in-process and over the socket: same status and problem code. */
    async function sameBothWays(path: string, body: string, headers: Record<string, string>) {
      const inProcess = await t.app.request(path, { method: 'POST', headers, body })
      const overSocket = await rawRequest(port, 'POST', path, { ...headers, 'content-length': String(Buffer.byteLength(body)) }, [body])
      expect(overSocket.status).toBe(inProcess.status)
      const text = await inProcess.text()
      if (inProcess.status >= 400) expect(codeOf(overSocket.body)).toBe(codeOf(text))
      return overSocket
    }

    it('a movement over the socket applies once and answers like the in-process app', async () => {
      const before = (await snapshot(ts.store.db)).ledgerCount
      const a = await rawRequest(port, 'POST', `${API}/stock/update`, json(), [sale()])
      expect(a.status, a.body).toBe(200)
      expect((JSON.parse(a.body) as { data: { new_stock: number } }).data.new_stock).toBe(9)
      expect((await snapshot(ts.store.db)).ledgerCount).toBe(before + 1)
    })

    it('a body sent in many small chunks arrives whole', async () => {
      const body = sale({ notes: 'ü'.repeat(100) })
      const bytes = Buffer.from(body)
      const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7))
      const a = await rawRequest(port, 'POST', `${API}/stock/update`, json(), chunks)
      expect(a.status, a.body).toBe(200)
      expect((JSON.parse(a.body) as { data: { notes: string } }).data.notes).toBe('ü'.repeat(100))
    })

    it.each([
      ['declared too large (Content-Length)', true],
      ['chunked, no Content-Length, too large once counted', false],
    ])('%s: 413 payload_too_large, nothing changes', async (_name, declared) => {
      const before = await snapshot(ts.store.db)
      const body = sale({ notes: 'x'.repeat(LIMITS.bodyBytes) })
      const headers = declared ? json({ 'content-length': String(body.length) }) : json()
      const half = Math.floor(body.length / 2)
      const a = await rawRequest(port, 'POST', `${API}/stock/update`, headers, [body.slice(0, half), body.slice(half)])
      expect(a.status).toBe(413)
      expect(codeOf(a.body)).toBe('payload_too_large')
      expect(await snapshot(ts.store.db)).toEqual(before)
    })

    it('the bulk route has its own, larger limit', async () => {
      const items = Array.from({ length: 60 }, () => ({ sku: s.mug.sku, warehouse_id: s.w1.id, quantity: 3 }))
      const body = JSON.stringify({ items })
      expect(body.length).toBeGreaterThan(LIMITS.bodyBytes)
      expect(body.length).toBeLessThan(LIMITS.bulkBodyBytes)
      const a = await rawRequest(port, 'POST', `${API}/stock/bulk-sync`, json(), [body])
      expect(a.status, a.body).toBe(200)
    })

    it.each([
      ['malformed JSON', () => '{"sku": '],
      ['an empty body', () => ''],
      ['wrong types', () => sale({ quantity: 'one' })],
      ['nested too deep', () => `${'['.repeat(40)}${']'.repeat(40)}`],
    ])('%s: the same problem as in-process, nothing changes', async (_name, body) => {
      const before = await snapshot(ts.store.db)
      const a = await sameBothWays(`${API}/stock/update`, body(), json())
      expect(a.status).toBeGreaterThanOrEqual(400)
      expect(await snapshot(ts.store.db)).toEqual(before)
    })

    it('a UTF-8 byte-order mark is dropped as a WHATWG Request drops it', async () => {
      const a = await sameBothWays(`${API}/stock/update`, `\uFEFF${sale()}`, json())
      expect(a.status, a.body).toBe(200)
    })

    it('a signed request verifies over the raw bytes sent; a changed byte does not', async () => {
      const body = sale({ notes: 'signed ✓' })
      const path = `${API}/stock/update`
      const ok = await rawRequest(port, 'POST', path, json(signatureHeaders(key.signingSecret, 'POST', path, body, deps.clock.now())), [body])
      expect(ok.status, ok.body).toBe(200)
      const before = await snapshot(ts.store.db)
      const tampered = await rawRequest(port, 'POST', path, json(signatureHeaders(key.signingSecret, 'POST', path, body, deps.clock.now())), [body.replace('✓', 'x')])
      expect(tampered.status).toBe(401)
      expect(await snapshot(ts.store.db)).toEqual(before)
    })

    it('answers and problems carry the same security headers and request id as in-process', async () => {
      for (const [path, status] of [['/healthz', 200], [`${API}/warehouses`, 401]] as const) {
        const inProcess = await t.app.request(path, { headers: { 'x-request-id': 'trace-1' } })
        const overSocket = await rawRequest(port, 'GET', path, { 'x-request-id': 'trace-1' }, [])
        expect([inProcess.status, overSocket.status]).toEqual([status, status])
        for (const name of ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'strict-transport-security', 'referrer-policy', 'x-request-id']) {
          expect(overSocket.headers[name], name).toBe(inProcess.headers.get(name))
        }
        expect(overSocket.headers['x-request-id']).toBe('trace-1')
      }
      const unsafe = await rawRequest(port, 'GET', '/healthz', { 'x-request-id': 'a b<script>' }, [])
      expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    })

    it('stock reads given again from kept answers carry the same body and headers as in-process, read after read (#13)', async () => {
      for (const path of [`${API}/stock/${encodeURIComponent(s.tee.sku)}`, `${API}/stock/${encodeURIComponent(s.tee.sku)}?warehouse_id=${s.w1.id}`, `${API}/stock?skus=${s.tee.sku},${s.mug.sku},NOPE`]) {
        for (let i = 0; i < 3; i++) {
          const inProcess = await t.app.request(path, { headers: { 'x-api-key': key.secret } })
          const overSocket = await rawRequest(port, 'GET', path, { 'x-api-key': key.secret }, [])
          expect([inProcess.status, overSocket.status], overSocket.body).toEqual([200, 200])
          const strip = (text: string) => ({ ...(JSON.parse(text) as object), timestamp: null })
          expect(strip(overSocket.body)).toEqual(strip(await inProcess.text()))
          expect(overSocket.headers['content-type']).toBe(inProcess.headers.get('content-type'))
          expect(overSocket.headers['content-type']).toBe('application/json')
          expect(overSocket.headers['x-content-type-options']).toBe('nosniff')
        }
      }
    })

    /** Same header lines (repeats kept) in-process and over the socket: same status, problem code and detail. */
    async function sameHeadersBothWays(method: string, path: string, lines: ReadonlyArray<readonly [string, string]>, body?: string) {
      const inHeaders = new Headers()
      for (const [k, v] of lines) inHeaders.append(k, v)
      const inProcess = await t.app.request(path, { method, headers: inHeaders, ...(body === undefined ? {} : { body }) })
      const grouped: Record<string, string[]> = {}
      for (const [k, v] of lines) (grouped[k.toLowerCase()] ??= []).push(v)
      const overSocket = await rawRequest(port, method, path, grouped, body === undefined ? [] : [body])
      const text = await inProcess.text()
      expect(overSocket.status, overSocket.body).toBe(inProcess.status)
      if (inProcess.status >= 400) {
        const [a, b] = [JSON.parse(overSocket.body) as { code?: string; detail?: string }, JSON.parse(text) as { code?: string; detail?: string }]
        expect([a.code, a.detail]).toEqual([b.code, b.detail])
      }
      expect(overSocket.headers['www-authenticate']).toBe(inProcess.headers.get('www-authenticate') ?? undefined)
      return overSocket
    }

    it('credentials, request ids and idempotency keys read from Node\'s parsed headers answer as in-process (#13)', async () => {
      const read = `${API}/stock/${encodeURIComponent(s.tee.sku)}`
      expect((await sameHeadersBothWays('GET', read, [['x-api-key', key.secret]])).status).toBe(200)
      expect((await sameHeadersBothWays('GET', read, [])).status).toBe(401)
      expect((await sameHeadersBothWays('GET', read, [['x-api-key', key.secret], ['authorization', 'Bearer x']])).status).toBe(401)
      // A repeated header is joined with ", " both ways, which no key secret matches.
      expect((await sameHeadersBothWays('GET', read, [['x-api-key', key.secret], ['x-api-key', key.secret]])).status).toBe(401)
      expect((await sameHeadersBothWays('GET', read, [['x-api-key', key.secret], ['x-request-id', 'a'], ['x-request-id', 'b']])).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
      const post = (extra: ReadonlyArray<readonly [string, string]>) => sameHeadersBothWays('POST', `${API}/stock/update`, [['content-type', 'application/json'], ['x-api-key', key.secret], ...extra], sale({ change_type: 'restock' }))
      expect((await post([['idempotency-key', 'has space']])).status).toBe(422)
      const before = (await snapshot(ts.store.db)).ledgerCount
      const first = await rawRequest(port, 'POST', `${API}/stock/update`, json({ 'idempotency-key': 'socket-idem-1' }), [sale({ change_type: 'restock' })])
      const again = await rawRequest(port, 'POST', `${API}/stock/update`, json({ 'idempotency-key': 'socket-idem-1' }), [sale({ change_type: 'restock' })])
      expect([first.status, again.status]).toEqual([200, 200])
      expect([first.headers['idempotent-replayed'], again.headers['idempotent-replayed']]).toEqual([undefined, 'true'])
      expect((await snapshot(ts.store.db)).ledgerCount).toBe(before + 1)
    })

    it('a client that hangs up halfway changes nothing, and the server keeps serving', async () => {
      const before = await snapshot(ts.store.db)
      await new Promise<void>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `${API}/stock/update`, headers: json({ 'content-length': '500' }), agent: false })
        req.on('error', () => resolve())
        req.write(sale().slice(0, 20))
        setTimeout(() => {
          req.destroy()
          resolve()
        }, 50)
      })
      await new Promise((r) => setTimeout(r, 50))
      expect(await snapshot(ts.store.db)).toEqual(before)
      const a = await rawRequest(port, 'POST', `${API}/stock/update`, json(), [sale({ change_type: 'restock' })])
      expect(a.status, a.body).toBe(200)
    })
  })
}
