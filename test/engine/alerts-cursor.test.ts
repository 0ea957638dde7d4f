/**
 * The alert evaluator's cursor (#15): a page that crosses nothing is judged without writing, and
 * on SQLite its cursor moves in memory only, written back as a checkpoint. A crash (the process
 * gone without a checkpoint) replays those events: nothing is raised twice, and crossings after
 * the replay are still seen once.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { checkpointAlertCursor, evaluateAlerts, type AlertSettings } from '../../src/service/alerts.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { openStore, type Store } from '../../src/store/db.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'

// A checkpoint interval no test reaches: the cursor reaches the database only when a test says so.
const SETTINGS: AlertSettings = { hysteresis: 0, pageSize: 500, checkpointMs: 3_600_000 }

async function evaluateAll(deps: ServiceDeps) {
  let raised = 0
  let events = 0
  for (;;) {
    const r = await evaluateAlerts(deps, SETTINGS)
    raised += r.raised.length
    events += r.events
    if (r.events === 0 && !r.more) return { raised, events }
  }
}

const persistedCursor = async (deps: ServiceDeps) => Number((await deps.store.db.selectFrom('alert_cursor').select('seq').executeTakeFirstOrThrow()).seq)
const lastStockEvent = async (deps: ServiceDeps) => Number((await deps.store.db.selectFrom('outbox_event').select((eb) => eb.fn.max('seq').as('m')).where('type', '=', 'stock.changed').executeTakeFirstOrThrow()).m)

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: the alert evaluator's cursor`, () => {
    let ts: TestStore
    afterEach(async () => {
      await ts?.drop()
    })

    it('evaluates each crossing once across pages that cross nothing, a crash and a restart', async () => {
      ts = await createTestStore(db.name)
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps, { code: 'CUR-W' })
      const p = await makeProduct(deps, { sku: 'CUR-1', lowStockThreshold: 10 })
      const move = (changeType: 'sale' | 'restock', quantity: number, d = deps) => updateStock(d, { sku: p.sku, warehouseId: wh.id, changeType, quantity, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
      await move('restock', 100)
      // The first sight of the figures records them as ok (they rose from 0): a write.
      expect(await evaluateAll(deps)).toEqual({ raised: 0, events: 1 })
      const start = await persistedCursor(deps)
      expect(start).toBe(await lastStockEvent(deps))
      for (let i = 0; i < 20; i++) await move('sale', 1) // 80: far above the threshold
      expect(await evaluateAll(deps)).toEqual({ raised: 0, events: 20 })
      if (db.name === 'sqlite') {
        // Nothing crossed: judged without a write, the cursor moved in memory only.
        expect(await persistedCursor(deps)).toBe(start)
        await checkpointAlertCursor(deps)
      }
      expect(await persistedCursor(deps)).toBe(await lastStockEvent(deps))

      await move('sale', 75) // 5: low
      expect((await evaluateAll(deps)).raised).toBe(2) // the level and the total
      // A crossing is written with the cursor, in one transaction.
      expect(await persistedCursor(deps)).toBe(await lastStockEvent(deps))
      await move('sale', 1) // still low: nothing new
      await move('restock', 1)
      expect((await evaluateAll(deps)).raised).toBe(0)

      // The process dies without a checkpoint; a new one opens the same database.
      const other = db.name === 'sqlite' ? openStore(ts.url) : ts.store
      const restarted = testDeps(other)
      try {
        // The replayed events raise nothing a second time.
        expect((await evaluateAll(restarted)).raised).toBe(0)
        await move('restock', 50, restarted) // 55: back in stock, once per figure
        expect((await evaluateAll(restarted)).raised).toBe(2)
        await move('sale', 50, restarted) // 5: low again, after the recovery re-armed it
        expect((await evaluateAll(restarted)).raised).toBe(2)
        const alerts = await other.db.selectFrom('alert').select(['kind', 'scope']).where('sku', '=', p.sku).orderBy('raised_at').orderBy('id').execute()
        expect(alerts.map((a) => `${a.scope}:${a.kind}`).sort()).toEqual(['level:back_in_stock', 'level:low_stock', 'level:low_stock', 'total:back_in_stock', 'total:low_stock', 'total:low_stock'])
      } finally {
        if (other !== ts.store) await other.close()
      }
    })

    it('a checkpoint does not move a cursor another process moved meanwhile (SQLite)', async () => {
      ts = await createTestStore(db.name)
      if (db.name !== 'sqlite') return
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps, { code: 'CUR-W2' })
      const p = await makeProduct(deps, { sku: 'CUR-2', lowStockThreshold: 10 })
      const move = (changeType: 'sale' | 'restock', quantity: number, d: ServiceDeps) => updateStock(d, { sku: p.sku, warehouseId: wh.id, changeType, quantity, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
      await move('restock', 100, deps)
      await evaluateAll(deps) // in memory only
      const other = openStore(ts.url)
      try {
        const second = testDeps(other)
        await move('sale', 95, second) // 5: low
        expect((await evaluateAll(second)).raised).toBe(2) // the second process evaluated it and wrote its cursor
        await checkpointAlertCursor(deps) // the first process's older position does not overwrite it
        expect(await persistedCursor(deps)).toBe(await lastStockEvent(deps))
        // and the first process, resuming from the database, raises nothing twice
        expect((await evaluateAll(deps)).raised).toBe(0)
      } finally {
        await other.close()
      }
    })

    it('a page judged before the lock is judged again when another process moved the cursor meanwhile (SQLite)', async () => {
      ts = await createTestStore(db.name)
      if (db.name !== 'sqlite') return
      // The first process's store runs the second process's evaluation just before its next
      // transaction: between its page judged without the lock and the lock.
      let beforeNextTransaction: (() => Promise<void>) | null = null
      const store = ts.store
      const hooked: Store = {
        ...store,
        transact: async (work) => {
          const run = beforeNextTransaction
          beforeNextTransaction = null
          await run?.()
          return store.transact(work)
        },
      }
      const deps = testDeps(hooked)
      const wh = await makeWarehouse(deps, { code: 'CUR-W3' })
      const p = await makeProduct(deps, { sku: 'CUR-3', lowStockThreshold: 10 })
      await updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 100, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
      expect((await evaluateAll(deps)).raised).toBe(0)
      await updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'sale', quantity: 95, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
      const other = openStore(ts.url)
      try {
        let second = -1
        beforeNextTransaction = async () => {
          second = (await evaluateAll(testDeps(other))).raised
        }
        // The first process judges the crossing, the second raises it, the first raises nothing.
        expect((await evaluateAll(deps)).raised).toBe(0)
        expect(second).toBe(2)
        const alerts = await store.db.selectFrom('alert').select('id').where('sku', '=', p.sku).execute()
        expect(alerts).toHaveLength(2)
      } finally {
        await other.close()
      }
    })
  })
}
