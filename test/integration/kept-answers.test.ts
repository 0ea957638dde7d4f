/**
 * The rules of service/kept-answers.ts, step by step on a real store: a read that raced a write
 * keeps nothing; a write to a SKU drops only that SKU's texts; a warehouse write drops all.
 * PostgreSQL keeps nothing at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { KeptAnswers } from '../../src/service/kept-answers.js'
import { updateWarehouse } from '../../src/service/catalog.js'
import { getStock, updateStock } from '../../src/service/stock.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps } from '../support/fixtures.js'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: kept stock answers`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let w: Warehouse
    let n = 0
    const ctx = { actor: 'test' }
    const sale = (sku: string) => updateStock(deps, { sku, warehouseId: w.id, changeType: 'sale', quantity: 1, source: 'test', referenceId: null, notes: null }, ctx)

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, testClock())
      w = await makeWarehouse(deps)
    })
    afterAll(async () => ts?.drop())

    async function stocked(): Promise<string> {
      const p = await makeProduct(deps, { sku: `K-${++n}`, productId: 50_000 + n })
      await updateStock(deps, { sku: p.sku, warehouseId: w.id, changeType: 'restock', quantity: 10, source: 'test', referenceId: null, notes: null }, ctx)
      return p.sku
    }
    /** Read and keep as the routes do; the text is the on-hand figure. */
    async function readAndKeep(answers: KeptAnswers, sku: string): Promise<number | null> {
      const mark = answers.begin()
      const text = String((await getStock(deps, sku)).totals.onHand)
      if (mark !== null) answers.keep(mark, sku, undefined, text)
      return mark
    }
    // The warehouse list is loaded by the first read; a second begin() then has a generation.
    async function warmed(): Promise<KeptAnswers> {
      const answers = new KeptAnswers(deps)
      await getStock(deps, await stocked())
      return answers
    }

    it.runIf(db.name === 'postgres')('keeps nothing on PostgreSQL, where other nodes are heard of only later', async () => {
      const answers = await warmed()
      expect(answers.begin()).toBeNull()
    })

    it.runIf(db.name === 'sqlite')('gives a kept text again until its SKU is written; other SKUs keep theirs', async () => {
      const answers = await warmed()
      const [a, b] = [await stocked(), await stocked()]
      expect(await readAndKeep(answers, a)).not.toBeNull()
      await readAndKeep(answers, b)
      answers.begin()
      expect([answers.get(a, undefined), answers.get(b, undefined)]).toEqual(['10', '10'])
      await sale(a)
      answers.begin()
      expect([answers.get(a, undefined), answers.get(b, undefined)]).toEqual([undefined, '10'])
    })

    it.runIf(db.name === 'sqlite')('a read that began before a write of its SKU keeps nothing, even if it read before the write', async () => {
      const answers = await warmed()
      const sku = await stocked()
      const mark = answers.begin()!
      const before = String((await getStock(deps, sku)).totals.onHand)
      await sale(sku)
      answers.keep(mark, sku, undefined, before)
      answers.begin()
      expect(answers.get(sku, undefined)).toBeUndefined()
    })

    it.runIf(db.name === 'sqlite')('a warehouse written through this node drops every kept text', async () => {
      const answers = await warmed()
      const sku = await stocked()
      await readAndKeep(answers, sku)
      answers.begin()
      expect(answers.get(sku, undefined)).toBe('10')
      await updateWarehouse(deps, w.id, { name: `renamed ${n}` })
      answers.begin()
      expect(answers.get(sku, undefined)).toBeUndefined()
    })
  })
}
