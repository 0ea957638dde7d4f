/**
 * Property: a bulk sync (set-based: a handful of statements for the whole batch, rows bound as
 * VALUES chunks on SQLite, a JSON rowset on PostgreSQL) leaves exactly what the same counts leave
 * when applied one by one through the single-movement path (POST /stock/update's writeAbsolute),
 * in the order the bulk writer applies them (level lock order, then request order): the same
 * outcome per item, the same levels, the same ledger of each level and the same stock.changed
 * events, with the same versions and totals.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DomainError } from '../../src/domain/errors.js'
import { bulkSync, type BulkItemOutcome } from '../../src/service/bulk-sync.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { listLevelEntries } from '../../src/store/ledger-repo.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'

interface Item {
  /** Index into the run's SKUs; SKU_COUNT means a SKU nobody registered. */
  readonly sku: number
  /** Index into the run's warehouses; WH_COUNT means a warehouse that does not exist. */
  readonly wh: number
  readonly quantity: number
}

const SKU_COUNT = 4
const WH_COUNT = 3

const item: fc.Arbitrary<Item> = fc.record({
  sku: fc.nat(SKU_COUNT),
  wh: fc.nat(WH_COUNT),
  // Repeats of small figures make unchanged counts common; negatives exercise backorders.
  quantity: fc.oneof(fc.integer({ min: -3, max: 4 }), fc.integer({ min: -1000, max: 100_000 })),
})

/** A round: items sent together, observed `age` seconds from now (negative: before earlier rounds' counts, so stale). */
const round = fc.record({ items: fc.array(item, { minLength: 1, maxLength: 30 }), age: fc.integer({ min: -2, max: 2 }) })

type Side = { deps: ServiceDeps; skus: string[]; whIds: number[] }

function statusOf(o: BulkItemOutcome): string {
  return o.status === 'rejected' ? `rejected:${o.code}` : `${o.status}:${o.previous}->${o.current}`
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: bulk sync equals the same counts one by one (property)`, () => {
    let ts: TestStore
    beforeAll(async () => {
      ts = await createTestStore(db.name)
    })
    afterAll(async () => ts?.drop())

    it('gives the same outcomes, levels, ledger and events as single sync movements', async () => {
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.array(round, { minLength: 1, maxLength: 4 }), fc.boolean(), async (rounds, backorders) => {
          run++
          const clock = testClock()
          const ctx = { actor: 'test' }
          const make = async (side: string): Promise<Side> => {
            const deps = testDeps(ts.store, clock)
            const whIds: number[] = []
            for (let w = 0; w < WH_COUNT; w++) whIds.push((await makeWarehouse(deps)).id)
            const skus: string[] = []
            for (let i = 0; i < SKU_COUNT; i++) {
              const p = await makeProduct(deps, { sku: `EQ${run}-${side}-${i}`, allowsBackorders: backorders && i % 2 === 0, safetyStock: i === 3 ? 2 : 0 })
              skus.push(p.sku)
            }
            return { deps, skus, whIds }
          }
          const bulk = await make('B')
          const single = await make('S')
          const skuOf = (s: Side, i: number) => (i < SKU_COUNT ? s.skus[i]! : `EQ${run}-unknown`)
          const whOf = (s: Side, i: number) => (i < WH_COUNT ? s.whIds[i]! : 999_999)

          for (const r of rounds) {
            clock.advance(5000)
            const observedAt = clock.now() + r.age * 3000
            const got = await bulkSync(bulk.deps, { items: r.items.map((it) => ({ sku: skuOf(bulk, it.sku), warehouse_id: whOf(bulk, it.wh), quantity: it.quantity })), source: 'eq', referenceId: null, observedAt }, ctx)
            // The bulk writer's order: by SKU, then warehouse id (ids ascend with w), then request order.
            const order = r.items.map((it, index) => ({ it, index })).sort((a, b) => (skuOf(single, a.it.sku) < skuOf(single, b.it.sku) ? -1 : skuOf(single, a.it.sku) > skuOf(single, b.it.sku) ? 1 : a.it.wh - b.it.wh || a.index - b.index))
            const expected: string[] = new Array(r.items.length)
            for (const { it, index } of order) {
              // A negative count only for a SKU that takes backorders: the single route's body refuses
              // every negative count before the service sees it, bulk sync refuses it per item.
              if (it.sku < SKU_COUNT && it.quantity < 0 && !(backorders && it.sku % 2 === 0)) {
                expected[index] = 'rejected:validation_failed'
                continue
              }
              try {
                const w = await updateStock(single.deps, { sku: skuOf(single, it.sku), warehouseId: whOf(single, it.wh), changeType: 'sync', quantity: it.quantity, source: 'eq', referenceId: null, notes: null, observedAt }, ctx)
                expected[index] = `${w.value.entry.status}:${w.value.entry.onHandBefore}->${w.value.entry.onHandAfter}`
              } catch (e) {
                if (!(e instanceof DomainError)) throw e
                expected[index] = `rejected:${e.code}`
              }
            }
            expect(got.value.items.map(statusOf)).toEqual(expected)
            expect(got.value.applied + got.value.unchanged + got.value.stale + got.value.rejected).toBe(r.items.length)
          }

          // Levels, each level's ledger and the events, side by side (ids and names aside).
          const levelsOf = async (s: Side) =>
            (await findLevelsBySkus(ts.store.db, s.skus)).map((l) => ({ sku: s.skus.indexOf(l.sku), wh: s.whIds.indexOf(l.warehouseId), onHand: l.onHand, reserved: l.reserved, version: l.version, lastCountedAt: l.lastCountedAt }))
          expect(await levelsOf(bulk)).toEqual(await levelsOf(single))
          const ledgerOf = async (s: Side) => {
            const out: unknown[] = []
            for (const [i, sku] of s.skus.entries()) {
              for (const [w, wh] of s.whIds.entries()) {
                for (const e of await listLevelEntries(ts.store.db, sku, wh)) out.push({ i, w, status: e.status, quantity: e.quantity, before: e.onHandBefore, after: e.onHandAfter, version: e.levelVersion, observedAt: e.observedAt })
              }
            }
            return out
          }
          expect(await ledgerOf(bulk)).toEqual(await ledgerOf(single))
          const eventsOf = async (s: Side) => {
            const rows = await ts.store.db.selectFrom('outbox_event').select(['sku', 'warehouse_id', 'sku_version', 'payload']).where('sku', 'in', s.skus).orderBy('seq').execute()
            return rows.map((r) => {
              const d = JSON.parse(r.payload) as Record<string, unknown>
              return { i: s.skus.indexOf(r.sku), w: s.whIds.indexOf(Number(r.warehouse_id)), version: Number(r.sku_version), data: { ...d, sku: undefined, product_id: undefined, warehouse_id: undefined, movement_id: undefined } }
            })
          }
          expect(await eventsOf(bulk)).toEqual(await eventsOf(single))
          await expectLevelsMatchLedger(ts.store, bulk.skus)
          await expectOneEventPerAppliedMovement(ts.store, bulk.skus)
        }),
        { numRuns: db.name === 'sqlite' ? 40 : 15 },
      )
    })
  })
}
