/**
 * Rate limits (#5): the bucket arithmetic, the HTTP behaviour with the in-memory store (headers,
 * 429, separate read/write budgets, per key, per token subject, per client IP), the Redis store
 * shared by two in-process nodes, and what happens when Redis is down. Buckets touch no database,
 * so these run on SQLite only; the ledger snapshot still proves a 429 changed nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import type { RateLimits } from '../../src/http/security.js'
import { RedisNonceStore } from '../../src/security/nonce-store.js'
import { MemoryRateLimitStore, RedisRateLimitStore, takeToken, type BucketPolicy } from '../../src/security/rate-limit.js'
import { connectRedis } from '../../src/security/redis.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { createTestStore, type TestStore } from '../support/databases.js'
import { testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { expectJson, expectProblem, seedCatalog, snapshot, type Seed } from '../e2e/support-e2e.js'
import { jwtVerifier, makeToken, makeTokenKeys, provider, providerSignature, REDIS_URL, redisSkipReason, secureApp, type TokenKeys } from './support-security.js'

describe('token bucket arithmetic', () => {
  const policy: BucketPolicy = { perMinute: 60, capacity: 3 }

  it('allows a burst of `capacity`, then one per 60/perMinute seconds', () => {
    let state
    const results: boolean[] = []
    for (let i = 0; i < 4; i++) {
      const r = takeToken(state, policy, 1000)
      state = r.state
      results.push(r.allowed)
    }
    expect(results).toEqual([true, true, true, false])
    expect(takeToken(state, policy, 1999).allowed).toBe(false)
    expect(takeToken(state, policy, 2000).allowed).toBe(true)
  })

  it('never holds more than capacity after a long idle, and a clock stepping back refills nothing', () => {
    let state = takeToken(undefined, policy, 0).state
    state = takeToken(state, policy, 10_000_000).state
    expect(state.tokens).toBe(2)
    const back = takeToken({ tokens: 0, at: 5000 }, policy, 1000)
    expect(back.allowed).toBe(false)
    expect(back.state.at).toBe(5000)
  })

  it('the memory store answers remaining, reset and retry-after', async () => {
    let now = 0
    const store = new MemoryRateLimitStore(() => now)
    const seen = []
    for (let i = 0; i < 4; i++) seen.push(await store.take('k', policy))
    expect(seen.map((r) => [r.allowed, r.remaining, r.resetSeconds, r.retryAfterSeconds])).toEqual([
      [true, 2, 1, 0],
      [true, 1, 2, 0],
      [true, 0, 3, 0],
      [false, 0, 3, 1],
    ])
    now = 1500
    expect(await store.take('k', policy)).toMatchObject({ allowed: true, remaining: 0 })
    expect(await store.take('other', policy)).toMatchObject({ allowed: true, remaining: 2 })
  })
})

describe('rate limits over HTTP', () => {
  let ts: TestStore
  let clock: TestClock
  let deps: ServiceDeps
  let s: Seed
  let tk: TokenKeys

  beforeAll(async () => {
    ts = await createTestStore('sqlite')
    clock = testClock()
    deps = testDeps(ts.store, clock)
    s = await seedCatalog(deps, 'L')
    tk = await makeTokenKeys()
  })
  afterAll(async () => ts?.drop())

  const memoryLimits = (): RateLimits => ({
    store: new MemoryRateLimitStore(() => clock.now()),
    read: { perMinute: 600, capacity: 5 },
    write: { perMinute: 60, capacity: 3 },
    anon: { perMinute: 60, capacity: 2 },
    onStoreError: 'open',
  })
  // Restocks of 1: always possible, so only the limiter can refuse them.
  const sale = (sku: string, wh: number) => ({ sku, warehouse_id: wh, quantity: 1, change_type: 'restock' })

  describe('memory store', () => {
    it('write budget per key: RateLimit headers count down, then 429 with Retry-After that changes nothing', async () => {
      const t = secureApp(deps, { security: { rateLimits: memoryLimits() } })
      const k = await t.key('limited', ['read', 'write'])
      const remaining: Array<string | null> = []
      for (let i = 0; i < 3; i++) {
        const res = await t.call('POST', 'stock/update', { key: k.secret, body: sale(s.tee.sku, s.w1.id) })
        expect(res.status).toBe(200)
        expect(res.headers.get('ratelimit-limit')).toBe('3')
        remaining.push(res.headers.get('ratelimit-remaining'))
      }
      expect(remaining).toEqual(['2', '1', '0'])
      const before = await snapshot(ts.store.db)
      const refused = await t.call('POST', 'stock/update', { key: k.secret, body: sale(s.tee.sku, s.w1.id) })
      const p = await expectProblem(refused.clone(), 429, 'rate_limited')
      expect(p.retry_after_seconds).toBe(1)
      expect(refused.headers.get('retry-after')).toBe('1')
      expect(refused.headers.get('ratelimit-remaining')).toBe('0')
      expect(refused.headers.get('ratelimit-reset')).toBe('3')
      expect(refused.headers.get('ratelimit-policy')).toBe('3;w=3')
      expect(await snapshot(ts.store.db)).toEqual(before)

      // Reads have their own budget; another key has its own bucket; a second later one token is back.
      const read = await t.call('GET', `stock/${s.tee.sku}`, { key: k.secret })
      expect(read.status).toBe(200)
      expect(read.headers.get('ratelimit-limit')).toBe('5')
      const other = await t.key('other', ['read', 'write'])
      expect((await t.call('POST', 'stock/update', { key: other.secret, body: sale(s.tee.sku, s.w1.id) })).status).toBe(200)
      clock.advance(1000)
      expect((await t.call('POST', 'stock/update', { key: k.secret, body: sale(s.tee.sku, s.w1.id) })).status).toBe(200)
      await expectProblem(await t.call('POST', 'stock/update', { key: k.secret, body: sale(s.tee.sku, s.w1.id) }), 429, 'rate_limited')
    })

    it('JWTs are limited per subject: two tokens of one subject share a bucket', async () => {
      const t = secureApp(deps, { security: { rateLimits: memoryLimits(), jwt: jwtVerifier(tk) } })
      const a = await makeToken(tk, clock.now(), { sub: 'shared-sub' })
      const b = await makeToken(tk, clock.now(), { sub: 'shared-sub', expIn: 900 })
      for (const token of [a, b, a]) expect((await t.call('POST', 'stock/update', { bearer: token, body: sale(s.tee.sku, s.w1.id) })).status).toBe(200)
      await expectProblem(await t.call('POST', 'stock/update', { bearer: b, body: sale(s.tee.sku, s.w1.id) }), 429, 'rate_limited')
      const c = await makeToken(tk, clock.now(), { sub: 'another-sub' })
      expect((await t.call('POST', 'stock/update', { bearer: c, body: sale(s.tee.sku, s.w1.id) })).status).toBe(200)
    })

    it('failed logins, the OpenAPI document and webhooks draw on the client IP budget (X-Forwarded-For behind 1 trusted proxy)', async () => {
      const t = secureApp(deps, { security: { rateLimits: memoryLimits(), trustProxyHops: 1, webhooks: { warehouse_system_a: provider('warehouse_system_a', 'secret-secret-secret-1') } } })
      const from = (ip: string, spoof = '') => ({ 'x-forwarded-for': spoof ? `${spoof}, ${ip}` : ip })
      for (let i = 0; i < 2; i++) await expectProblem(await t.call('GET', 'warehouses', { key: 'sbk_wrong', headers: from('203.0.113.5') }), 401, 'unauthenticated')
      const limited = await t.call('GET', 'warehouses', { key: 'sbk_wrong', headers: from('203.0.113.5') })
      await expectProblem(limited.clone(), 429, 'rate_limited')
      expect(limited.headers.get('retry-after')).toBe('1')
      // A client cannot escape by claiming another address to the left of the proxy's entry.
      await expectProblem(await t.call('GET', 'warehouses', { key: 'sbk_wrong', headers: from('203.0.113.5', '198.51.100.1') }), 429, 'rate_limited')
      await expectProblem(await t.call('GET', 'warehouses', { key: 'sbk_wrong', headers: from('203.0.113.6') }), 401, 'unauthenticated')
      // A valid key is not counted against its IP.
      const k = await t.key('ip-ok', ['read'])
      expect((await t.call('GET', 'warehouses', { key: k.secret, headers: from('203.0.113.5') })).status).toBe(200)

      const doc = () => t.app.request('/inventory/v1/openapi.json', { headers: from('203.0.113.7') })
      expect((await doc()).headers.get('ratelimit-remaining')).toBe('1')
      expect((await doc()).status).toBe(200)
      await expectProblem(await doc(), 429, 'rate_limited')

      const body = '{"x":1}'
      const hook = () => t.app.request('/inventory/v1/webhook/warehouse_system_a', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-webhook-signature': providerSignature('wrong-secret-xxxxxx', body), ...from('203.0.113.8') } })
      await expectProblem(await hook(), 401, 'invalid_signature')
      await expectProblem(await hook(), 401, 'invalid_signature')
      await expectProblem(await hook(), 429, 'rate_limited')
    })
  })

  describe.skipIf(redisSkipReason !== null)('Redis store (real Redis)', () => {
    const opened: Redis[] = []
    const prefix = `sbtest:${process.pid}:${Date.now()}:`
    const redisLimits = async (): Promise<RateLimits> => {
      const redis = await connectRedis(REDIS_URL)
      opened.push(redis)
      return { store: new RedisRateLimitStore(redis, `${prefix}rl:`), read: { perMinute: 60, capacity: 4 }, write: { perMinute: 1, capacity: 3 }, anon: null, onStoreError: 'open' }
    }
    afterAll(async () => {
      const cleaner = await connectRedis(REDIS_URL)
      const keys = await cleaner.keys(`${prefix}*`)
      if (keys.length) await cleaner.del(...keys)
      cleaner.disconnect()
      for (const r of opened) r.disconnect()
    })

    it('two nodes with their own connections share one budget per key', async () => {
      const a = secureApp(deps, { security: { rateLimits: await redisLimits() } })
      const b = secureApp(deps, { security: { rateLimits: await redisLimits() } })
      const k = await a.key('shared', ['read', 'write'])
      const answers = []
      for (const node of [a, b, a, b]) {
        const res = await node.call('POST', 'stock/update', { key: k.secret, body: sale(s.tee.sku, s.w1.id) })
        answers.push([res.status, res.headers.get('ratelimit-remaining')])
      }
      expect(answers).toEqual([
        [200, '2'],
        [200, '1'],
        [200, '0'],
        [429, '0'],
      ])
      const refused = await a.call('POST', 'stock/update', { key: k.secret, body: sale(s.tee.sku, s.w1.id) })
      await expectProblem(refused.clone(), 429, 'rate_limited')
      // One token a minute: Redis's own clock says when the next one comes.
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(50)
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60)
      // Reads are a separate bucket, and another key is untouched.
      expect((await b.call('GET', 'warehouses', { key: k.secret })).headers.get('ratelimit-remaining')).toBe('3')
      const other = await a.key('other-shared', ['read', 'write'])
      expect((await b.call('POST', 'stock/update', { key: other.secret, body: sale(s.tee.sku, s.w1.id) })).status).toBe(200)
    })

    it('buckets expire in Redis once they would be full again', async () => {
      const limits = await redisLimits()
      await limits.store.take('expiry-probe', { perMinute: 60, capacity: 2 })
      const ttl = await opened.at(-1)!.pttl(`${prefix}rl:expiry-probe`)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(2000)
    })

    it('nonces in Redis: a replay to another node is refused', async () => {
      const n1 = await connectRedis(REDIS_URL)
      const n2 = await connectRedis(REDIS_URL)
      opened.push(n1, n2)
      const a = secureApp(deps, { security: { nonces: new RedisNonceStore(n1, `${prefix}nonce:`) } })
      const b = secureApp(deps, { security: { nonces: new RedisNonceStore(n2, `${prefix}nonce:`) } })
      const k = await a.key('redis-nonce', ['read'])
      const sign = { secret: k.signingSecret, nonce: `redis-nonce-${Date.now()}-abcdef`, timestamp: String(Math.floor(clock.now() / 1000)) }
      await expectJson(await a.call('GET', 'warehouses', { key: k.secret, sign }))
      await expectProblem(await b.call('GET', 'warehouses', { key: k.secret, sign }), 401, 'nonce_reused')
      const ttl = await n1.pttl(`${prefix}nonce:${k.apiKey.id}:${sign.nonce}`)
      expect(ttl).toBeGreaterThan(290_000)
    })
  })

  describe('Redis unreachable', () => {
    it('rate limits fail open (logged); signed requests fail closed with 503', async () => {
      const dead = await connectRedis('redis://127.0.0.1:1', 300)
      try {
        const t = secureApp(deps, {
          security: { rateLimits: { store: new RedisRateLimitStore(dead), read: { perMinute: 1, capacity: 1 }, write: null, anon: null, onStoreError: 'open' }, nonces: new RedisNonceStore(dead) },
        })
        const k = await t.key('dead-redis', ['read'])
        for (let i = 0; i < 3; i++) {
          const res = await t.call('GET', 'warehouses', { key: k.secret })
          expect(res.status).toBe(200)
          expect(res.headers.get('ratelimit-limit')).toBeNull()
        }
        const refused = await t.call('GET', 'warehouses', { key: k.secret, sign: { secret: k.signingSecret } })
        await expectProblem(refused.clone(), 503, 'service_unavailable')
        expect(refused.headers.get('retry-after')).toBe('1')
      } finally {
        dead.disconnect()
      }
    })
  })
})
