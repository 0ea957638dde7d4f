/**
 * Hot SKU (#4): 64 concurrent writers try 2,000 sales of 1 against stock 1,000 of one SKU in one
 * warehouse, through the service. Exactly 1,000 succeed, the rest are refused with
 * insufficient_stock, on hand ends at 0, and the ledger replays to the level.
 * On PostgreSQL the store has a pool of 16 connections, so 16 transactions really race.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DomainError } from '../../src/domain/errors.js'
import { updateStock } from '../../src/service/stock.js'
import { findLevel } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'

const WRITERS = 64
const ATTEMPTS = 2000
const STOCK = 1000

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: hot SKU`, () => {
    let ts: TestStore
    beforeAll(async () => {
      ts = await createTestStore(db.name) // PostgreSQL: poolSize 16 (test/support/databases.ts)
    })
    afterAll(async () => ts?.drop())

    it(`${WRITERS} writers, ${ATTEMPTS} sales of 1 against ${STOCK}: exactly ${STOCK} succeed`, async () => {
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps)
      const p = await makeProduct(deps, { sku: 'HOT-1' })
      await updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: STOCK, source: 'test', referenceId: null, notes: null }, { actor: 'test' })

      let started = 0
      let sold = 0
      let refused = 0
      const unexpected: unknown[] = []
      const writer = async (w: number) => {
        while (started < ATTEMPTS) {
          started++
          try {
            await updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'sale', quantity: 1, source: 'shop', referenceId: null, notes: null }, { actor: `writer-${w}` })
            sold++
          } catch (e) {
            if (e instanceof DomainError && e.code === 'insufficient_stock') refused++
            else unexpected.push(e)
          }
        }
      }
      const t0 = performance.now()
      await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)))
      const seconds = (performance.now() - t0) / 1000
      console.log(`[hot-sku ${db.name}] ${WRITERS} writers, ${started} attempts: ${sold} sold, ${refused} refused, ${unexpected.length} other errors in ${seconds.toFixed(2)} s`)

      expect(unexpected).toEqual([])
      expect({ attempts: started, sold, refused }).toEqual({ attempts: ATTEMPTS, sold: STOCK, refused: ATTEMPTS - STOCK })
      expect(await findLevel(ts.store.db, p.sku, wh.id)).toMatchObject({ onHand: 0, reserved: 0, version: STOCK + 1 })
      const sales = await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number | string>().as('n')).where('sku', '=', p.sku).where('change_type', '=', 'sale').executeTakeFirstOrThrow()
      expect(Number(sales.n)).toBe(STOCK)
      await expectLevelsMatchLedger(ts.store, [p.sku])
      await expectOneEventPerAppliedMovement(ts.store, [p.sku])
    })
  })
}
