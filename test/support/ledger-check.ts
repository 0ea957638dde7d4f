/** Assertions that the stored levels are exactly what their ledger replays to. */
import { expect } from 'vitest'
import { replayLedger } from '../../src/domain/ledger.js'
import type { Store } from '../../src/store/db.js'
import { listLevelEntries } from '../../src/store/ledger-repo.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'

export async function expectLevelsMatchLedger(store: Store, skus: ReadonlyArray<string>): Promise<void> {
  for (const level of await findLevelsBySkus(store.db, skus)) {
    const replay = replayLedger(await listLevelEntries(store.db, level.sku, level.warehouseId))
    expect({ sku: level.sku, wh: level.warehouseId, onHand: replay.onHand, reserved: replay.reserved, version: replay.version, breaks: replay.breaks }).toEqual({
      sku: level.sku,
      wh: level.warehouseId,
      onHand: level.onHand,
      reserved: level.reserved,
      version: level.version,
      breaks: [],
    })
  }
}

/** Transactional outbox: each applied movement has exactly one event, a stale one none. */
export async function expectOneEventPerAppliedMovement(store: Store, skus: ReadonlyArray<string>): Promise<void> {
  const entries = await store.db.selectFrom('ledger_entry').select(['id', 'status']).where('sku', 'in', [...skus]).execute()
  const events = await store.db.selectFrom('outbox_event').select(['payload']).where('sku', 'in', [...skus]).execute()
  const byMovement = new Map<number, number>()
  for (const e of events) {
    const id = (JSON.parse(e.payload) as { movement_id: number }).movement_id
    byMovement.set(id, (byMovement.get(id) ?? 0) + 1)
  }
  for (const e of entries) expect({ movement: Number(e.id), events: byMovement.get(Number(e.id)) ?? 0 }).toEqual({ movement: Number(e.id), events: e.status === 'applied' ? 1 : 0 })
  expect(events.length).toBe(entries.filter((e) => e.status === 'applied').length)
}
