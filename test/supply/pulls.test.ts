/**
 * Scheduled pulls from a warehouse API (#14), against a real local HTTP server: paged listings
 * with bearer auth, a page that fails once and is retried, a server too slow for the timeout,
 * a stale pull after a newer count, dry runs, two nodes sharing one schedule, and hostile input
 * on the routes. Every suite runs on SQLite and PostgreSQL.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PullScheduler, runPullNow } from '../../src/connectors/pulls/run.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { setPullSource } from '../../src/service/pulls.js'
import { getStock, updateStock } from '../../src/service/stock.js'
import { openStore, type Store } from '../../src/store/db.js'
import { findPullSource, listPullRuns } from '../../src/store/pull-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { expectJson, expectProblem, snapshot } from '../e2e/support-e2e.js'
import { EventBus } from '../../src/service/event-bus.js'
import { silentLogger, ulidIds } from '../../src/service/deps.js'

const FAST = { retryDelaysMs: [10, 10] }

interface FakeApi {
  readonly url: string
  readonly requests: Array<{ url: string; auth: string | undefined }>
  /** Answer a request; return undefined to hang (for the timeout test). */
  handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void
  close(): Promise<void>
}

async function fakeApi(): Promise<FakeApi> {
  const api: FakeApi = {
    url: '',
    requests: [],
    handler: (_req, res) => res.end('{}'),
    close: async () => {},
  }
  const server = http.createServer((req, res) => {
    api.requests.push({ url: req.url ?? '', auth: req.headers.authorization })
    api.handler(req, res, api.requests.length)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  ;(api as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  api.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections()
      server.close(() => r())
    })
  return api
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

const CATALOGUE = Array.from({ length: 25 }, (_, i) => ({ sku: `PULL-${String(i).padStart(3, '0')}`, quantity: 10 + i }))

describe.each(DATABASES)('warehouse pulls on $name', ({ name, skipReason }) => {
  let db: TestStore
  let deps: ServiceDeps
  let clock: TestClock
  let api: FakeApi
  let warehouseId: number

  beforeEach(async (ctx) => {
    if (skipReason) return ctx.skip(skipReason)
    db = await createTestStore(name)
    clock = testClock(Date.now())
    deps = testDeps(db.store, clock)
    api = await fakeApi()
    warehouseId = (await makeWarehouse(deps, { code: 'WMS' })).id
    for (const [i, c] of CATALOGUE.entries()) await makeProduct(deps, { sku: c.sku, productId: 70_000 + i })
  })
  afterEach(async () => {
    await api?.close()
    await db?.drop()
  })

  const onHand = async (sku: string) => (await getStock(deps, sku, warehouseId)).levels[0]?.onHand ?? 0

  /** Pages of 10 by ?page=n&per_page=10, bearer auth required; page 2 fails once with a 503. */
  function pagedWithOneFailure(token: string) {
    let failed = false
    api.handler = (req, res) => {
      if (req.headers.authorization !== `Bearer ${token}`) return json(res, 401, { error: 'bad token' })
      const u = new URL(req.url!, api.url)
      const page = Number(u.searchParams.get('page'))
      const size = Number(u.searchParams.get('per_page'))
      if (page === 2 && !failed) {
        failed = true
        return json(res, 503, { error: 'busy' })
      }
      json(res, 200, { inventory_items: CATALOGUE.slice((page - 1) * size, page * size) })
    }
  }

  it('pulls every page with bearer auth, retries a failing page, and applies the counts as one listing', async () => {
    pagedWithOneFailure('tok-123')
    await setPullSource(deps, warehouseId, { url: `${api.url}/inventory`, auth: { type: 'bearer', token: 'tok-123' }, pagination: { type: 'page', param: 'page', size_param: 'per_page', size: 10 } })
    const out = await runPullNow(deps, warehouseId, { dryRun: false, fetch: FAST })
    expect(out.run).toMatchObject({ status: 'done', pages: 3, fetched: 25, applied: 25, rejected: 0, error: null })
    // page 1, page 2 (503), page 2 again, page 3 (5 items: short, the last)
    expect(api.requests.map((r) => new URL(r.url, api.url).searchParams.get('page'))).toEqual(['1', '2', '2', '3'])
    expect(api.requests.every((r) => r.auth === 'Bearer tok-123')).toBe(true)
    for (const c of CATALOGUE) expect(await onHand(c.sku)).toBe(c.quantity)
    const source = (await findPullSource(db.store.db, warehouseId))!
    expect(source).toMatchObject({ health: 'ok', failures: 0 })
  })

  it('a refused credential fails the run (502), marks the source unhealthy and changes nothing', async () => {
    pagedWithOneFailure('right')
    await setPullSource(deps, warehouseId, { url: `${api.url}/inventory`, auth: { type: 'bearer', token: 'wrong' }, pagination: { type: 'page', size: 10, size_param: 'per_page' }, intervalSeconds: 60 })
    const before = await snapshot(db.store.db)
    await expect(runPullNow(deps, warehouseId, { dryRun: false, fetch: FAST })).rejects.toMatchObject({ code: 'pull_failed' })
    expect(await snapshot(db.store.db)).toEqual(before)
    const [run] = await listPullRuns(db.store.db, warehouseId, 5)
    expect(run).toMatchObject({ status: 'failed', applied: 0 })
    expect(run!.error).toMatch(/answered 401/)
    expect(api.requests).toHaveLength(1) // a 401 is not retried
    expect(await findPullSource(db.store.db, warehouseId)).toMatchObject({ health: 'unhealthy', failures: 1, healthReason: expect.stringMatching(/401/) })
  })

  it('a scheduled run that fails backs off: the next attempt waits longer than the interval, and longer again', async () => {
    api.handler = (_req, res) => json(res, 500, { error: 'down' })
    await setPullSource(deps, warehouseId, { url: `${api.url}/inventory`, intervalSeconds: 60 })
    const sched = new PullScheduler(deps, 'node-a', { fetch: FAST })
    expect(await sched.runOnce()).toBe(true)
    const first = (await findPullSource(db.store.db, warehouseId))!
    expect(first).toMatchObject({ health: 'unhealthy', failures: 1 })
    expect(first.nextRunAt! - clock.now()).toBeGreaterThanOrEqual(60_000)
    clock.set(first.nextRunAt!)
    expect(await sched.runOnce()).toBe(true)
    const second = (await findPullSource(db.store.db, warehouseId))!
    expect(second.failures).toBe(2)
    expect(second.nextRunAt! - clock.now()).toBeGreaterThanOrEqual(120_000)
    // Healthy again after a success, back on its interval.
    api.handler = (_req, res) => json(res, 200, { inventory_items: [{ sku: 'PULL-000', quantity: 3 }] })
    clock.set(second.nextRunAt!)
    expect(await sched.runOnce()).toBe(true)
    const third = (await findPullSource(db.store.db, warehouseId))!
    expect(third).toMatchObject({ health: 'ok', failures: 0, healthReason: null })
    expect(third.nextRunAt).toBe(clock.now() + 60_000)
    expect(await onHand('PULL-000')).toBe(3)
  })

  it('a server slower than the timeout fails the run with a clear error and changes nothing', async () => {
    api.handler = () => {} // never answers
    await setPullSource(deps, warehouseId, { url: `${api.url}/inventory`, timeoutSeconds: 1 })
    const before = await snapshot(db.store.db)
    await expect(runPullNow(deps, warehouseId, { dryRun: false, fetch: { retryDelaysMs: [10, 10] } })).rejects.toMatchObject({ code: 'pull_failed' })
    const [run] = await listPullRuns(db.store.db, warehouseId, 1)
    expect(run!.error).toMatch(/no answer within 1000 ms/)
    expect(api.requests).toHaveLength(3) // a timeout is retried, then given up
    expect(await snapshot(db.store.db)).toEqual(before)
  })

  it('a pull observed before a newer webhook count is stale and changes nothing', async () => {
    const realDeps = { ...deps, clock: { now: () => Date.now() } }
    await updateStock(realDeps, { sku: 'PULL-001', warehouseId, changeType: 'sync', quantity: 7, source: 'warehouse_system_a', referenceId: null, notes: null, observedAt: Date.now() }, { actor: 'test' })
    // The warehouse's listing was taken a minute ago (its Date header), and arrives only now.
    const taken = new Date(Date.now() - 60_000).toUTCString()
    api.handler = (_req, res) => json(res, 200, { inventory_items: [{ sku: 'PULL-001', quantity: 99 }, { sku: 'PULL-002', quantity: 5 }] }, { date: taken })
    await setPullSource(realDeps, warehouseId, { url: `${api.url}/inventory` })
    const out = await runPullNow(realDeps, warehouseId, { dryRun: false, fetch: FAST })
    expect(out.run).toMatchObject({ status: 'done', stale: 1, applied: 1, observedAt: Date.parse(taken) })
    expect(await onHand('PULL-001')).toBe(7)
    expect(await onHand('PULL-002')).toBe(5)
  })

  it('a dry run reports before → after and changes nothing; unknown SKUs are reported per item', async () => {
    await updateStock(deps, { sku: 'PULL-003', warehouseId, changeType: 'restock', quantity: 4, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
    api.handler = (_req, res) => json(res, 200, { data: { rows: [{ code: 'PULL-003', qty: '12' }, { code: 'NOPE-1', qty: 1 }] }, next: null })
    await setPullSource(deps, warehouseId, { url: `${api.url}/v2/stock`, mapping: 'data.rows.{ "sku": code, "quantity": qty }', pagination: { type: 'next_link', field: 'next' } })
    const before = await snapshot(db.store.db)
    const out = await runPullNow(deps, warehouseId, { dryRun: true, fetch: FAST })
    expect(await snapshot(db.store.db)).toEqual(before)
    expect(out.result!.outcomes).toEqual([
      { line: 1, sku: 'PULL-003', warehouseId, status: 'applied', before: 4, after: 12 },
      expect.objectContaining({ line: 2, sku: 'NOPE-1', status: 'rejected', code: 'sku_not_found' }),
    ])
    expect(out.run).toMatchObject({ dryRun: true, applied: 1, rejected: 1 })
  })

  it('follows next links and cursors, and refuses a next link to another host', async () => {
    api.handler = (req, res) => {
      const u = new URL(req.url!, api.url)
      if (u.pathname === '/links') {
        const p = Number(u.searchParams.get('p') ?? 1)
        return json(res, 200, { inventory_items: [CATALOGUE[p]!] }, p < 3 ? { link: `<${api.url}/links?p=${p + 1}>; rel="next"` } : {})
      }
      if (u.pathname === '/cursor') {
        const c = u.searchParams.get('after')
        return json(res, 200, c ? { inventory_items: [CATALOGUE[9]!], meta: { next: null } } : { inventory_items: [CATALOGUE[8]!], meta: { next: 'abc' } })
      }
      return json(res, 200, { inventory_items: [], next: 'http://198.51.100.7/steal' })
    }
    await setPullSource(deps, warehouseId, { url: `${api.url}/links`, pagination: { type: 'next_link' } })
    expect((await runPullNow(deps, warehouseId, { dryRun: false, fetch: FAST })).run).toMatchObject({ pages: 3, applied: 3 })
    await setPullSource(deps, warehouseId, { url: `${api.url}/cursor`, pagination: { type: 'cursor', param: 'after', field: 'meta.next' } })
    expect((await runPullNow(deps, warehouseId, { dryRun: false, fetch: FAST })).run).toMatchObject({ pages: 2, applied: 2 })
    expect(await onHand(CATALOGUE[9]!.sku)).toBe(CATALOGUE[9]!.quantity)
    await setPullSource(deps, warehouseId, { url: `${api.url}/elsewhere`, pagination: { type: 'next_link', field: 'next' } })
    await expect(runPullNow(deps, warehouseId, { dryRun: false, fetch: FAST })).rejects.toThrow(/leaves/)
  })

  it('two nodes polling one schedule run each due pull exactly once', async () => {
    api.handler = (_req, res) => setTimeout(() => json(res, 200, { inventory_items: CATALOGUE }), 30)
    await setPullSource(deps, warehouseId, { url: `${api.url}/inventory`, intervalSeconds: 60 })
    // A second node: its own connection pool to the same database, its own clock reading the same time.
    const store2: Store = openStore(db.url, { poolSize: 4 })
    try {
      const deps2: ServiceDeps = { store: store2, clock, ids: ulidIds(), log: silentLogger, events: new EventBus() }
      const a = new PullScheduler(deps, 'node-a', { fetch: FAST })
      const b = new PullScheduler(deps2, 'node-b', { fetch: FAST })
      for (let round = 0; round < 3; round++) {
        const ran = await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()])
        expect(ran.filter(Boolean)).toHaveLength(1)
        expect(await Promise.all([a.runOnce(), b.runOnce()])).toEqual([false, false]) // not due again yet
        clock.advance(60_000)
      }
      expect(api.requests).toHaveLength(3)
      const runs = await listPullRuns(db.store.db, warehouseId, 10)
      expect(runs.map((r) => r.status)).toEqual(['done', 'done', 'done'])
    } finally {
      await store2.close()
    }
  })

  it('a run whose node died (lease ran out) is taken over', async () => {
    api.handler = (_req, res) => json(res, 200, { inventory_items: [{ sku: 'PULL-004', quantity: 8 }] })
    await setPullSource(deps, warehouseId, { url: `${api.url}/inventory`, intervalSeconds: 60 })
    const { claimDuePull } = await import('../../src/store/pull-repo.js')
    expect(await claimDuePull(db.store.db, db.store.caps, 'dead-node', clock.now(), 1000)).toBeDefined()
    const sched = new PullScheduler(deps, 'node-b', { fetch: FAST })
    expect(await sched.runOnce()).toBe(false) // still leased
    clock.advance(1001)
    expect(await sched.runOnce()).toBe(true)
    expect(await onHand('PULL-004')).toBe(8)

  })
})

describe.each(DATABASES)('pull routes on $name', ({ name, skipReason }) => {
  let db: TestStore
  let deps: ServiceDeps
  let t: Awaited<ReturnType<typeof testApp>>
  let api: FakeApi

  beforeEach(async (ctx) => {
    if (skipReason) return ctx.skip(skipReason)
    db = await createTestStore(name)
    deps = testDeps(db.store, testClock(Date.now()))
    t = await testApp(deps)
    api = await fakeApi()
    await makeProduct(deps, { sku: 'R-1', productId: 1 })
  })
  afterEach(async () => {
    await api?.close()
    await db?.drop()
  })

  it("accepts the seed's api_endpoint + api_key on POST /warehouses as a pull source, and never shows the key", async () => {
    api.handler = (req, res) => (req.headers.authorization === 'Bearer seed-key' && req.url === '/v1/inventory' ? json(res, 200, { inventory_items: [{ sku: 'R-1', quantity: 6 }] }) : json(res, 404, {}))
    const w = (await expectJson(await t.call('POST', 'warehouses', { body: { code: 'SEED', name: 'Seed WMS', api_endpoint: `${api.url}/v1`, api_key: 'seed-key' } }), 201)).data
    const src = await expectJson(await t.call('GET', `warehouses/${w.id}/pull`))
    expect(src.data).toMatchObject({ url: `${api.url}/v1/inventory`, auth: { type: 'bearer', token_set: true }, interval_seconds: 900, default_mapping: true })
    expect(JSON.stringify(src)).not.toContain('seed-key')
    const run = await expectJson(await t.call('POST', `warehouses/${w.id}/pull`))
    expect(run.data).toMatchObject({ status: 'done', applied: 1, items: 1 })
    const runs = await expectJson(await t.call('GET', `warehouses/${w.id}/pulls`, { key: t.keys.read }))
    expect(runs.data).toHaveLength(1)
    expect(JSON.stringify(runs)).not.toContain('seed-key')
    // Stored sealed or plain, but the API never returns it.
    const row = await db.store.db.selectFrom('warehouse_pull').select('auth_secret').executeTakeFirstOrThrow()
    expect(row.auth_secret).toMatch(/^(plain|aesgcm):/)
  })

  it('PATCH sets, changes (keeping credentials) and removes a pull source; a failing pull answers 502 with its run', async () => {
    const w = (await expectJson(await t.call('POST', 'warehouses', { body: { code: 'P1', name: 'P1' } }), 201)).data
    await expectJson(await t.call('PATCH', `warehouses/${w.id}`, { body: { pull: { url: `${api.url}/x`, auth: { type: 'header', name: 'X-Token', value: 's3cret' }, cron: '*/5 * * * *', timeout_seconds: 5 } } }))
    await expectJson(await t.call('PATCH', `warehouses/${w.id}`, { body: { pull: { url: `${api.url}/y`, mapping: 'items.{"sku": id, "quantity": n}' } } }))
    api.handler = (req, res) => (req.headers['x-token'] === 's3cret' ? json(res, 200, { items: [{ id: 'R-1', n: 2 }] }) : json(res, 403, {}))
    expect((await expectJson(await t.call('POST', `warehouses/${w.id}/pull?dry_run=true`))).data).toMatchObject({ dry_run: true, applied: 1 })
    api.handler = (_req, res) => res.end('<html>maintenance</html>')
    const p = await expectProblem(await t.call('POST', `warehouses/${w.id}/pull`), 502, 'pull_failed')
    expect(p.run_id).toMatch(/^pul_/)
    await expectJson(await t.call('PATCH', `warehouses/${w.id}`, { body: { pull: null } }))
    await expectProblem(await t.call('GET', `warehouses/${w.id}/pull`), 404, 'pull_not_configured')
    await expectProblem(await t.call('POST', `warehouses/${w.id}/pull`), 404, 'pull_not_configured')
  })

  it('refuses hostile pull input with problem+json and changes nothing', async () => {
    const w = (await expectJson(await t.call('POST', 'warehouses', { body: { code: 'H1', name: 'H1' } }), 201)).data
    const before = await snapshot(db.store.db)
    const bad: Array<[unknown, string]> = [
      [{ pull: { url: 'ftp://x/y' } }, '/pull/url'],
      [{ pull: { url: 'http://u:p@127.0.0.1/x' } }, '/pull/url'],
      [{ pull: { url: `${api.url}/x`, mapping: 'items.{' } }, '/pull/mapping'],
      [{ pull: { url: `${api.url}/x`, cron: 'not a cron' } }, '/pull/cron'],
      [{ pull: { url: `${api.url}/x`, interval_seconds: 1 } }, '/pull/interval_seconds'],
      [{ pull: { url: `${api.url}/x`, auth: { type: 'header', name: 'Host', value: 'x' } } }, '/pull/auth/name'],
      [{ pull: { url: `${api.url}/x`, auth: { type: 'oauth' } } }, '/pull/auth/type'],
      [{ pull: { url: `${api.url}/x`, extra: 1 } }, '/pull'],
      [{ pull: 'http://x' }, '/pull'],
    ]
    for (const [body, pointer] of bad) {
      const p = await expectProblem(await t.call('PATCH', `warehouses/${w.id}`, { body }), 422, 'validation_failed')
      expect(p.errors!.some((e) => e.pointer.startsWith(pointer)), JSON.stringify(p.errors)).toBe(true)
    }
    await expectProblem(await t.call('POST', 'warehouses', { body: { code: 'H2', name: 'H2', api_endpoint: 'not a url', api_key: 'k' } }), 422, 'validation_failed')
    await expectProblem(await t.call('POST', 'warehouses', { body: { code: 'H3', name: 'H3', api_key: 'k' } }), 422, 'validation_failed')
    await expectProblem(await t.call('PATCH', `warehouses/${w.id}`, { raw: '{"pull": {"url": ' }), 400, 'malformed_json')
    await expectProblem(await t.call('PATCH', `warehouses/${w.id}`, { raw: JSON.stringify({ pull: { url: `${api.url}/x`, mapping: 'x'.repeat(300_000) } }) }), 413, 'payload_too_large')
    await expectProblem(await t.call('PATCH', `warehouses/${w.id}`, { key: t.keys.write, body: { pull: { url: `${api.url}/x` } } }), 403, 'forbidden')
    await expectProblem(await t.call('POST', `warehouses/${w.id}/pull`, { key: t.keys.read }), 403, 'forbidden')
    await expectProblem(await t.call('POST', `warehouses/${w.id}/pull`, { key: 'sbk_nope' }), 401, 'unauthenticated')
    await expectProblem(await t.call('POST', 'warehouses/999999/pull'), 404, 'warehouse_not_found')
    await expectProblem(await t.call('POST', `warehouses/${w.id}/pull?dry_run=maybe`), 422, 'validation_failed')
    expect(await snapshot(db.store.db)).toEqual(before)
    expect(await db.store.db.selectFrom('warehouse_pull').selectAll().execute()).toEqual([])
  })
})
