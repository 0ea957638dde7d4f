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
