/**
 * Concurrency over a real HTTP server (127.0.0.1, ephemeral port): parallel sales never oversell,
 * parallel replays of one Idempotency-Key move stock once, and every level stays equal to the
 * replay of its ledger.
 */
import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, testApp, testClock, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger } from '../support/ledger-check.js'
import { API, expectNoLeaks, seedCatalog, type Seed } from './support-e2e.js'

const PARALLEL = 50

interface Answer {
  readonly status: number
  readonly replayed: boolean
  readonly body: { code?: string; data?: { id: number | string; [k: string]: unknown }; [k: string]: unknown }
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: concurrency over real HTTP`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let s: Seed
    let server: ServerType
    let base: string
    let keys: Awaited<ReturnType<typeof testApp>>['keys']

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock())
      s = await seedCatalog(deps, 'C')
      const t = await testApp(deps)
      keys = t.keys
      await new Promise<void>((resolve) => {
        server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve())
      })
      const { port } = server.address() as AddressInfo
      expect(port).toBeGreaterThan(0)
      base = `http://127.0.0.1:${port}${API}`
    })
    afterAll(async () => {
      if (server) await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())))
      await ts?.drop()
    })

    async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
      const res = await fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': keys.write, ...headers }, body: JSON.stringify(body) })
      const text = await res.text()
      expectNoLeaks(text)
      return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', body: JSON.parse(text) as Answer['body'] }
    }
    async function restocked(sku: string, quantity: number) {
      const a = await post('stock/update', { sku, warehouse_id: s.w1.id, quantity, change_type: 'restock' })
      expect(a.status).toBe(200)
    }
    async function rows(sku: string, changeType: string) {
      return ts.store.db.selectFrom('ledger_entry').selectAll().where('sku', '=', sku).where('change_type', '=', changeType).execute()
    }
    const tally = (answers: ReadonlyArray<Answer>) => {
      const out: Record<string, number> = {}
      for (const a of answers) out[`${a.status} ${a.body.code ?? 'ok'}`] = (out[`${a.status} ${a.body.code ?? 'ok'}`] ?? 0) + 1
      return out
    }

    it('the server answers on its ephemeral port', async () => {
      const res = await fetch(`${base.replace(API, '')}/healthz`)
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ status: 'ok' })
    })

    it(`${PARALLEL} parallel sales of 1 against a stock of 20: exactly 20 succeed, 30 get 409 insufficient_stock`, async () => {
      const p = await makeProduct(deps, { sku: 'C-RUSH' })
      await restocked(p.sku, 20)
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, () => post('stock/update', { sku: p.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale' })),
      )
      expect(tally(answers)).toEqual({ '200 ok': 20, '409 insufficient_stock': 30 })
      for (const a of answers.filter((x) => x.status === 409)) expect(a.body).toMatchObject({ requested: 1, available: 0, sku: p.sku, warehouse_id: s.w1.id })
      // The successful sales saw every figure from 20 down to 1 exactly once: no lost update.
      expect(answers.filter((a) => a.status === 200).map((a) => a.body.data?.previous_stock).sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
      const [level] = await findLevelsBySkus(ts.store.db, [p.sku])
      expect(level).toMatchObject({ onHand: 0, reserved: 0 })
      expect(await rows(p.sku, 'sale')).toHaveLength(20)
      await expectLevelsMatchLedger(ts.store, [p.sku])
    })

    it(`${PARALLEL} parallel identical requests under one Idempotency-Key: one ledger row, every answer the first`, async () => {
      const p = await makeProduct(deps, { sku: 'C-ONCE' })
      await restocked(p.sku, 20)
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, () => post('stock/update', { sku: p.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale' }, { 'Idempotency-Key': 'checkout-77' })),
      )
      expect(tally(answers)).toEqual({ '200 ok': PARALLEL })
      expect(new Set(answers.map((a) => a.body.data?.id)).size).toBe(1)
      expect(answers.filter((a) => !a.replayed)).toHaveLength(1)
      for (const a of answers) expect(a.body).toEqual(answers[0]!.body)
      expect(await rows(p.sku, 'sale')).toHaveLength(1)
      const [level] = await findLevelsBySkus(ts.store.db, [p.sku])
      expect(level?.onHand).toBe(19)
      await expectLevelsMatchLedger(ts.store, [p.sku])
    })

    it(`${PARALLEL} parallel identical requests under one Idempotency-Key for the last unit: the twins still get the first result`, async () => {
      // A twin that raced the first must replay its answer, not redo the work against the stock
      // the first already took (which would refuse it with insufficient_stock).
      const p = await makeProduct(deps, { sku: 'C-LAST' })
      await restocked(p.sku, 1)
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, () => post('stock/update', { sku: p.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale' }, { 'Idempotency-Key': 'checkout-last' })),
      )
      expect(tally(answers)).toEqual({ '200 ok': PARALLEL })
      expect(new Set(answers.map((a) => a.body.data?.id)).size).toBe(1)
      expect(await rows(p.sku, 'sale')).toHaveLength(1)
      const [level] = await findLevelsBySkus(ts.store.db, [p.sku])
      expect(level?.onHand).toBe(0)
      await expectLevelsMatchLedger(ts.store, [p.sku])
    })

    it(`${PARALLEL} parallel reservations of 1 against a stock of 20: exactly 20 holds`, async () => {
      const p = await makeProduct(deps, { sku: 'C-HOLD' })
      await restocked(p.sku, 20)
      const answers = await Promise.all(Array.from({ length: PARALLEL }, () => post('reservations', { sku: p.sku, quantity: 1 })))
      expect(tally(answers)).toEqual({ '201 ok': 20, '409 insufficient_stock': 30 })
      const [level] = await findLevelsBySkus(ts.store.db, [p.sku])
      expect(level).toMatchObject({ onHand: 20, reserved: 20 })
      expect(await rows(p.sku, 'reserve')).toHaveLength(20)
      await expectLevelsMatchLedger(ts.store, [p.sku])
    })

    it('opposite transfers in parallel neither deadlock nor lose units', async () => {
      const p = await makeProduct(deps, { sku: 'C-SWAP' })
      await restocked(p.sku, 30)
      const w2 = await post('stock/update', { sku: p.sku, warehouse_id: s.w2.id, quantity: 30, change_type: 'restock' })
      expect(w2.status).toBe(200)
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          post('stock/transfer', { sku: p.sku, from_warehouse_id: i % 2 ? s.w1.id : s.w2.id, to_warehouse_id: i % 2 ? s.w2.id : s.w1.id, quantity: 1 }),
        ),
      )
      expect(tally(answers)).toEqual({ '200 ok': 40 })
      const levels = await findLevelsBySkus(ts.store.db, [p.sku])
      expect(levels.map((l) => l.onHand)).toEqual([30, 30])
      expect(await rows(p.sku, 'transfer')).toHaveLength(80)
      await expectLevelsMatchLedger(ts.store, [p.sku])
    })
  })
}
