/**
 * /livez, /readyz and /metrics (#15), and hostile input on the alert routes, on each database.
 * The metrics text must pass `promtool check metrics`; counters must move by exactly what known
 * traffic implies; /readyz must name the failing check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/http/app.js'
import { ApiKeyVerifier, createApiKey } from '../../src/service/api-keys.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { ObservabilitySampler } from '../../src/service/observability.js'
import { addStore } from '../../src/service/stores.js'
import { setPushStatus } from '../../src/store/woo-repo.js'
import { openStore, type Store } from '../../src/store/db.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { promtool } from '../support/promtool.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { expectProblem } from './support-e2e.js'

const TOKEN = 'metrics-token-for-tests-0123456789'

function appOver(deps: ServiceDeps, o: { token?: string | null; worker?: () => boolean | null } = {}) {
  const verifier = new ApiKeyVerifier(deps, 0)
  return createApp({ ...deps, verifier, limits: { bodyBytes: 64 * 1024, bulkBodyBytes: 1024 * 1024 }, observability: { metricsToken: o.token === undefined ? TOKEN : o.token, readiness: { deliveryWorkerRunning: o.worker ?? (() => true) } } })
}

/** Parse the Prometheus text format into sample name{labels} → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return out
}
const sampleOf = (m: Map<string, number>, name: string, labels: Record<string, string>) => {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  let sum = 0
  for (const [k, v] of m) if (k.startsWith(`${name}{`) && want.every((w) => k.includes(w))) sum += v
  return sum
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: health, readiness and metrics`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let app: ReturnType<typeof appOver>
    let key: string
    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store)
      app = appOver(deps)
      key = (await createApiKey(deps, 'obs', ['admin', 'read', 'write'])).secret
    })
    afterAll(async () => {
      await ts?.drop()
    })
    const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      app.request(`/inventory/v1/${path}`, { method, headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
    const scrape = async () => {
      const res = await app.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toContain('text/plain')
      return res.text()
    }

    it('/livez answers without touching the database; /readyz lists every check', async () => {
      const live = await app.request('/livez')
      expect(live.status).toBe(200)
      const ready = await app.request('/readyz')
      expect(ready.status).toBe(200)
      expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true }, migrations: { ok: true, detail: 'current' }, delivery_worker: { ok: true } } })
      // a stopped delivery worker makes the node not ready, and the answer names it
      const stopped = await appOver(deps, { worker: () => false }).request('/readyz')
      expect(stopped.status).toBe(503)
      expect(await stopped.json()).toMatchObject({ status: 'not_ready', failing: ['delivery_worker'] })
    })

    it('/metrics needs the bearer token (no API key), and is absent without one', async () => {
      const none = await app.request('/metrics')
      await expectProblem(none, 401, 'metrics_unauthorized')
      expect(none.headers.get('www-authenticate')).toContain('Bearer')
      await expectProblem(await app.request('/metrics', { headers: { authorization: 'Bearer wrong' } }), 401, 'metrics_unauthorized')
      await expectProblem(await app.request('/metrics', { headers: { 'x-api-key': key } }), 401, 'metrics_unauthorized')
      await expectProblem(await appOver(deps, { token: null }).request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } }), 404, 'route_not_found')
    })

    it('counters move by exactly what known traffic implies, and the text passes promtool check metrics', async () => {
      const wh = await makeWarehouse(deps, { code: 'OBS-W' })
      const p = await makeProduct(deps, { sku: 'OBS-1' })
      const before = samples(await scrape())
      const update = (body: Record<string, unknown>, headers: Record<string, string> = {}) => api('POST', 'stock/update', { sku: p.sku, warehouse_id: wh.id, ...body }, headers)
      expect((await update({ change_type: 'restock', quantity: 5 })).status).toBe(200)
      for (let i = 0; i < 3; i++) expect((await update({ change_type: 'sale', quantity: 1 })).status).toBe(200)
      expect((await update({ change_type: 'sale', quantity: 50 })).status).toBe(409) // refused: only 2 left
      expect((await update({ change_type: 'sale', quantity: 1 }, { 'idempotency-key': 'obs-k1' })).status).toBe(200)
      const replay = await update({ change_type: 'sale', quantity: 1 }, { 'idempotency-key': 'obs-k1' })
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      expect((await api('GET', `stock/${p.sku}`)).status).toBe(200)
      // A store whose pushes the pacer steers (its status as the pushing node records it), and one never pushed to.
      const pushed = await addStore(deps, { name: 'obs-shop', url: 'http://127.0.0.1:9', consumerKey: 'ck_obs', consumerSecret: 'cs_obs', warehouses: ['OBS-W'] })
      await addStore(deps, { name: 'obs-idle', url: 'http://127.0.0.1:9', consumerKey: 'ck_obs2', consumerSecret: 'cs_obs2', warehouses: ['OBS-W'] })
      await setPushStatus(ts.store.db, pushed.id, { window_ms: 318, loaded: true, in_flight: 1, concurrency: 2, max_concurrency: 4, capacity: 2, latency_ms: 283, backlog: 6, busy: 0.61, at: Date.now() })
      await new ObservabilitySampler(deps, { intervalMs: 60_000, outboxLagAlertSeconds: 0, deadLetterAlerts: false }).sampleOnce()

      const text = await scrape()
      const after = samples(text)
      const delta = (name: string, labels: Record<string, string> = {}) => sampleOf(after, name, labels) - sampleOf(before, name, labels)
      expect(delta('stockbridge_movements_total', { change_type: 'restock', outcome: 'applied' })).toBe(1)
      expect(delta('stockbridge_movements_total', { change_type: 'sale', outcome: 'applied' })).toBe(4)
      expect(delta('stockbridge_movements_total', { change_type: 'sale', outcome: 'refused' })).toBe(1)
      expect(after.get('stockbridge_oversell_refusals_total')! - (before.get('stockbridge_oversell_refusals_total') ?? 0)).toBe(1)
      expect(after.get('stockbridge_idempotent_replays_total')! - (before.get('stockbridge_idempotent_replays_total') ?? 0)).toBe(1)
      // 7 POSTs to the route pattern (6 × 200 incl. the replay... 5 fresh + 1 replay = 6, and 1 × 409)
      expect(delta('stockbridge_http_request_duration_seconds_count', { method: 'POST', route: '/inventory/v1/stock/update', status: '200' })).toBe(6)
      expect(delta('stockbridge_http_request_duration_seconds_count', { method: 'POST', route: '/inventory/v1/stock/update', status: '409' })).toBe(1)
      // the read is labelled by its route pattern, never by the SKU
      expect(delta('stockbridge_http_request_duration_seconds_count', { method: 'GET', route: '/inventory/v1/stock/:sku' })).toBe(1)
      expect(text).not.toContain('OBS-1')
      // sampled figures and the process defaults are there
      expect(after.has('stockbridge_outbox_backlog')).toBe(true)
      expect(after.has('stockbridge_outbox_lag_seconds')).toBe(true)
      expect(after.has('stockbridge_dead_letters')).toBe(true)
      expect(after.has('nodejs_eventloop_lag_seconds')).toBe(true)
      // what steers a store's pushes (#17), per store, as last recorded
      expect(sampleOf(after, 'stockbridge_store_push_window_seconds', { store: 'obs-shop' })).toBeCloseTo(0.318)
      expect(sampleOf(after, 'stockbridge_store_push_loaded', { store: 'obs-shop' })).toBe(1)
      expect(sampleOf(after, 'stockbridge_store_push_requests_in_flight', { store: 'obs-shop' })).toBe(1)
      expect(sampleOf(after, 'stockbridge_store_push_requests_allowed', { store: 'obs-shop' })).toBe(2)
      expect(sampleOf(after, 'stockbridge_store_push_capacity', { store: 'obs-shop' })).toBe(2)
      expect(sampleOf(after, 'stockbridge_store_push_response_seconds', { store: 'obs-shop' })).toBeCloseTo(0.283)
      expect(sampleOf(after, 'stockbridge_store_push_backlog', { store: 'obs-shop' })).toBe(6)
      expect(text).not.toContain('store="obs-idle"')
      expect(after.has('process_cpu_user_seconds_total')).toBe(true)
      if (db.name === 'postgres') expect(after.has('stockbridge_db_pool_connections{state="total"}')).toBe(true)

      const lint = promtool(['check', 'metrics'], text)
      expect(lint.out).toBe('')
      expect(lint.status).toBe(0)
    })

    it('hostile input on the alert routes: clear problems, nothing changed', async () => {
      const count = async () => Number((await ts.store.db.selectFrom('alert_channel').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n)
      const n0 = await count()
      const email = (config: Record<string, unknown>) => ({ name: 'bad-mail', kind: 'email', config: { host: 'smtp.example.test', port: 587, from: 'a@example.test', to: ['b@example.test'], ...config } })
      const cases: Array<[unknown, number, string]> = [
        ['{"name": "x", ', 400, 'malformed_json'],
        [[1, 2], 422, 'validation_failed'],
        [{ name: 'x', kind: 'pager', config: {} }, 422, 'validation_failed'],
        [{ name: 'bad name!', kind: 'slack', config: { url: 'https://hooks.example.test/x' } }, 422, 'validation_failed'],
        [{ name: 'x', kind: 'slack', config: { url: 'ftp://hooks.example.test/x' } }, 422, 'validation_failed'],
        [{ name: 'x', kind: 'slack', config: { url: 'https://user:pw@hooks.example.test/x' } }, 422, 'validation_failed'],
        [{ name: 'x', kind: 'slack', config: { url: 'https://h.example.test/x', extra: 1 } }, 422, 'validation_failed'],
        [email({ host: 'bad host name' }), 422, 'validation_failed'],
        [email({ port: 70000 }), 422, 'validation_failed'],
        [email({ port: '25' }), 422, 'validation_failed'],
        [email({ tls: 'sometimes' }), 422, 'validation_failed'],
        [email({ to: ['not-an-address'] }), 422, 'validation_failed'],
        [email({ to: [] }), 422, 'validation_failed'],
        [email({ to: Array.from({ length: 51 }, (_, i) => `u${i}@example.test`) }), 422, 'validation_failed'],
        [email({ from: 'nobody' }), 422, 'validation_failed'],
        [email({ password: 'pw' }), 422, 'validation_failed'],
        [{ ...email({}), mode: 'digest', digest_seconds: 0 }, 422, 'validation_failed'],
        [{ ...email({}), kinds: ['low_stock', 'meteor_strike'] }, 422, 'validation_failed'],
        [{ ...email({}), scopes: [] }, 422, 'validation_failed'],
        [{ ...email({}), name: 'x'.repeat(101) }, 422, 'validation_failed'],
      ]
      for (const [body, status, code] of cases) await expectProblem(await api('POST', 'alert-channels', typeof body === 'string' ? body : body), status, code)
      await expectProblem(await api('POST', 'alert-channels', JSON.stringify({ name: 'big', kind: 'slack', config: { url: `https://h.example.test/${'x'.repeat(100_000)}` } })), 413, 'payload_too_large')
      await expectProblem(await app.request('/inventory/v1/alert-channels', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(email({})) }), 401, 'unauthenticated')
      const readKey = (await createApiKey(deps, 'obs-read', ['read'])).secret
      await expectProblem(await app.request('/inventory/v1/alert-channels', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': readKey }, body: JSON.stringify(email({})) }), 403, 'forbidden')
      await expectProblem(await api('POST', 'alert-channels', JSON.stringify(email({})), { 'content-type': 'text/plain' }), 415, 'unsupported_media_type')
      expect(await count()).toBe(n0)
      // a name taken
      expect((await api('POST', 'alert-channels', { ...email({}), name: 'dup' })).status).toBe(201)
      await expectProblem(await api('POST', 'alert-channels', { ...email({}), name: 'dup' }), 409, 'already_exists')
      expect(await count()).toBe(n0 + 1)
      // the password never comes back
      const listed = (await (await api('GET', 'alert-channels')).json()) as { data: Array<{ config: Record<string, unknown> }> }
      expect(JSON.stringify(listed)).not.toContain('"pw"')
      // alert routes
      await expectProblem(await api('GET', 'alerts?state=maybe'), 422, 'validation_failed')
      await expectProblem(await api('GET', 'alerts?limit=0'), 422, 'validation_failed')
      await expectProblem(await api('GET', 'alerts?kind=meteor'), 422, 'validation_failed')
      await expectProblem(await api('GET', 'alerts?before=../../etc'), 422, 'validation_failed')
      await expectProblem(await api('GET', 'alerts/alr_NOPE'), 404, 'alert_not_found')
      await expectProblem(await api('POST', 'alerts/alr_NOPE/acknowledge'), 404, 'alert_not_found')
      await expectProblem(await api('DELETE', 'alert-channels/no-such'), 404, 'alert_channel_not_found')
      await expectProblem(await api('POST', 'alert-channels/no-such/test'), 404, 'alert_channel_not_found')
      await expectProblem(await app.request('/inventory/v1/alerts'), 401, 'unauthenticated')
    })
  })
}

const pgDb = DATABASES.find((d) => d.name === 'postgres')
describe.skipIf(!pgDb || pgDb.skipReason !== null)('postgres: /readyz while the database is unreachable', () => {
  let ts: TestStore
  let proxy: TcpProxy
  let store: Store
  beforeAll(async () => {
    ts = await createTestStore('postgres')
    const target = new URL(ts.url)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
    const u = new URL(ts.url)
    u.port = String(proxy.port)
    store = openStore(u.toString(), { poolSize: 2, connectTimeoutMs: 1500 })
  })
  afterAll(async () => {
    await proxy?.close()
    await store?.close().catch(() => {})
    await ts?.drop()
  })

  it('answers 503 naming the database while it is unreachable, and 200 once it is back', async () => {
    const app = appOver(testDeps(store))
    expect((await app.request('/readyz')).status).toBe(200)
    await proxy.down()
    const down = await app.request('/readyz')
    expect(down.status).toBe(503)
    const body = (await down.json()) as { failing: string[]; checks: { database: { ok: boolean; detail: string } } }
    expect(body.failing).toContain('database')
    expect(body.checks.database.ok).toBe(false)
    // liveness is not readiness: the process still answers
    expect((await app.request('/livez')).status).toBe(200)
    await proxy.up()
    let status = 0
    for (let i = 0; i < 20 && status !== 200; i++) status = (await app.request('/readyz')).status
    expect(status).toBe(200)
  })
})
