/**
 * Stock reads never answer an older figure than a write already answered, whoever wrote it
 * (http/rendered-answers.ts keeps read answers between writes on SQLite). Each test reads first, so
 * an answer is kept, then writes by one path (this node's API, its services, a second node on its
 * own connection, the CLI in another process), then reads again, single and batch, with and
 * without a warehouse filter.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { z } from '@hono/zod-openapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { forgetWarehouses } from '../../src/service/warehouse-cache.js'
import { envelope, StockSchema } from '../../src/http/schemas.js'
import { openStore, type Store } from '../../src/store/db.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, testApp, testClock, testDeps } from '../support/fixtures.js'
import { API, expectJson, seedCatalog, type Seed } from './support-e2e.js'

const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '../..')
const One = envelope(StockSchema).extend({ timestamp: z.string() })
const Batch = envelope(z.array(StockSchema)).extend({ not_found: z.array(z.string()), timestamp: z.string() })

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: stock reads after writes`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let s: Seed
    let t: Awaited<ReturnType<typeof testApp>>
    // A second node: its own connection to the same database, its own app.
    let otherStore: Store
    let other: Awaited<ReturnType<typeof testApp>>
    let otherDeps: ServiceDeps
    let n = 0

    const ctx = { actor: 'test' }
    async function onHand(app: typeof t, sku: string, warehouseId?: number): Promise<number> {
      const q = warehouseId === undefined ? '' : `?warehouse_id=${warehouseId}`
      return One.parse(await expectJson(await app.call('GET', `stock/${sku}${q}`, { key: app.keys.read }))).data.total_stock
    }
    async function batchOnHand(app: typeof t, skus: string[], warehouseId?: number): Promise<Record<string, number>> {
      const q = warehouseId === undefined ? '' : `&warehouse_id=${warehouseId}`
      const body = Batch.parse(await expectJson(await app.call('GET', `stock?skus=${skus.join(',')}${q}`, { key: app.keys.read })))
      return Object.fromEntries([...body.data.map((d) => [d.sku, d.total_stock] as const), ...body.not_found.map((sku) => [sku, -1] as const)])
    }
    /** A fresh SKU with 10 in w1 and 5 in w2, read once (single, batch, each filter) so its answers are kept. */
    async function readSku(): Promise<string> {
      const p = await makeProduct(deps, { sku: `F-${++n}`, productId: 40_000 + n })
      await updateStock(deps, { sku: p.sku, warehouseId: s.w1.id, changeType: 'restock', quantity: 10, source: 'test', referenceId: null, notes: null }, ctx)
      await updateStock(deps, { sku: p.sku, warehouseId: s.w2.id, changeType: 'restock', quantity: 5, source: 'test', referenceId: null, notes: null }, ctx)
      expect(await onHand(t, p.sku)).toBe(15)
      expect(await onHand(t, p.sku, s.w1.id)).toBe(10)
      expect(await batchOnHand(t, [p.sku, s.mug.sku])).toEqual({ [p.sku]: 15, [s.mug.sku]: 3 })
      expect(await batchOnHand(t, [p.sku], s.w1.id)).toEqual({ [p.sku]: 10 })
      return p.sku
    }
    /** Read twice: the first loads the warehouse list, the second keeps answers built from it. */
    async function readAgain(sku: string): Promise<void> {
      for (let i = 0; i < 2; i++) {
        expect(await onHand(t, sku)).toBe(15)
        expect(await onHand(t, sku, s.w1.id)).toBe(10)
        expect(await batchOnHand(t, [sku, s.mug.sku])).toEqual({ [sku]: 15, [s.mug.sku]: 3 })
        expect(await batchOnHand(t, [sku], s.w1.id)).toEqual({ [sku]: 10 })
      }
    }
    async function expectOnHand(sku: string, all: number, inW1: number): Promise<void> {
      expect(await onHand(t, sku)).toBe(all)
      expect(await onHand(t, sku, s.w1.id)).toBe(inW1)
      expect(await batchOnHand(t, [sku, s.mug.sku])).toEqual({ [sku]: all, [s.mug.sku]: 3 })
      expect(await batchOnHand(t, [sku], s.w1.id)).toEqual({ [sku]: inW1 })
    }

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock())
      s = await seedCatalog(deps, 'F')
      t = await testApp(deps)
      otherStore = openStore(ts.url)
      otherDeps = testDeps(otherStore, testClock())
      other = await testApp(otherDeps)
    })
    afterAll(async () => {
      await otherStore?.close()
      await ts?.drop()
    })

    it('a sale through this node\'s API shows in the next read', async () => {
      const sku = await readSku()
      await expectJson(await t.call('POST', 'stock/update', { key: t.keys.write, body: { sku, warehouse_id: s.w1.id, change_type: 'sale', quantity: 4 } }))
      await expectOnHand(sku, 11, 6)
    })

    it('a movement through this node\'s services (not HTTP) shows in the next read', async () => {
      const sku = await readSku()
      await updateStock(deps, { sku, warehouseId: s.w1.id, changeType: 'sale', quantity: 1, source: 'test', referenceId: null, notes: null }, ctx)
      await expectOnHand(sku, 14, 9)
    })

    it('a sale through another node on its own connection shows in the next read here', async () => {
      const sku = await readSku()
      await expectJson(await other.call('POST', 'stock/update', { key: other.keys.write, body: { sku, warehouse_id: s.w1.id, change_type: 'sale', quantity: 3 } }))
      await expectOnHand(sku, 12, 7)
    })

    it('a count imported by the CLI in another process shows in the next read here', async () => {
      const sku = await readSku()
      // The warehouse list loaded afresh outside a transaction, so it (and the kept answers) can
      // outlive the CLI's start-up: only the change stamp can tell that the CLI wrote.
      forgetWarehouses(deps)
      await readAgain(sku)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fresh-'))
      try {
        const file = path.join(dir, 'counts.csv')
        fs.writeFileSync(file, `sku,warehouse_code,quantity\n${sku},${s.w1.code},2\n`)
        await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'import', 'counts', file], { cwd: ROOT, env: { ...process.env, DATABASE_URL: ts.url, LOG_LEVEL: 'warn' }, timeout: 60_000 })
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
      await expectOnHand(sku, 7, 2)
    }, 90_000)

    it('a transfer, a reservation and a bulk count through the API show in the next read', async () => {
      const sku = await readSku()
      await expectJson(await t.call('POST', 'stock/transfer', { key: t.keys.write, body: { sku, from_warehouse_id: s.w2.id, to_warehouse_id: s.w1.id, quantity: 5 } }))
      await expectOnHand(sku, 15, 15)
      await expectJson(await t.call('POST', 'stock/bulk-sync', { key: t.keys.write, body: { items: [{ sku, warehouse_id: s.w1.id, quantity: 8 }] } }))
      await expectOnHand(sku, 8, 8)
      await expectJson(await t.call('POST', 'reservations', { key: t.keys.write, body: { sku, warehouse_id: s.w1.id, quantity: 2 } }), 201)
      const body = One.parse(await expectJson(await t.call('GET', `stock/${sku}`, { key: t.keys.read })))
      expect([body.data.total_stock, body.data.total_reserved, body.data.total_available]).toEqual([8, 2, 6])
    })

    it('a product made after a batch read answered not_found is found by the next one', async () => {
      const sku = `F-NEW-${++n}`
      expect(await batchOnHand(t, [sku, s.mug.sku])).toEqual({ [sku]: -1, [s.mug.sku]: 3 })
      await makeProduct(otherDeps, { sku, productId: 41_000 + n })
      expect(await batchOnHand(t, [sku, s.mug.sku])).toEqual({ [sku]: 0, [s.mug.sku]: 3 })
    })

    it('a product\'s own fields changed on another node show in the next read here', async () => {
      const sku = await readSku()
      const before = One.parse(await expectJson(await t.call('GET', `stock/${sku}`, { key: t.keys.read }))).data
      expect(before.backorders).toBe(false)
      await expectJson(await other.call('PATCH', `products/${sku}`, { key: other.keys.admin, body: { backorders: true } }))
      expect(One.parse(await expectJson(await t.call('GET', `stock/${sku}`, { key: t.keys.read }))).data.backorders).toBe(true)
    })

    it('reads racing writes: once both are answered, the next read shows every write', async () => {
      const sku = await readSku()
      let expected = 15
      for (let i = 0; i < 20; i++) {
        const sale = t.call('POST', 'stock/update', { key: t.keys.write, body: { sku, warehouse_id: s.w1.id, change_type: i % 2 === 0 ? 'sale' : 'restock', quantity: 1 } })
        const racing = [onHand(t, sku), batchOnHand(t, [sku])]
        await expectJson(await sale)
        await Promise.all(racing)
        expected += i % 2 === 0 ? -1 : 1
        expect(await onHand(t, sku)).toBe(expected)
        expect((await batchOnHand(t, [sku]))[sku]).toBe(expected)
      }
    })
  })
}
