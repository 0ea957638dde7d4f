/**
 * Every list route pages the same way (#12 item 9): ?limit= and ?cursor=, answered with
 * next_cursor and has_more, keyset-ordered so walking the pages loses and repeats nothing.
 * Through the app, on both databases.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { useStoreSealKey } from '../../src/store/woo-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeWarehouse, testApp, testClock, testDeps } from '../support/fixtures.js'
import { expectJson, expectProblem } from './support-e2e.js'

const N = 7 // rows made per list; pages of 3 make 3 pages, the last one short

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: every list pages (#12)`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let t: Awaited<ReturnType<typeof testApp>>
    let subIds: string[] = []
    let pullWarehouse = 0

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock())
      t = await testApp(deps)
      useStoreSealKey(randomBytes(32))
      // Equal priorities: the id breaks the tie, so a page boundary falls inside a run of equals.
      const whs = []
      for (let i = 0; i < N; i++) whs.push(await makeWarehouse(deps, { code: `PG${i}`, priority: i % 2 }))
      pullWarehouse = whs[0]!.id
      for (let i = 0; i < N; i++) {
        await expectJson(await t.call('POST', 'stores', { body: { name: `shop-${i}`, url: `https://shop${i}.example`, consumer_key: 'ck_0123456789abcdef', consumer_secret: 'cs_0123456789abcdef', warehouses: [whs[0]!.id] } }), 201)
        subIds.push((await expectJson(await t.call('POST', 'subscriptions', { body: { url: `https://hooks.example/${i}` } }), 201)).data.id)
        await expectJson(await t.call('POST', 'providers', { body: { name: `prov-${i}`, preset: 'erp_system_b', secret: 'seed-provider-secret-000000001', unknown_sku: 'hold' } }), 201)
        await expectJson(await t.call('POST', 'alert-channels', { body: { name: `ch-${i}`, kind: 'email', config: { host: '127.0.0.1', port: 2525, tls: 'none', from: 'hub@example.test', to: ['ops@example.test'] } } }), 201)
      }
      // Dead letters and delivery attempts come from failing deliveries; made directly here, with
      // equal times, so only the id orders them.
      const now = deps.clock.now()
      await ts.store.db
        .insertInto('dead_letter')
        .values(Array.from({ length: N }, (_, i) => ({ id: `dl_page${i}`, target_id: subIds[0]!, sku: `SKU-${i}`, event_seq: i + 1, attempts: 8, last_error: 'refused', last_status: 500, created_at: now - (i < 3 ? 0 : 1000), replayed_at: null })))
        .execute()
      await ts.store.db
        .insertInto('delivery_attempt')
        .values(Array.from({ length: N }, (_, i) => ({ target_id: subIds[0]!, event_id: `evt_${i}`, sku: `SKU-${i}`, outcome: 'retry', status_code: 500, error: 'refused', duration_ms: 3, attempted_at: now })))
        .execute()
      // Held items come from a provider sending SKUs nobody registered; made directly here.
      await ts.store.db
        .insertInto('held_item')
        .values(Array.from({ length: N }, (_, i) => ({ id: `held_${i}`, provider: 'prov-0', external_sku: `EXT-${i}`, event_id: `evt-${i}`, item_index: 0, movement: JSON.stringify({ sku: `EXT-${i}`, warehouseId: pullWarehouse, changeType: 'restock', quantity: 1 }), status: 'held', outcome: null, held_at: now, resolved_at: null })))
        .execute()
      // Alerts and pull runs likewise (raised by stock moves and scheduled pulls elsewhere).
      await ts.store.db
        .insertInto('alert')
        .values(Array.from({ length: N }, (_, i) => ({ id: `alr_0PAGE${i}`, kind: 'low_stock', scope: 'level', state_key: `low_stock:SKU-${i}:${pullWarehouse}`, sku: `SKU-${i}`, warehouse_id: pullWarehouse, subject: null, status: 'open', available: 1, threshold: 5, detail: null, source_event_id: null, event_seq: null, raised_at: now, acknowledged_at: null, acknowledged_by: null, closed_at: null })))
        .execute()
      await ts.store.db
        .insertInto('pull_run')
        .values(Array.from({ length: N }, (_, i) => ({ id: `pr_page${i}`, warehouse_id: pullWarehouse, trigger: 'manual', dry_run: 0, status: 'done', pages: 1, fetched: 0, applied: 0, unchanged: 0, stale: 0, rejected: 0, observed_at: null, error: null, report: null, started_at: now - (i % 3), finished_at: now })))
        .execute()
    })
    afterAll(async () => {
      useStoreSealKey(null)
      await ts?.drop()
    })

    const lists: ReadonlyArray<readonly [string, () => string, (row: any) => string]> = [
      ['warehouses', () => 'warehouses', (w) => String(w.id)],
      ['stores', () => 'stores', (s) => s.id],
      ['subscriptions', () => 'subscriptions', (s) => s.id],
      ['dead-letters', () => 'dead-letters', (d) => d.id],
      ['subscription deliveries', () => `subscriptions/${subIds[0]}/deliveries`, (a) => String(a.id)],
      ['alerts', () => 'alerts', (a) => a.id],
      ['alert-channels', () => 'alert-channels', (c) => c.id],
      ['providers', () => 'providers', (v) => v.name],
      ['held items', () => 'providers/prov-0/held', (h) => h.id],
      ['warehouse pulls', () => `warehouses/${pullWarehouse}/pulls`, (r) => r.id],
    ]

    it.each(lists)('GET /%s: walking pages of 3 loses and repeats nothing; the last says has_more false', async (_name, path, idOf) => {
      const everything = await expectJson(await t.call('GET', `${path()}?limit=1000`))
      expect(everything.has_more).toBe(false)
      expect(everything.next_cursor).toBeNull()
      const all: string[] = everything.data.map(idOf)
      expect(all.length).toBeGreaterThanOrEqual(N)
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      for (;;) {
        const body: any = await expectJson(await t.call('GET', `${path()}?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`))
        pages++
        expect(body.success).toBe(true)
        expect(body.data.length).toBeLessThanOrEqual(3)
        expect(body.has_more).toBe(body.next_cursor !== null)
        seen.push(...body.data.map(idOf))
        cursor = body.next_cursor
        if (!body.has_more) break
        expect(body.data).toHaveLength(3)
        expect(pages).toBeLessThan(20)
      }
      expect(new Set(seen).size).toBe(seen.length)
      expect(seen).toEqual(all)
      expect(pages).toBe(Math.ceil(all.length / 3))
    })

    it('the default page holds every row when there are fewer than 100', async () => {
      const body = await expectJson(await t.call('GET', 'subscriptions'))
      expect(body.data).toHaveLength(N)
      expect(body).toMatchObject({ has_more: false, next_cursor: null })
    })

    it('deliveries still page with the older before=', async () => {
      const first = await expectJson(await t.call('GET', `subscriptions/${subIds[0]}/deliveries?limit=2`))
      const older = await expectJson(await t.call('GET', `subscriptions/${subIds[0]}/deliveries?limit=100&before=${first.data[1].id}`))
      expect(older.data.every((a: { id: number }) => a.id < first.data[1].id)).toBe(true)
      expect(older.data).toHaveLength(N - 2)
    })

    it('the OpenAPI document gives each of these lists limit and cursor, and next_cursor and has_more in its answer', async () => {
      const doc: any = await expectJson(await t.call('GET', 'openapi.json', { key: null }))
      const paths = ['/warehouses', '/stores', '/subscriptions', '/subscriptions/{id}/deliveries', '/dead-letters', '/alerts', '/alert-channels', '/providers', '/providers/{name}/held', '/warehouses/{id}/pulls']
      for (const path of paths) {
        const op = doc.paths[path]?.get
        expect(op, path).toBeDefined()
        const params = (op.parameters ?? []).filter((x: any) => x.in === 'query').map((x: any) => x.name)
        expect(params, path).toEqual(expect.arrayContaining(['limit', 'cursor']))
        const props = Object.keys(op.responses['200'].content['application/json'].schema.properties ?? {})
        expect(props, path).toEqual(expect.arrayContaining(['success', 'data', 'next_cursor', 'has_more']))
      }
    })

    const bad: ReadonlyArray<readonly [string, string, string]> = [
      ['a garbage cursor', 'cursor=not-a-cursor', '/cursor'],
      ['a cursor of another shape', `cursor=${Buffer.from(JSON.stringify([true])).toString('base64url')}`, '/cursor'],
      ['limit 0', 'limit=0', '/limit'],
      ['limit above 1000', 'limit=1001', '/limit'],
      ['a non-decimal limit', 'limit=0x10', '/limit'],
      ['a negative limit', 'limit=-3', '/limit'],
    ]
    for (const [name, path] of lists) {
      it.each(bad)(`GET /${name}: %s is refused with 422`, async (_what, query, pointer) => {
        const p = await expectProblem(await t.call('GET', `${path()}?${query}`), 422, 'validation_failed')
        expect(p.errors?.map((e) => e.pointer)).toContain(pointer)
      })
    }
  })
}
