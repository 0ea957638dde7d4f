/**
 * Periodic work on several nodes (#4): two expiry sweepers, each with its own connection pool as
 * two nodes would have, run at once over the same expired reservations while clients release
 * some of them too. Closing is conditional (status = 'active'), so each reservation is released
 * exactly once: one release row per reservation in the ledger, reserved back to zero.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DomainError } from '../../src/domain/errors.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { createReservation, expireReservations, releaseReservation } from '../../src/service/reservations.js'
import { updateStock } from '../../src/service/stock.js'
import { openStore, type Store } from '../../src/store/db.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'

const pgDb = DATABASES.find((d) => d.name === 'postgres')
const RESERVATIONS = 240

describe.skipIf(!pgDb || pgDb.skipReason !== null)('postgres: expiry sweepers on two nodes at once', () => {
  let ts: TestStore
  let second: Store
  beforeAll(async () => {
    ts = await createTestStore('postgres')
    second = openStore(ts.url, { poolSize: 8 })
  })
  afterAll(async () => {
    await second?.close()
    await ts?.drop()
  })

  it(`releases each of ${RESERVATIONS} expired reservations exactly once`, async () => {
    const clock = testClock()
    const nodeA: ServiceDeps = testDeps(ts.store, clock)
    const nodeB: ServiceDeps = testDeps(second, clock)
    const whs = [await makeWarehouse(nodeA), await makeWarehouse(nodeA)]
    const products = [await makeProduct(nodeA), await makeProduct(nodeA), await makeProduct(nodeA), await makeProduct(nodeA)]
    const skus = products.map((p) => p.sku)
    for (const p of products) for (const w of whs) await updateStock(nodeA, { sku: p.sku, warehouseId: w.id, changeType: 'restock', quantity: 500, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
    const ids: string[] = []
    for (let i = 0; i < RESERVATIONS; i++) {
      const r = await createReservation(nodeA, { sku: skus[i % skus.length]!, quantity: 1 + (i % 3), warehouseId: whs[i % 2]!.id, ttlSeconds: 60, source: 'shop', referenceId: null, notes: null }, { actor: 'shop' })
      ids.push(r.value.reservation.id)
    }
    clock.advance(120_000) // every reservation is now past its expiry

    let released = 0
    let alreadyClosed = 0
    const clientReleases = ids.filter((_, i) => i % 6 === 0).map((id, i) =>
      releaseReservation(i % 2 === 0 ? nodeA : nodeB, id, { actor: 'shop' }).then(
        () => released++,
        (e: unknown) => {
          // The sweeper got there first: 409 reservation_expired (or not_active if it was mid-close).
          if (!(e instanceof DomainError && (e.code === 'reservation_not_active' || e.code === 'reservation_expired'))) throw e
          alreadyClosed++
        },
      ),
    )
    // Each node sweeps as server.ts does: a sweep that fails is logged there and run again on the
    // next tick; here it runs again at once, until a sweep reaches the end of the due list.
    const aborted: string[] = []
    const sweepUntilDone = async (node: ServiceDeps) => {
      for (;;) {
        try {
          return await expireReservations(node, 25)
        } catch (e) {
          // Known defect, reported (src/service/reservations.ts is not ours to edit): when the other
          // node expired a reservation between this sweep listing it and closing it, closeWithLedger
          // throws reservation_expired, which expireReservations does not treat as "someone got
          // there first" (it only skips reservation_not_active), so the whole sweep aborts.
          if (!(e instanceof DomainError && e.code === 'reservation_expired')) throw e
          aborted.push(e.code)
        }
      }
    }
    await Promise.all([sweepUntilDone(nodeA), sweepUntilDone(nodeB), ...clientReleases])
    console.log(`[sweepers] clients released ${released} (${alreadyClosed} found it closed); sweeps aborted by the reservation_expired race: ${aborted.length}`)

    const statuses = await ts.store.db.selectFrom('reservation').select(['status', (eb) => eb.fn.countAll<number | string>().as('n')]).groupBy('status').execute()
    expect(Object.fromEntries(statuses.map((s) => [s.status, Number(s.n)]))).toEqual({ expired: RESERVATIONS - released, released })
    const releases = await ts.store.db
      .selectFrom('ledger_entry')
      .select(['reservation_id', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('change_type', '=', 'release')
      .groupBy('reservation_id')
      .execute()
    expect(releases).toHaveLength(RESERVATIONS)
    expect(releases.filter((r) => Number(r.n) !== 1)).toEqual([])
    expect(new Set(releases.map((r) => r.reservation_id))).toEqual(new Set(ids))
    for (const l of await findLevelsBySkus(ts.store.db, skus)) expect({ sku: l.sku, wh: l.warehouseId, reserved: l.reserved, onHand: l.onHand }).toEqual({ sku: l.sku, wh: l.warehouseId, reserved: 0, onHand: 500 })
    await expectLevelsMatchLedger(ts.store, skus)
    await expectOneEventPerAppliedMovement(ts.store, skus)
  })
})
