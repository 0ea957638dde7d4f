/**
 * Errors people read and shapes they parse (#12 items 10-12): readable validation messages, one
 * per field, one bound per rule; malformed JSON that says where; 415, 405 and 431 as problem
 * documents; decimal path ids; 401 before 422; totals that say what they cover.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve, type ServerType } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { answerClientErrors } from '../../src/http/client-errors.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { testApp, testClock, testDeps } from '../support/fixtures.js'
import { expectJson, expectProblem, seedCatalog, snapshot, type Seed } from './support-e2e.js'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: errors people read (#12)`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let s: Seed
    let t: Awaited<ReturnType<typeof testApp>>

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock())
      s = await seedCatalog(deps, 'E')
      t = await testApp(deps)
    })
    afterAll(async () => ts?.drop())

    it('item 10: warehouse_id_list beside the seed string, and totals_scope naming what the totals cover', async () => {
      const all = await expectJson(await t.call('GET', `stock/${s.tee.sku}`))
      expect(all.data).toMatchObject({ warehouse_ids: `${s.w1.id},${s.w2.id}`, warehouse_id_list: [s.w1.id, s.w2.id], totals_scope: 'all_warehouses', total_stock: 15 })
      const one = await expectJson(await t.call('GET', `stock/${s.tee.sku}?warehouse_id=${s.w2.id}`))
      expect(one.data).toMatchObject({ warehouse_id_list: [s.w2.id], totals_scope: 'warehouse', total_stock: 5 })
    })

    it('missing fields are "required", one message per field, in plain words', async () => {
      const p = await expectProblem(await t.call('POST', 'stock/update', { body: { sku: s.tee.sku } }), 422, 'validation_failed')
      expect(p.errors).toEqual([
        { pointer: '/warehouse_id', message: 'is required' },
        { pointer: '/quantity', message: 'is required' },
        { pointer: '/change_type', message: 'is required' },
      ])
      expect(p.detail).not.toMatch(/expected|received|undefined/)
      const typed = await expectProblem(await t.call('POST', 'stock/transfer', { body: { sku: s.tee.sku, from_warehouse_id: 'one', to_warehouse_id: 1.5, quantity: -2 } }), 422, 'validation_failed')
      expect(typed.errors).toEqual([
        { pointer: '/from_warehouse_id', message: 'must be a number' },
        { pointer: '/to_warehouse_id', message: 'must be a whole number' },
        { pointer: '/quantity', message: 'must be at least 1' },
      ])
    })

    it('a negative and a zero restock get the same rule; counts may be zero, not negative', async () => {
      const msg = async (quantity: number, change_type: string) =>
        (await expectProblem(await t.call('POST', 'stock/update', { body: { sku: s.tee.sku, warehouse_id: s.w1.id, quantity, change_type } }), 422, 'validation_failed')).errors
      expect(await msg(-1, 'restock')).toEqual([{ pointer: '/quantity', message: 'must be at least 1' }])
      expect(await msg(0, 'restock')).toEqual([{ pointer: '/quantity', message: 'must be at least 1' }])
      expect(await msg(-1, 'sync')).toEqual([{ pointer: '/quantity', message: 'must not be negative' }])
    })

    it('malformed JSON says where it broke; 415 says which type is expected', async () => {
      const cut = await expectProblem(await t.call('POST', 'stock/update', { raw: '{"sku": "A", "quantity": ' }), 400, 'malformed_json')
      expect(cut.detail).toMatch(/end of JSON input/i)
      const bad = await expectProblem(await t.call('POST', 'stock/update', { raw: '{"sku": "A" "quantity": 1}' }), 400, 'malformed_json')
      expect(bad.detail).toMatch(/position \d+/)
      const media = await expectProblem(await t.call('POST', 'stock/update', { raw: '{}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type')
      expect(media.detail).toMatch(/application\/json/)
      expect(media.detail).toMatch(/text\/plain/)
    })

    it('a wrong method is 405 with Allow, also where GET /stock/{sku} would read the path as a SKU', async () => {
      const snap = await snapshot(ts.store.db)
      const res = await t.call('GET', 'stock/update')
      expect(res.headers.get('allow')).toBe('POST')
      await expectProblem(res, 405, 'method_not_allowed')
      const del = await t.call('DELETE', 'warehouses')
      expect(del.headers.get('allow')).toBe('GET, HEAD, POST')
      await expectProblem(del, 405, 'method_not_allowed')
      const put = await t.call('PUT', `reservations`, { body: {} })
      expect(put.headers.get('allow')).toBe('GET, HEAD, POST')
      await expectProblem(put, 405, 'method_not_allowed')
      await expectProblem(await t.call('GET', 'no-such-route'), 404, 'route_not_found')
      expect(await snapshot(ts.store.db)).toEqual(snap)
    })

    it('path ids are decimal: a word says it is not a number, 0x10 is not 16', async () => {
      const word = await expectProblem(await t.call('GET', 'warehouses/abc'), 422, 'validation_failed')
      expect(word.errors).toEqual([{ pointer: '/id', message: 'must be a whole number in decimal digits' }])
      expect(word.detail).not.toMatch(/NaN/)
      await expectProblem(await t.call('PATCH', 'warehouses/0x10', { body: { active: false } }), 422, 'validation_failed')
      await expectProblem(await t.call('GET', 'stock/history/1e3'), 422, 'validation_failed')
      await expectProblem(await t.call('GET', `stock/${s.tee.sku}?warehouse_id=0x1`), 422, 'validation_failed')
      await expectJson(await t.call('GET', `warehouses/${s.w1.id}`))
    })

    it('item 12: an unauthenticated deeply nested body is 401, not 422', async () => {
      const deep = `{"sku":"A","nested":${'['.repeat(5000)}${']'.repeat(5000)}}`
      await expectProblem(await t.call('POST', 'stock/update', { key: null, raw: deep }), 401, 'unauthenticated')
      // With a credential the depth limit still applies.
      await expectProblem(await t.call('POST', 'stock/update', { raw: deep }), 422, 'validation_failed')
    })

    it('431 (headers too large) carries a problem body over a real socket', async () => {
      const server: ServerType = await new Promise((resolve) => {
        const srv = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(srv))
      })
      answerClientErrors(server as Server)
      try {
        const port = (server.address() as AddressInfo).port
        const answer = await new Promise<string>((resolve, reject) => {
          const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET /inventory/v1/warehouses HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`))
          let buf = ''
          sock.on('data', (d) => (buf += d.toString()))
          sock.on('end', () => resolve(buf))
          sock.on('error', (e) => (buf ? resolve(buf) : reject(e)))
        })
        expect(answer).toMatch(/^HTTP\/1\.1 431 /)
        expect(answer).toMatch(/content-type: application\/problem\+json/i)
        const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { status: number; code: string }
        expect(body).toMatchObject({ status: 431, code: 'request_headers_too_large' })
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()))
      }
    })
  })
}
