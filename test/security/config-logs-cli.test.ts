/**
 * Security configuration, secrets kept out of logs, and the `keys` CLI (#5).
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/runtime.js'
import type { Logger, ServiceDeps } from '../../src/service/deps.js'
import { createTestStore, type TestStore } from '../support/databases.js'
import { makeWarehouse, testClock, testDeps } from '../support/fixtures.js'
import { seedCatalog, type Seed } from '../e2e/support-e2e.js'
import { jwtVerifier, makeToken, makeTokenKeys, provider, providerSignature, secureApp } from './support-security.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

describe('security configuration', () => {
  it('parses every variable, with the seed providers\u2019 default header and encoding', () => {
    const c = loadConfig({
      JWT_HS256_SECRET: 'x'.repeat(32),
      JWT_JWKS: 'https://idp.example/.well-known/jwks.json',
      JWT_ISSUER: 'https://idp.example',
      JWT_AUDIENCE: 'stockbridge',
      REDIS_URL: 'redis://:hunter2@127.0.0.1:6379/0',
      RATE_LIMIT_READ_PER_MIN: '6000',
      RATE_LIMIT_WRITE_PER_MIN: '1200',
      RATE_LIMIT_WRITE_BURST: '50',
      TRUST_PROXY_HOPS: '1',
      CORS_ORIGINS: 'https://admin.example.com, http://localhost:5173',
      WEBHOOK_SECRET_WAREHOUSE_SYSTEM_A: 'a'.repeat(20),
      WEBHOOK_SECRET_ERP_SYSTEM_B: 'b'.repeat(20),
      WEBHOOK_HEADER_ERP_SYSTEM_B: 'X-ERP-Signature',
      WEBHOOK_ENCODING_ERP_SYSTEM_B: 'base64',
      WEBHOOK_PROVIDERS: JSON.stringify({ acme: { secret: 'c'.repeat(20), header: 'X-Hub-Signature-256', prefix: 'sha256=', warehouses: [3] } }),
      KEY_ENCRYPTION_KEY: 'ab'.repeat(32),
    })
    const s = c.security
    expect(s.jwt).toMatchObject({ issuer: 'https://idp.example', audience: 'stockbridge', clockSkewSeconds: 30 })
    expect(s.nonceStore).toBe('redis')
    expect(s.rateLimits).toMatchObject({ read: { perMinute: 6000, capacity: 6000 }, write: { perMinute: 1200, capacity: 50 }, anon: null, store: 'redis' })
    expect(s.corsOrigins).toEqual(['https://admin.example.com', 'http://localhost:5173'])
    expect(s.webhooks.warehouse_system_a).toMatchObject({ header: 'X-Webhook-Signature', encoding: 'hex', warehouses: null })
    expect(s.webhooks.erp_system_b).toMatchObject({ header: 'X-ERP-Signature', encoding: 'base64' })
    expect(s.webhooks.acme).toMatchObject({ prefix: 'sha256=', warehouses: [3] })
    expect(s.keyEncryptionKey?.length).toBe(32)

    const shown = JSON.stringify(c.redacted())
    for (const secret of ['x'.repeat(32), 'hunter2', 'a'.repeat(20), 'b'.repeat(20), 'c'.repeat(20), 'ab'.repeat(32)]) expect(shown).not.toContain(secret)
  })

  it('a provider may take its settings from WEBHOOK_PROVIDERS and its secret from WEBHOOK_SECRET_<NAME>', () => {
    const s = loadConfig({ WEBHOOK_PROVIDERS: '{"acme-wms":{"header":"X-Acme-Signature","encoding":"base64"}}', WEBHOOK_SECRET_ACME_WMS: 's'.repeat(24) }).security
    expect(s.webhooks['acme-wms']).toMatchObject({ secret: 's'.repeat(24), header: 'X-Acme-Signature', encoding: 'base64' })
    expect(Object.keys(s.webhooks)).toEqual(['acme-wms'])
  })

  it('defaults: no JWT, nonces in the database, rate limits off, no providers, no CORS', () => {
    const s = loadConfig({}).security
    expect(s).toMatchObject({ jwt: null, redisUrl: null, nonceStore: 'database', signatureToleranceSeconds: 300, rateLimits: { read: null, write: null, anon: null, store: 'memory' }, corsOrigins: [], webhooks: {}, keyEncryptionKey: null })
  })

  it('reports every security problem at once, with the others', () => {
    let err: unknown
    try {
      loadConfig({ PORT: 'x', JWT_HS256_SECRET: 'short', CORS_ORIGINS: '*', NONCE_STORE: 'redis', RATE_LIMIT_READ_PER_MIN: '-1', WEBHOOK_SECRET_ERP_SYSTEM_B: 'tiny', WEBHOOK_PROVIDERS: '{"bad name":{}}', KEY_ENCRYPTION_KEY: 'abcd' })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    const problems = (err as ConfigError).problems.join('\n')
    for (const v of ['PORT', 'JWT_HS256_SECRET', 'CORS_ORIGINS', 'NONCE_STORE', 'RATE_LIMIT_READ_PER_MIN', 'WEBHOOK_SECRET_ERP_SYSTEM_B', 'WEBHOOK_PROVIDERS', 'KEY_ENCRYPTION_KEY']) expect(problems).toContain(v)
  })
})

describe('no secrets in logs', () => {
  it('the pino logger redacts credential headers and secret-named fields', () => {
    const lines: string[] = []
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) })
    const log = createLogger(loadConfig({ LOG_LEVEL: 'debug' }), sink)
    log.info({ req: { headers: { 'x-api-key': 'sbk_LEAK1', authorization: 'Bearer LEAK2', 'x-signature': 'LEAK3' } }, key: 'LEAK4', secret: 'LEAK5', opts: { signing_secret: 'LEAK6', token: 'LEAK7', password: 'LEAK8' } }, 'probe')
    expect(lines.join('')).toContain('probe')
    expect(lines.join('')).not.toMatch(/LEAK\d/)
  })

  describe('request logs across every auth method never carry a credential', () => {
    let ts: TestStore
    let deps: ServiceDeps
    let s: Seed
    const entries: unknown[] = []
    const capture: Logger = { debug: (o) => void entries.push(o), info: (o) => void entries.push(o), warn: (o) => void entries.push(o), error: (o) => void entries.push(o) }

    beforeAll(async () => {
      ts = await createTestStore('sqlite')
      deps = { ...testDeps(ts.store, testClock()), log: capture }
      s = await seedCatalog(deps, 'G')
    })
    afterAll(async () => ts?.drop())

    it('keys, signatures, tokens and webhook secrets stay out of every entry, success or failure', async () => {
      const tk = await makeTokenKeys()
      const hookSecret = 'webhook-secret-never-logged-01'
      const t = secureApp(deps, { security: { jwt: jwtVerifier(tk), webhooks: { warehouse_system_a: provider('warehouse_system_a', hookSecret) } } })
      const k = await t.key('logged', ['read', 'write'])
      const token = await makeToken(tk, deps.clock.now())
      const body = JSON.stringify({ event_type: 'stock_update', timestamp: '2026-11-25T12:00:00Z', data: { product_code: s.tee.sku, warehouse_code: s.w1.code, quantity: 1, change_type: 'restock', transaction_id: 'LOG-1' } })
      const sig = providerSignature(hookSecret, body)
      await t.call('GET', 'warehouses', { key: k.secret })
      await t.call('GET', 'warehouses', { key: k.secret, sign: { secret: k.signingSecret } })
      await t.call('GET', 'warehouses', { key: k.secret, sign: { secret: 'wrong' } })
      await t.call('GET', 'warehouses', { key: `${k.secret}x` })
      await t.call('GET', 'warehouses', { bearer: token })
      await t.call('GET', 'warehouses', { bearer: `${token}x` })
      await t.app.request('/inventory/v1/webhook/warehouse_system_a', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-webhook-signature': sig } })
      await t.app.request('/inventory/v1/webhook/warehouse_system_a', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-webhook-signature': sig.replace(/.$/, '0') } })
      expect(entries.length).toBeGreaterThanOrEqual(8)
      const text = JSON.stringify(entries)
      for (const secret of [k.secret, k.signingSecret, token, hookSecret, sig]) expect(text).not.toContain(secret)
      expect(text).toContain(k.apiKey.id) // the actor is logged instead
    })
  })
})

describe('stockbridge keys (CLI)', () => {
  let ts: TestStore
  const env = { DATABASE_URL: '', LOG_LEVEL: 'warn' }
  beforeAll(async () => {
    ts = await createTestStore('sqlite')
    env.DATABASE_URL = ts.url
    const deps = testDeps(ts.store, testClock())
    await makeWarehouse(deps)
    await makeWarehouse(deps)
  })
  afterAll(async () => ts?.drop())
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env } })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })

  it('create --json prints one object with id, key, signing_secret and scopes; rotate and list follow', async () => {
    const r = await cli(['keys', 'create', '--name', 'wh-a', '--scopes', 'read,write', '--warehouses', '1,2', '--require-signature', '--expires-in', '90d', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    const out = JSON.parse(lines[0]!)
    expect(out).toMatchObject({ id: expect.stringMatching(/^key_/), key: expect.stringMatching(/^sbk_/), signing_secret: expect.stringMatching(/^sbs_/), scopes: ['read', 'write'], warehouses: [1, 2], require_signature: true })
    expect(Date.parse(out.expires_at) - Date.now()).toBeGreaterThan(89 * 86_400_000)

    const plain = await cli(['keys', 'create', '--name', 'reporting'])
    expect(plain.stdout.trim().split('\n').at(-1)).toMatch(/^sbk_[A-Za-z0-9_-]{43}$/)

    const rotated = await cli(['keys', 'rotate', out.id, '--expire-old-in', '7d', '--json'])
    expect(rotated.code, rotated.stderr).toBe(0)
    expect(JSON.parse(rotated.stdout)).toMatchObject({ rotated_from: out.id, warehouses: [1, 2], require_signature: true })

    const list = await cli(['keys', 'list'])
    expect(list.stdout).toContain(`rotated from ${out.id}`)
    expect(list.stdout).not.toContain(out.key)
    expect(list.stdout).not.toContain(out.signing_secret)

    const bad = await cli(['keys', 'create', '--name', 'x', '--warehouses', '1,abc'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/validation_failed/)
  }, 120_000)
})
