/**
 * A lost database (#4): while PostgreSQL cannot be reached every request answers 503
 * application/problem+json with code service_unavailable and Retry-After, /healthz answers 503,
 * nothing is half-written, and the same process serves again as soon as the database returns.
 * "Unreachable" is real: the store talks to PostgreSQL through a TCP proxy that is taken down
 * (every connection cut, nothing listening) and brought back on the same port; and a backend is
 * terminated with pg_terminate_backend while a request is inside its transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { openStore, type Store } from '../../src/store/db.js'
import { findLevel } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger } from '../support/ledger-check.js'
import { adminSession, databaseOf, waitUntil, withAdmin } from '../support/pg-admin.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

const pgDb = DATABASES.find((d) => d.name === 'postgres')

async function expectUnavailable(res: Response): Promise<void> {
  expect(res.status).toBe(503)
  expect(res.headers.get('content-type')).toContain('application/problem+json')
  expect(res.headers.get('retry-after')).toBe('1')
  const body = (await res.json()) as { code: string; status: number; detail: string }
  expect(body).toMatchObject({ code: 'service_unavailable', status: 503 })
}

describe.skipIf(!pgDb || pgDb.skipReason !== null)('postgres: a lost database answers 503 and the service recovers', () => {
  let ts: TestStore
  let proxy: TcpProxy
  const stores: Store[] = []
  beforeAll(async () => {
    ts = await createTestStore('postgres')
    const target = new URL(ts.url)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
  })
  afterAll(async () => {
    await proxy?.close()
    for (const s of stores) await s.close().catch(() => {})
    await ts?.drop()
  })

  const via = (port: number) => {
    const u = new URL(ts.url)
    u.port = String(port)
    return u.toString()
  }
  const sale = (sku: string, warehouseId: number) => ({ sku, warehouse_id: warehouseId, quantity: 1, change_type: 'sale' })
  const salesOf = async (sku: string) =>
    Number((await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number | string>().as('n')).where('sku', '=', sku).where('change_type', '=', 'sale').executeTakeFirstOrThrow()).n)

  async function setUp(store: Store) {
    stores.push(store)
    const deps: ServiceDeps = testDeps(store)
    const t = await testApp(deps)
    const wh = await makeWarehouse(deps)
    const p = await makeProduct(deps)
    expect((await t.call('POST', 'stock/update', { body: { sku: p.sku, warehouse_id: wh.id, quantity: 10, change_type: 'restock' } })).status).toBe(200)
    return { t, wh, p }
  }

  it('answers 503 while nothing answers at the database address, and serves again when it is back', async () => {
    const { t, wh, p } = await setUp(openStore(via(proxy.port), { poolSize: 4, connectTimeoutMs: 2000 }))
    expect((await t.call('GET', '/healthz', { key: null })).status).toBe(200)
    expect((await t.call('POST', 'stock/update', { body: sale(p.sku, wh.id) })).status).toBe(200)

    await proxy.down()
    await expectUnavailable(await t.call('POST', 'stock/update', { body: sale(p.sku, wh.id) }))
    await expectUnavailable(await t.call('GET', `stock/${p.sku}`))
    await expectUnavailable(await t.call('POST', 'stock/bulk-sync', { body: { items: [{ sku: p.sku, warehouse_id: wh.id, quantity: 3 }] } }))
    const health = await t.call('GET', '/healthz', { key: null })
    expect(health.status).toBe(503)
    expect(await health.json()).toMatchObject({ status: 'unavailable', database: 'unreachable' })

    await proxy.up()
    expect((await t.call('GET', '/healthz', { key: null })).status).toBe(200)
    const res = await t.call('POST', 'stock/update', { body: sale(p.sku, wh.id) })
    expect(res.status).toBe(200)
    expect(await salesOf(p.sku)).toBe(2)
    expect((await findLevel(ts.store.db, p.sku, wh.id))?.onHand).toBe(8)
    await expectLevelsMatchLedger(ts.store, [p.sku])
  })

  it('answers 503 when its connection is terminated inside the transaction (pg_terminate_backend), then recovers', async () => {
    const { t, wh, p } = await setUp(openStore(ts.url, { poolSize: 4, applicationName: 'sb-terminate-test' }))
    const db = databaseOf(ts.url)
    // Hold the product row, so the sale is parked inside its transaction, waiting for the lock.
    const holder = await adminSession(ts.url)
    try {
      await holder.query('begin')
      await holder.query('select 1 from product where sku = $1 for update', [p.sku])
      const pending = t.call('POST', 'stock/update', { body: sale(p.sku, wh.id) })
      await waitUntil('the sale to wait on the product lock', async () => {
        const r = await holder.query(`select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'sb-terminate-test' and wait_event_type = 'Lock'`, [db])
        return (r.rows[0] as { n: number }).n === 1
      })
      const killed = await withAdmin((c) => c.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = 'sb-terminate-test'`, [db]))
      expect(killed.rowCount).toBeGreaterThanOrEqual(1)
      await expectUnavailable(await pending)
    } finally {
      await holder.query('rollback')
      await holder.end()
    }
    // The pool dropped the dead connections; the very next request connects afresh.
    expect((await t.call('POST', 'stock/update', { body: sale(p.sku, wh.id) })).status).toBe(200)
    expect(await salesOf(p.sku)).toBe(1)
    await expectLevelsMatchLedger(ts.store, [p.sku])
  })

  it('answers 503 when a statement outlives DATABASE_STATEMENT_TIMEOUT_MS', async () => {
    const { t, wh, p } = await setUp(openStore(ts.url, { poolSize: 2, statementTimeoutMs: 300 }))
    const holder = await adminSession(ts.url)
    try {
      await holder.query('begin')
      await holder.query('select 1 from product where sku = $1 for update', [p.sku])
      await expectUnavailable(await t.call('POST', 'stock/update', { body: sale(p.sku, wh.id) }))
    } finally {
      await holder.query('rollback')
      await holder.end()
    }
    expect((await t.call('POST', 'stock/update', { body: sale(p.sku, wh.id) })).status).toBe(200)
    expect(await salesOf(p.sku)).toBe(1)
  })
})
