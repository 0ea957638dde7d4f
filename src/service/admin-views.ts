/**
 * @module service/admin-views: read models the admin UI needs beyond the API's (#16): the stock
 * browser, the overview's counts, a SKU's open reservations and its on-hand series.
 */
import { availableOf } from '../domain/stock-level.js'
import * as repo from '../store/admin-repo.js'
import type { ServiceDeps } from './deps.js'

export type { BrowsedLevel, LevelBrowseFilter, OpenReservationLine, StockCounts } from '../store/admin-repo.js'

export const BROWSE_PAGE = 50

export interface LevelPage {
  readonly rows: ReadonlyArray<repo.BrowsedLevel & { readonly available: number }>
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: { readonly sku: string; readonly warehouseId: number } | null
}

export async function browseLevels(deps: ServiceDeps, f: Omit<repo.LevelBrowseFilter, 'limit'>): Promise<LevelPage> {
  const rows = await repo.browseLevels(deps.store.db, { ...f, limit: BROWSE_PAGE + 1 })
  const page = rows.slice(0, BROWSE_PAGE).map((r) => ({ ...r, available: availableOf(r) }))
  const last = page[page.length - 1]
  return { rows: page, next: rows.length > BROWSE_PAGE && last ? { sku: last.sku, warehouseId: last.warehouseId } : null }
}

/**
 * Counting every level is one scan: about 100 ms per million levels on SQLite. The overview
 * shows counts at most this old, so a page load (or many open dashboards) never waits on it twice.
 */
const COUNTS_MAX_AGE_MS = 5000
const countCache = new WeakMap<object, { at: number; counts: Promise<repo.StockCounts> }>()

export interface DatedCounts {
  readonly counts: repo.StockCounts
  readonly at: number
}

export async function stockCounts(deps: ServiceDeps): Promise<DatedCounts> {
  const now = deps.clock.now()
  const hit = countCache.get(deps.store)
  if (hit && now - hit.at < COUNTS_MAX_AGE_MS) return { counts: await hit.counts, at: hit.at }
  const counts = repo.countStock(deps.store.db)
  countCache.set(deps.store, { at: now, counts })
  counts.catch(() => countCache.delete(deps.store))
  return { counts: await counts, at: now }
}

export function openReservations(deps: ServiceDeps, sku: string): Promise<repo.OpenReservationLine[]> {
  return repo.listOpenReservations(deps.store.db, sku, 100)
}

export interface OnHandSeries {
  /** Seconds since the epoch (uPlot's x unit). */
  readonly times: number[]
  /** On hand summed across warehouses after each movement. */
  readonly totals: number[]
}

/**
 * Total on hand after each of the SKU's newest `limit` movements, from the ledger. A warehouse
 * with no movement in that window adds its current figure throughout (`current`: warehouse → on hand).
 */
export async function onHandSeries(deps: ServiceDeps, sku: string, current: ReadonlyMap<number, number>, limit = 500): Promise<OnHandSeries> {
  const points = await repo.listOnHandPoints(deps.store.db, sku, limit)
  const perWarehouse = new Map<number, number>()
  for (const p of points) if (!perWarehouse.has(p.warehouseId)) perWarehouse.set(p.warehouseId, p.onHandBefore)
  for (const [w, v] of current) if (!perWarehouse.has(w)) perWarehouse.set(w, v)
  const times: number[] = []
  const totals: number[] = []
  for (const p of points) {
    perWarehouse.set(p.warehouseId, p.onHandAfter)
    let sum = 0
    for (const v of perWarehouse.values()) sum += v
    times.push(p.at / 1000)
    totals.push(sum)
  }
  return { times, totals }
}

export function recentInbound(deps: ServiceDeps, provider: string | undefined, limit = 100): Promise<repo.InboundRow[]> {
  return repo.listRecentInbound(deps.store.db, provider, limit)
}
