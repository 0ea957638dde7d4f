/**
 * What each way of authenticating allows (#5), against both databases: signed requests, key
 * expiry/rotation/last-used/warehouse limits, JWTs from a file and a URL JWKS, provider webhooks
 * applied through the services, the actor on every ledger row, CORS and security headers.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JwtVerifier } from '../../src/security/jwt.js'
import { ApiKeyVerifier, listApiKeys, revokeApiKey, rotateApiKey } from '../../src/service/api-keys.js'
import { createApp } from '../../src/http/app.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { listInboundWebhooks } from '../../src/store/inbound-webhook-repo.js'
import { parseSealKey } from '../../src/security/secret-box.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { expectLevelsMatchLedger } from '../support/ledger-check.js'
import { expectJson, expectProblem, seedCatalog, type Seed } from '../e2e/support-e2e.js'
import { AUDIENCE, ISSUER, jwtVerifier, makeToken, makeTokenKeys, provider, providerSignature, secureApp, signatureHeaders, type TokenKeys } from './support-security.js'

const API = '/inventory/v1'
const SECRET_A = 'warehouse-system-a-secret-0001'
const SECRET_B = 'erp-system-b-secret-000000002'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: authentication methods, happy paths`, () => {
    let ts: TestStore
    let clock: TestClock
    let deps: ServiceDeps
    let s: Seed
    let tk: TokenKeys
    let t: ReturnType<typeof secureApp>
    let n = 0

    const ledgerOf = (sku: string) => ts.store.db.selectFrom('ledger_entry').selectAll().where('sku', '=', sku).orderBy('id').execute()
    const onHand = async (sku: string, wh: number) => (await findLevelsBySkus(ts.store.db, [sku])).find((l) => l.warehouseId === wh)?.onHand ?? 0
    const fresh = async (stock: Array<[number, number]>) => {
      const p = await makeProduct(deps, { sku: `A-P${++n}`, productId: 30_000 + n })
      const admin = await t.key('stocker', ['admin'])
      for (const [wh, q] of stock) await expectJson(await t.call('POST', 'stock/update', { key: admin.secret, body: { sku: p.sku, warehouse_id: wh, quantity: q, change_type: 'restock' } }))
      return p
    }

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      s = await seedCatalog(deps, 'A')
      tk = await makeTokenKeys()
      t = secureApp(deps, {
        security: {
          jwt: jwtVerifier(tk),
          webhooks: {
            warehouse_system_a: provider('warehouse_system_a', SECRET_A),
            erp_system_b: provider('erp_system_b', SECRET_B, { header: 'X-ERP-Signature', encoding: 'base64' }),
            acme_wms: provider('acme_wms', SECRET_B, { header: 'X-Hub-Signature-256', prefix: 'sha256=' }),
          },
          corsOrigins: ['https://admin.example.com'],
        },
      })
    })
    afterAll(async () => ts?.drop())

    describe('signed requests', () => {
      it('a key that must sign moves stock with a valid signature; the ledger records the key id', async () => {
        const k = await t.key('signer', ['read', 'write'], { requireSignature: true })
        const p = await fresh([[s.w1.id, 5]])
        await expectJson(await t.call('POST', 'stock/update', { key: k.secret, sign: { secret: k.signingSecret }, body: { sku: p.sku, warehouse_id: s.w1.id, quantity: 2, change_type: 'sale' } }))
        expect(await onHand(p.sku, s.w1.id)).toBe(3)
        expect((await ledgerOf(p.sku)).at(-1)).toMatchObject({ change_type: 'sale', actor: k.apiKey.id })
      })

      it('signs GET requests over path and query; uppercase hex and the window edges (±299 s) are accepted', async () => {
        const k = await t.key('signer-get', ['read'], { requireSignature: true })
        const path = `stock?skus=${s.tee.sku},${s.mug.sku}`
        await expectJson(await t.call('GET', path, { key: k.secret, sign: { secret: k.signingSecret } }))
        const url = `${API}/${path}`
        const upper = signatureHeaders(k.signingSecret, 'GET', url, '', clock.now())
        await expectJson(await t.call('GET', path, { key: k.secret, headers: { ...upper, 'x-signature': upper['x-signature']!.toUpperCase() } }))
        for (const offset of [-299, 299]) {
          await expectJson(await t.call('GET', path, { key: k.secret, sign: { secret: k.signingSecret, timestamp: String(Math.floor(clock.now() / 1000) + offset) } }))
        }
      })

      it('any key may sign; an unsigned request with a key that need not sign still works', async () => {
        const k = await t.key('optional', ['read'])
        await expectJson(await t.call('GET', 'warehouses', { key: k.secret }))
        await expectJson(await t.call('GET', 'warehouses', { key: k.secret, sign: { secret: k.signingSecret } }))
      })

      it('a nonce may be used again once its window has passed (the timestamp check takes over)', async () => {
        const k = await t.key('window', ['read'])
        const nonce = 'window-nonce-000000000001'
        await expectJson(await t.call('GET', 'warehouses', { key: k.secret, sign: { secret: k.signingSecret, nonce } }))
        await expectProblem(await t.call('GET', 'warehouses', { key: k.secret, sign: { secret: k.signingSecret, nonce } }), 401, 'nonce_reused')
        clock.advance(302_000)
        await expectJson(await t.call('GET', 'warehouses', { key: k.secret, sign: { secret: k.signingSecret, nonce } }))
      })

      it('sealed signing secrets: stored encrypted, verified with KEY_ENCRYPTION_KEY, refused without it', async () => {
        const sealKey = parseSealKey('ab'.repeat(32))
        const k = await t.key('sealed', ['read'], { sealKey })
        const row = await ts.store.db.selectFrom('api_key').select('signing_secret').where('id', '=', k.apiKey.id).executeTakeFirstOrThrow()
        expect(row.signing_secret).toMatch(/^aesgcm:/)
        expect(row.signing_secret).not.toContain(k.signingSecret)
        const withKey = secureApp(deps)
        const app = createApp({ ...deps, verifier: new ApiKeyVerifier(deps, 0, sealKey), limits: { bodyBytes: 65536, bulkBodyBytes: 65536 } })
        const headers = { 'x-api-key': k.secret, ...signatureHeaders(k.signingSecret, 'GET', `${API}/warehouses`, '', clock.now()) }
        expect((await app.request(`${API}/warehouses`, { headers })).status).toBe(200)
        await expectProblem(await withKey.call('GET', 'warehouses', { key: k.secret, sign: { secret: k.signingSecret } }), 401, 'invalid_signature')
        await expectJson(await withKey.call('GET', 'warehouses', { key: k.secret }))
      })
    })

    describe('API keys', () => {
      it('expire: work until expires_at, then 401 unauthenticated', async () => {
        const k = await t.key('short', ['read'], { expiresInMs: 60_000 })
        await expectJson(await t.call('GET', 'warehouses', { key: k.secret }))
        clock.advance(60_001)
        await expectProblem(await t.call('GET', 'warehouses', { key: k.secret }), 401, 'unauthenticated')
      })

      it('rotate: the new key works at once and the old one until it is revoked', async () => {
        const old = await t.key('rotating', ['read', 'write'], { warehouses: [s.w1.id], requireSignature: true })
        const next = await rotateApiKey(deps, old.apiKey.id)
        expect(next.apiKey).toMatchObject({ name: 'rotating', scopes: ['read', 'write'], warehouses: [s.w1.id], requireSignature: true, rotatedFrom: old.apiKey.id })
        expect(next.secret).not.toBe(old.secret)
        expect(next.signingSecret).not.toBe(old.signingSecret)
        for (const k of [old, next]) await expectJson(await t.call('GET', 'warehouses', { key: k.secret, sign: { secret: k.signingSecret } }))
        await revokeApiKey(deps, old.apiKey.id)
        await expectProblem(await t.call('GET', 'warehouses', { key: old.secret, sign: { secret: old.signingSecret } }), 401, 'unauthenticated')
        await expectJson(await t.call('GET', 'warehouses', { key: next.secret, sign: { secret: next.signingSecret } }))
      })

      it('rotate with a grace period: the old key lapses by itself', async () => {
        const old = await t.key('grace', ['read'])
        const next = await rotateApiKey(deps, old.apiKey.id, { expireOldInMs: 3_600_000 })
        await expectJson(await t.call('GET', 'warehouses', { key: old.secret }))
        clock.advance(3_600_001)
        await expectProblem(await t.call('GET', 'warehouses', { key: old.secret }), 401, 'unauthenticated')
        await expectJson(await t.call('GET', 'warehouses', { key: next.secret }))
        await expect(rotateApiKey(deps, old.apiKey.id)).rejects.toMatchObject({ code: 'validation_failed' })
      })

      it('record when they were last used', async () => {
        const k = await t.key('used', ['read'])
        expect((await listApiKeys(deps)).find((x) => x.id === k.apiKey.id)?.lastUsedAt).toBeNull()
        await expectJson(await t.call('GET', 'warehouses', { key: k.secret }))
        await expect.poll(async () => (await listApiKeys(deps)).find((x) => x.id === k.apiKey.id)?.lastUsedAt).toBe(clock.now())
      })

      it('limited to warehouses: writes there work, reservations allocate only there, and their holds can be closed', async () => {
        const p = await fresh([[s.w1.id, 10], [s.w2.id, 10]])
        const k = await t.key('w2 only', ['read', 'write'], { warehouses: [s.w2.id] })
        await expectJson(await t.call('POST', 'stock/update', { key: k.secret, body: { sku: p.sku, warehouse_id: s.w2.id, quantity: 1, change_type: 'sale' } }))
        // w1 has the higher priority and stock, but the key may only hold stock in w2.
        const res = await expectJson(await t.call('POST', 'reservations', { key: k.secret, body: { sku: p.sku, quantity: 3 } }), 201)
        expect(res.data.lines).toEqual([expect.objectContaining({ warehouse_id: s.w2.id, quantity: 3 })])
        await expectJson(await t.call('POST', `reservations/${res.data.id}/commit`, { key: k.secret }))
        expect([await onHand(p.sku, s.w1.id), await onHand(p.sku, s.w2.id)]).toEqual([10, 6])
        const both = await t.key('w1+w2', ['read', 'write'], { warehouses: [s.w1.id, s.w2.id] })
        await expectJson(await t.call('POST', 'stock/transfer', { key: both.secret, body: { sku: p.sku, from_warehouse_id: s.w1.id, to_warehouse_id: s.w2.id, quantity: 4 } }))
        await expectJson(await t.call('POST', 'stock/bulk-sync', { key: both.secret, body: { items: [{ sku: p.sku, warehouse_id: s.w1.id, quantity: 1 }] } }))
        expect([await onHand(p.sku, s.w1.id), await onHand(p.sku, s.w2.id)]).toEqual([1, 10])
        await expectLevelsMatchLedger(ts.store, [p.sku])
      })

      it('refuse an unknown warehouse in their restriction at creation', async () => {
        await expect(t.key('bad', ['write'], { warehouses: [987_654] })).rejects.toMatchObject({ code: 'warehouse_not_found' })
      })
    })

    describe('JWT bearer tokens', () => {
      it('HS256: scopes from the scope claim; the ledger records jwt:<sub>', async () => {
        const p = await fresh([[s.w1.id, 5]])
        const token = await makeToken(tk, clock.now(), { sub: 'svc-checkout', scope: 'read write' })
        await expectJson(await t.call('POST', 'stock/update', { bearer: token, body: { sku: p.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale' } }))
        expect((await ledgerOf(p.sku)).at(-1)).toMatchObject({ actor: 'jwt:svc-checkout' })
        await expectProblem(await t.call('POST', 'warehouses', { bearer: token, body: { code: 'J-1', name: 'J' } }), 403, 'forbidden')
        const admin = await makeToken(tk, clock.now(), { sub: 'ops', scope: 'admin' })
        await expectJson(await t.call('POST', 'warehouses', { bearer: admin, body: { code: `J-${db.name}`, name: 'J' } }), 201)
      })

      it('RS256 and ES256 from a JWKS file; a warehouses claim allows writes there', async () => {
        const p = await fresh([[s.w1.id, 5]])
        for (const alg of ['RS256', 'ES256'] as const) {
          const token = await makeToken(tk, clock.now(), { alg, sub: `svc-${alg}`, warehouses: [s.w1.id] })
          await expectJson(await t.call('POST', 'stock/update', { bearer: token, body: { sku: p.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale' } }))
          expect((await ledgerOf(p.sku)).at(-1)).toMatchObject({ actor: `jwt:svc-${alg}` })
        }
      })

      it('within the 30 s clock skew: exp 10 s ago and nbf 20 s ahead are accepted', async () => {
        await expectJson(await t.call('GET', 'warehouses', { bearer: await makeToken(tk, clock.now(), { expIn: -10 }) }))
        await expectJson(await t.call('GET', 'warehouses', { bearer: await makeToken(tk, clock.now(), { nbfIn: 20 }) }))
      })

      it('ES256 against a JWKS served over HTTP (JWT_JWKS as a URL)', async () => {
        const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(tk.jwks)))
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
        try {
          const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
          const remote = secureApp(deps, { security: { jwt: new JwtVerifier({ hs256Secret: null, jwks: url, issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 30 }) } })
          await expectJson(await remote.call('GET', 'warehouses', { bearer: await makeToken(tk, clock.now(), { alg: 'ES256' }) }))
          // HS256 is not configured on this node: the algorithm is refused.
          await expectProblem(await remote.call('GET', 'warehouses', { bearer: await makeToken(tk, clock.now(), { alg: 'HS256' }) }), 401, 'invalid_token')
        } finally {
          server.close()
        }
      })

      it('an unreachable JWKS is 503 jwks_unavailable naming where it lives, not 401 (#12)', async () => {
        // A port that was listening a moment ago and is closed now: connection refused.
        const server = http.createServer()
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
        const port = (server.address() as AddressInfo).port
        await new Promise<void>((r) => server.close(() => r()))
        const url = `http://127.0.0.1:${port}/keys/jwks.json?token=secret`
        const remote = secureApp(deps, { security: { jwt: new JwtVerifier({ hs256Secret: null, jwks: url, issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 30 }) } })
        const res = await remote.call('GET', 'warehouses', { bearer: await makeToken(tk, clock.now(), { alg: 'ES256' }) })
        expect(res.headers.get('retry-after')).not.toBeNull()
        const p = await expectProblem(res, 503, 'jwks_unavailable')
        expect(p.detail).toContain(`http://127.0.0.1:${port}/keys/jwks.json`)
        expect(p.detail).not.toContain('secret')
      })

      it('without JWT configuration a bearer token is refused with a hint', async () => {
        const plain = secureApp(deps)
        const p = await expectProblem(await plain.call('GET', 'warehouses', { bearer: await makeToken(tk, clock.now()) }), 401, 'unauthenticated')
        expect(p.detail).toMatch(/X-API-Key/)
      })
    })

    describe('provider webhooks', () => {
      const hook = (name: string, body: string, headers: Record<string, string>) =>
        t.app.request(`${API}/webhook/${name}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
      const event = (type: string, data: unknown, timestamp: string | number = new Date(clock.now()).toISOString()) => JSON.stringify({ event_type: type, data, timestamp })

      it('warehouse_system_a stock_update: applied as the provider, idempotent by transaction_id', async () => {
        const p = await fresh([[s.w1.id, 5]])
        const body = event('stock_update', { product_code: p.sku, warehouse_code: s.w1.code, quantity: 2, change_type: 'sale', transaction_id: `TX-${p.sku}` })
        const first = await expectJson(await hook('warehouse_system_a', body, { 'x-webhook-signature': providerSignature(SECRET_A, body) }))
        expect(first).toMatchObject({ success: true, event_id: `TX-${p.sku}`, data: { applied: 1 } })
        const again = await expectJson(await hook('warehouse_system_a', body, { 'X-Webhook-Signature': providerSignature(SECRET_A, body).toUpperCase() }))
        expect(again.data).toEqual(first.data)
        expect(await onHand(p.sku, s.w1.id)).toBe(3)
        expect((await ledgerOf(p.sku)).at(-1)).toMatchObject({ change_type: 'sale', actor: 'webhook:warehouse_system_a', source: 'warehouse_system_a', reference_id: `TX-${p.sku}` })
        expect((await listInboundWebhooks(ts.store.db, 'warehouse_system_a'))[0]).toMatchObject({ status: 'processed', event_type: 'stock_update' })
      })

      it('warehouse_system_a stock_adjustment (absolute) and inventory_sync (counts observed at timestamp)', async () => {
        const p = await fresh([[s.w1.id, 5]])
        const adj = event('stock_adjustment', { product_code: p.sku, warehouse_code: s.w1.code, quantity: 40, transaction_id: `ADJ-${p.sku}` })
        await expectJson(await hook('warehouse_system_a', adj, { 'x-webhook-signature': providerSignature(SECRET_A, adj) }))
        expect(await onHand(p.sku, s.w1.id)).toBe(40)
        // An adjustment is a count too: a sync observed before it would be stale, so this one comes later.
        clock.advance(2000)
        const sync = event('inventory_sync', { sync_id: `SYNC-${p.sku}`, items: [{ product_code: p.sku, warehouse_code: s.w1.code, quantity: 33 }, { product_code: p.sku, warehouse_code: s.w2.code, quantity: 7 }] }, Math.floor(clock.now() / 1000))
        const res = await expectJson(await hook('warehouse_system_a', sync, { 'x-webhook-signature': providerSignature(SECRET_A, sync) }))
        expect(res.data).toMatchObject({ applied: 2, refused: 0 })
        expect([await onHand(p.sku, s.w1.id), await onHand(p.sku, s.w2.id)]).toEqual([33, 7])
        await expectLevelsMatchLedger(ts.store, [p.sku])
      })

      it('other providers: erp_system_b (base64) applies through its preset; a provider without a mapping is refused, never acknowledged and dropped (#14)', async () => {
        const p = await fresh([[s.w1.id, 5]])
        const body = JSON.stringify({ message_id: `ERP-${p.sku}`, sent_at: new Date(clock.now()).toISOString(), plant: s.w1.code, lines: [{ line_no: 1, item_no: p.sku, movement: 'receipt', qty: 4, document: 'GR-1' }] })
        const b = await expectJson(await hook('erp_system_b', body, { 'x-erp-signature': providerSignature(SECRET_B, body, 'base64') }))
        expect(b).toMatchObject({ success: true, event_id: `ERP-${p.sku}`, data: { applied: 1 } })
        expect(await onHand(p.sku, s.w1.id)).toBe(9)
        expect((await ledgerOf(p.sku)).at(-1)).toMatchObject({ change_type: 'restock', actor: 'webhook:erp_system_b', source: 'erp_system_b', reference_id: 'GR-1' })
        const other = JSON.stringify({ type: 'erp.stock', lines: [{ item: 'X', qty: 1 }] })
        await expectProblem(await hook('acme_wms', other, { 'x-hub-signature-256': `sha256=${providerSignature(SECRET_B, other)}` }), 422, 'mapping_failed')
        expect((await listInboundWebhooks(ts.store.db, 'acme_wms'))[0]).toMatchObject({ status: 'rejected', body: other })
      })
    })

    describe('hardening', () => {
      it('CORS headers only for configured origins', async () => {
        const pre = (origin: string) => t.app.request(`${API}/stock/update`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key,content-type' } })
        const ok = await pre('https://admin.example.com')
        expect(ok.headers.get('access-control-allow-origin')).toBe('https://admin.example.com')
        expect(ok.headers.get('access-control-allow-headers')).toMatch(/X-Signature/i)
        expect((await pre('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull()
        const k = await t.key('cors', ['read'])
        const get = await t.call('GET', 'warehouses', { key: k.secret, headers: { origin: 'https://evil.example.com' } })
        expect(get.headers.get('access-control-allow-origin')).toBeNull()
        const none = secureApp(deps)
        expect((await none.app.request(`${API}/warehouses`, { headers: { origin: 'https://admin.example.com', 'x-api-key': k.secret } })).headers.get('access-control-allow-origin')).toBeNull()
      })

      it('security headers on answers and problems alike', async () => {
        for (const res of [await t.app.request('/healthz'), await t.call('GET', 'warehouses')]) {
          expect(res.headers.get('x-content-type-options')).toBe('nosniff')
          expect(res.headers.get('x-frame-options')).toBeTruthy()
          expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/)
        }
      })

      it('no rate-limit headers when limits are not configured (the default)', async () => {
        const k = await t.key('nolimit', ['read'])
        const res = await t.call('GET', 'warehouses', { key: k.secret })
        expect(res.headers.get('ratelimit-limit')).toBeNull()
      })
    })
  })
}
