/**
 * Real WooCommerce SKUs in paths and bodies, and lists that page (#12 items 8 and 9): GET /stock
 * without skus, GET /reservations, GET /jobs. Through the app, on both databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Warehouse } from '../../src/domain/warehouse.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps } from '../support/fixtures.js'
import { expectJson, expectProblem, snapshot } from './support-e2e.js'

const enc = encodeURIComponent

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: SKUs and paged lists (#12)`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let t: Awaited<ReturnType<typeof testApp>>
    let w1: Warehouse
    let w2: Warehouse

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock())
      t = await testApp(deps, { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024, bulkSyncJobThreshold: 2 } as never)
      w1 = await makeWarehouse(deps, { priority: 1 })
      w2 = await makeWarehouse(deps, { priority: 2 })
    })
    afterAll(async () => ts?.drop())

    describe('SKUs as stores write them (item 8)', () => {
      it.each(['TEE 001', 'ABC/123', 'TÉE-ÜBER', '-LEADING', "O'REILLY #2"])('%s: registered, moved, read by path (percent-encoded) and in history', async (sku) => {
        const id = 70_000 + Math.floor(Math.random() * 1_000_000)
        const created = await expectJson(await t.call('POST', 'products', { body: { sku, product_id: id, name: 'T-shirt' } }), 201)
        expect(created.data.sku).toBe(sku)
        await expectJson(await t.call('POST', 'stock/update', { body: { sku, warehouse_id: w1.id, quantity: 4, change_type: 'restock' } }))
        const read = await expectJson(await t.call('GET', `stock/${enc(sku)}`))
        expect(read.data).toMatchObject({ sku, total_stock: 4 })
        expect((await expectJson(await t.call('GET', `products/${enc(sku)}`))).data.sku).toBe(sku)
        const hist = await expectJson(await t.call('GET', `stock/history?sku=${enc(sku)}`))
        expect(hist.data.map((e: { sku: string }) => e.sku)).toEqual([sku])
        const batch = await expectJson(await t.call('GET', `stock?skus=${enc(sku)}`))
        expect(batch.data.map((v: { sku: string }) => v.sku)).toEqual([sku])
      })

      it('trims surrounding spaces; a SKU over 100 characters is refused as too long; invisible characters are refused', async () => {
        await makeProduct(deps, { sku: 'TRIM ME', productId: 69_001 })
        const res = await expectJson(await t.call('POST', 'stock/update', { body: { sku: '  TRIM ME ', warehouse_id: w1.id, quantity: 1, change_type: 'restock' } }))
        expect(res.data.sku).toBe('TRIM ME')
        const long = await expectProblem(await t.call('POST', 'products', { body: { sku: 'É'.repeat(101), product_id: 69_002 } }), 422, 'validation_failed')
        expect(long.errors).toEqual([{ pointer: '/sku', message: expect.stringMatching(/too long/) }])
        const longPath = await expectProblem(await t.call('GET', `stock/${'S'.repeat(101)}`), 422, 'validation_failed')
        expect(longPath.errors?.[0]?.message).toMatch(/too long/)
        await expectProblem(await t.call('POST', 'products', { body: { sku: 'ZERO\u200bWIDTH', product_id: 69_003 } }), 422, 'validation_failed')
        // 100 characters of any script fit.
        await expectJson(await t.call('POST', 'products', { body: { sku: 'É'.repeat(100), product_id: 69_004 } }), 201)
      })
    })

    describe('GET /stock without skus: every level, paged (item 9)', () => {
      const skus = ['LST-A', 'LST-B', 'LST-C', 'LST-D']
      beforeAll(async () => {
        for (const [i, sku] of skus.entries()) {
          await makeProduct(deps, { sku, productId: 80_000 + i, lowStockThreshold: 2 })
          await expectJson(await t.call('POST', 'stock/update', { body: { sku, warehouse_id: w1.id, quantity: i, change_type: 'sync' } }))
          await expectJson(await t.call('POST', 'stock/update', { body: { sku, warehouse_id: w2.id, quantity: 10, change_type: 'restock' } }))
        }
      })
      const listAll = async (query: string) => {
        const out: Array<{ sku: string; warehouse_id: number; available: number }> = []
        let cursor: string | null = null
        for (let pages = 0; pages < 50; pages++) {
          const body: any = await expectJson(await t.call('GET', `stock?${query}&limit=3${cursor ? `&cursor=${cursor}` : ''}`))
          expect(body.data.length).toBeLessThanOrEqual(3)
          expect(body.has_more).toBe(body.next_cursor !== null)
          out.push(...body.data)
          cursor = body.next_cursor
          if (!cursor) return out
        }
        throw new Error('paging did not end')
      }

      it('pages through every level of a prefix in (sku, warehouse) order, each once', async () => {
        const all = await listAll('sku_prefix=LST-')
        expect(all.map((l) => [l.sku, l.warehouse_id])).toEqual(skus.flatMap((s) => [[s, w1.id], [s, w2.id]]))
      })

      it('filters by warehouse, low stock and out of stock', async () => {
        expect((await listAll(`sku_prefix=LST-&warehouse_id=${w2.id}`)).map((l) => l.sku)).toEqual(skus)
        expect((await listAll('sku_prefix=LST-&low_stock=true')).map((l) => [l.sku, l.available])).toEqual([['LST-A', 0], ['LST-B', 1], ['LST-C', 2]])
        expect((await listAll('sku_prefix=LST-&out_of_stock=true')).map((l) => l.sku)).toEqual(['LST-A'])
      })

      it('refuses a foreign cursor, a hexadecimal limit, list filters beside skus, and ?skus=,,,', async () => {
        await expectProblem(await t.call('GET', 'stock?cursor=bm90LWEtY3Vyc29y'), 422, 'validation_failed')
        const hex = await expectProblem(await t.call('GET', 'stock?limit=0x10'), 422, 'validation_failed')
        expect(hex.errors?.[0]).toMatchObject({ pointer: '/limit', message: expect.stringMatching(/decimal/) })
        await expectProblem(await t.call('GET', 'stock?skus=LST-A&low_stock=true'), 422, 'validation_failed')
        await expectProblem(await t.call('GET', 'stock?skus=,,,'), 422, 'validation_failed')
        await expectProblem(await t.call('GET', 'stock?low_stock=yes'), 422, 'validation_failed')
        await expectProblem(await t.call('GET', 'stock?warehouse_id=99999'), 404, 'warehouse_not_found')
      })
    })

    describe('GET /reservations and GET /jobs (item 9)', () => {
      it('lists reservations newest first, filtered by sku, state and reference, paged', async () => {
        const p = await makeProduct(deps, { sku: 'RSV-LIST', productId: 81_000 })
        await expectJson(await t.call('POST', 'stock/update', { body: { sku: p.sku, warehouse_id: w1.id, quantity: 20, change_type: 'restock' } }))
        const ids: string[] = []
        for (let i = 0; i < 5; i++) ids.push((await expectJson(await t.call('POST', 'reservations', { body: { sku: p.sku, quantity: 1, reference_id: `cart-${i}` } }), 201)).data.id)
        await expectJson(await t.call('POST', `reservations/${ids[0]}/release`))
        const first = await expectJson(await t.call('GET', `reservations?sku=${p.sku}&limit=2`))
        expect(first.data.map((r: { id: string }) => r.id)).toEqual([ids[4], ids[3]])
        expect(first.has_more).toBe(true)
        const second = await expectJson(await t.call('GET', `reservations?sku=${p.sku}&limit=2&cursor=${first.next_cursor}`))
        expect(second.data.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]])
        const third = await expectJson(await t.call('GET', `reservations?sku=${p.sku}&limit=2&cursor=${second.next_cursor}`))
        expect(third).toMatchObject({ next_cursor: null, has_more: false })
        expect(third.data.map((r: { id: string }) => r.id)).toEqual([ids[0]])
        expect((await expectJson(await t.call('GET', `reservations?reference=cart-1&state=active`))).data.map((r: { id: string }) => r.id)).toEqual([ids[1]])
        expect((await expectJson(await t.call('GET', `reservations?reference=cart-0&state=active`))).data).toEqual([])
        expect((await expectJson(await t.call('GET', `reservations?state=released&sku=${p.sku}`))).data.map((r: { id: string }) => r.id)).toEqual([ids[0]])
        await expectProblem(await t.call('GET', 'reservations?state=gone'), 422, 'validation_failed')
        await expectProblem(await t.call('GET', 'reservations', { key: null }), 401, 'unauthenticated')
      })

      it('lists jobs newest first, paged, without their per-item results', async () => {
        const p = await makeProduct(deps, { sku: 'JOB-LIST', productId: 82_000 })
        const snap = await snapshot(ts.store.db)
        const jobIds: string[] = []
        for (let i = 0; i < 3; i++) {
          const items = [1, 2, 3].map((q) => ({ sku: p.sku, warehouse_id: w1.id, quantity: q + i }))
          jobIds.push((await expectJson(await t.call('POST', 'stock/bulk-sync', { body: { items } }), 202)).data.id)
        }
        expect((await snapshot(ts.store.db)).ledgerCount).toBe(snap.ledgerCount)
        const page = await expectJson(await t.call('GET', 'jobs?limit=2'))
        expect(page.data.map((j: { id: string }) => j.id)).toEqual([jobIds[2], jobIds[1]])
        expect(page.data[0]).not.toHaveProperty('result')
        expect(page.data[0]).toMatchObject({ type: 'bulk-sync', status: 'queued', total: 3 })
        const rest = await expectJson(await t.call('GET', `jobs?limit=2&cursor=${page.next_cursor}`))
        expect(rest).toMatchObject({ has_more: false, next_cursor: null })
        expect(rest.data.map((j: { id: string }) => j.id)).toEqual([jobIds[0]])
        expect((await expectJson(await t.call('GET', 'jobs?status=done'))).data).toEqual([])
      })
    })
  })
}
