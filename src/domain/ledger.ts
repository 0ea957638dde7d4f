/** @module domain/ledger: the append-only history of movements, and replaying it into a level. */
import type { LedgerChangeType } from './movement.js'
import type { StockFigures } from './stock-level.js'

/**
 * `applied` changed the level; `stale` is a count older than the newest one, recorded and ignored;
 * `unchanged` is a count that confirmed the figure on hand: kept as history (it moves the stale
 * rule's clock), but it changes no figure, takes no version and sends no event.
 */
export type LedgerStatus = 'applied' | 'stale' | 'unchanged'

export interface LedgerEntry {
  readonly id: number
  readonly sku: string
  readonly productId: number
  readonly warehouseId: number
  readonly changeType: LedgerChangeType
  readonly status: LedgerStatus
  /** The size the caller asked for: units moved, or the absolute count for adjustment/sync. */
  readonly quantity: number
  readonly onHandBefore: number
  readonly onHandAfter: number
  readonly reservedBefore: number
  readonly reservedAfter: number
  /** The level's version after this entry; entries of one level replay in this order. */
  readonly levelVersion: number
  readonly source: string
  readonly referenceId: string | null
  readonly reservationId: string | null
  readonly actor: string
  readonly notes: string | null
  readonly observedAt: number | null
  readonly createdAt: number
}

export interface ReplayResult extends StockFigures {
  readonly version: number
  /** Entries whose `before` did not equal the previous entry's `after`: a broken chain. */
  readonly breaks: ReadonlyArray<number>
}

/**
 * Fold one level's entries (any order) into the figures they imply. A level whose stored figures
 * differ from this, or whose chain has breaks, has been changed outside the ledger.
 */
export function replayLedger(entries: ReadonlyArray<LedgerEntry>): ReplayResult {
  const applied = entries.filter((e) => e.status === 'applied').sort((a, b) => a.levelVersion - b.levelVersion)
  let onHand = 0
  let reserved = 0
  let version = 0
  const breaks: number[] = []
  for (const e of applied) {
    if (e.onHandBefore !== onHand || e.reservedBefore !== reserved || e.levelVersion !== version + 1) breaks.push(e.id)
    onHand += e.onHandAfter - e.onHandBefore
    reserved += e.reservedAfter - e.reservedBefore
    version = e.levelVersion
  }
  return { onHand, reserved, version, breaks }
}
