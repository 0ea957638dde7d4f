/**
 * Property: for any sequence of movements, every stored level equals the replay of its ledger,
 * the database agrees with the pure rules (same outcome, same refusals), and no sale or
 * reservation drives available below zero for a SKU without backorders.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DomainError } from '../../src/domain/errors.js'
import { applyMovement, type Movement } from '../../src/domain/movement.js'
import { availableOf } from '../../src/domain/stock-level.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { transferStock } from '../../src/service/transfer.js'
import { commitReservation, createReservation, releaseReservation } from '../../src/service/reservations.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'

type Cmd =
  | { t: 'update'; sku: number; wh: number; type: 'sale' | 'restock' | 'adjustment' | 'sync'; q: number; age: number }
  | { t: 'transfer'; sku: number; from: number; to: number; q: number }
  | { t: 'reserve'; sku: number; wh: number; q: number }
  | { t: 'close'; which: number; commit: boolean }

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ t: fc.constant('update' as const), sku: fc.nat(2), wh: fc.nat(1), type: fc.constantFrom('sale' as const, 'restock' as const, 'adjustment' as const, 'sync' as const), q: fc.integer({ min: 0, max: 30 }), age: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ t: fc.constant('transfer' as const), sku: fc.nat(2), from: fc.nat(1), to: fc.nat(1), q: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ t: fc.constant('reserve' as const), sku: fc.nat(2), wh: fc.nat(1), q: fc.integer({ min: 1, max: 15 }) }),
  fc.record({ t: fc.constant('close' as const), which: fc.nat(20), commit: fc.boolean() }),
)

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: ledger invariants (property)`, () => {
    let ts: TestStore
    beforeAll(async () => {
      ts = await createTestStore(db.name)
    })
    afterAll(async () => ts?.drop())

    it('keeps every level equal to its ledger replay and in agreement with the pure rules', async () => {
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 25 }), fc.boolean(), async (cmds, backorders) => {
          run++
          const clock = testClock()
          const deps: ServiceDeps = testDeps(ts.store, clock)
          const whs = [await makeWarehouse(deps), await makeWarehouse(deps)]
          const products = await Promise.all([0, 1, 2].map((i) => makeProduct(deps, { sku: `P${run}-${i}`, allowsBackorders: backorders && i === 0, safetyStock: i === 2 ? 2 : 0 })))
          const skus = products.map((p) => p.sku)
          const reservations: string[] = []
          const ctx = { actor: 'test' }
          for (const c of cmds) {
            clock.advance(1000)
            const before = await findLevelsBySkus(ts.store.db, skus)
            const levelOf = (sku: string, wh: number) => before.find((l) => l.sku === sku && l.warehouseId === wh) ?? { sku, warehouseId: wh, onHand: 0, reserved: 0, safetyStock: products.find((p) => p.sku === sku)!.safetyStock, lastCountedAt: null }
            try {
              if (c.t === 'update') {
                const p = products[c.sku]!
                const q = c.type === 'sale' || c.type === 'restock' ? Math.max(1, c.q) : c.q
                const observedAt = clock.now() + c.age * 1500
                const expected = (() => {
                  const m: Movement = c.type === 'sync' ? { kind: 'sync', count: q, observedAt } : c.type === 'adjustment' ? { kind: 'adjustment', count: q } : { kind: c.type, quantity: q }
                  try {
                    return applyMovement(levelOf(p.sku, whs[c.wh]!.id), m, { allowsBackorders: p.allowsBackorders })
                  } catch (e) {
                    return (e as DomainError).code
                  }
                })()
                try {
                  const r = await updateStock(deps, { sku: p.sku, warehouseId: whs[c.wh]!.id, changeType: c.type, quantity: q, source: 'prop', referenceId: null, notes: null, observedAt: c.type === 'sync' ? observedAt : undefined }, ctx)
                  expect(typeof expected).toBe('object')
                  if (typeof expected === 'object') {
                    expect(r.value.entry.status).toBe(expected.status)
                    expect({ onHand: r.value.level.onHand, reserved: r.value.level.reserved }).toEqual(expected.after)
                  }
                } catch (e) {
                  if (!(e instanceof DomainError)) throw e
                  expect(e.code).toBe(expected)
                }
              } else if (c.t === 'transfer') {
                await transferStock(deps, { sku: skus[c.sku]!, fromWarehouseId: whs[c.from]!.id, toWarehouseId: whs[c.to]!.id, quantity: c.q, source: 'prop', referenceId: null, notes: null }, ctx)
              } else if (c.t === 'reserve') {
                const r = await createReservation(deps, { sku: skus[c.sku]!, quantity: c.q, warehouseId: c.wh === 1 ? undefined : whs[0]!.id, source: 'prop', referenceId: null, notes: null }, ctx)
                reservations.push(r.value.reservation.id)
              } else if (reservations.length > 0) {
                const id = reservations[c.which % reservations.length]!
                await (c.commit ? commitReservation(deps, id, ctx) : releaseReservation(deps, id, ctx))
              }
            } catch (e) {
              if (!(e instanceof DomainError)) throw e
              expect(['insufficient_stock', 'same_warehouse', 'reservation_not_active']).toContain(e.code)
            }
            await expectLevelsMatchLedger(ts.store, skus)
            for (const l of await findLevelsBySkus(ts.store.db, skus)) {
              expect(l.reserved).toBeGreaterThanOrEqual(0)
              const p = products.find((x) => x.sku === l.sku)!
              // Only an absolute count may reveal fewer units than are held. Sales, holds and
              // transfers never push available below zero, nor below where it already was (a new
              // level starts at −safety stock, which is not an oversell).
              if (!p.allowsBackorders && (c.t !== 'update' || c.type === 'sale' || c.type === 'restock')) {
                const was = before.find((b) => b.sku === l.sku && b.warehouseId === l.warehouseId)
                const wasAvailable = was ? availableOf(was) : -p.safetyStock
                expect(availableOf(l)).toBeGreaterThanOrEqual(Math.min(0, wasAvailable))
              }
            }
          }
          await expectOneEventPerAppliedMovement(ts.store, skus)
        }),
        { numRuns: db.name === 'sqlite' ? 60 : 25 },
      )
    })
  })
}
