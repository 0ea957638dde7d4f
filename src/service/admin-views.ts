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
 * Counting every level is one scan: about 0.8 s per million levels on SQLite here, and SQLite
 * runs it on the event loop. The overview serves a cached count while a fresh one runs
 * (stale-while-revalidate), so only the first request of a process waits for a scan; a count is
 * refreshed when older than 5 s or 50 × its own duration, whichever is longer, so counting never
 * takes more than ~2% of the process however many dashboards are open.
 */
const COUNTS_MIN_AGE_MS = 5000
const COUNT_COST_FACTOR = 50
const CHEAP_COUNT_MS = 50

interface CachedCounts {
  readonly at: number
  readonly counts: Promise<repo.StockCounts>
  tookMs: number
  refreshing: boolean
}
const countCache = new WeakMap<object, CachedCounts>()

export interface DatedCounts {
  readonly counts: repo.StockCounts
  readonly at: number
}

function countNow(deps: ServiceDeps): CachedCounts {
  const at = deps.clock.now()
  const t0 = performance.now()
  const entry: CachedCounts = { at, counts: repo.countStock(deps.store.db), tookMs: 0, refreshing: false }
  entry.counts.then(
    () => (entry.tookMs = performance.now() - t0),
    () => {},
  )
  return entry
}

export async function stockCounts(deps: ServiceDeps): Promise<DatedCounts> {
  const hit = countCache.get(deps.store)
  if (!hit) {
    const entry = countNow(deps)
    countCache.set(deps.store, entry)
    entry.counts.catch(() => countCache.delete(deps.store))
    return { counts: await entry.counts, at: entry.at }
  }
  const maxAge = Math.max(COUNTS_MIN_AGE_MS, hit.tookMs * COUNT_COST_FACTOR)
  const isStale = deps.clock.now() - hit.at >= maxAge
  // A cheap count (a small catalogue) is simply redone: stale figures are only worth serving when counting is costly.
  if (isStale && hit.tookMs < CHEAP_COUNT_MS) {
    const fresh = countNow(deps)
    countCache.set(deps.store, fresh)
    return { counts: await fresh.counts, at: fresh.at }
  }
  if (isStale && !hit.refreshing) {
    hit.refreshing = true
    const fresh = countNow(deps)
    fresh.counts.then(
      () => countCache.set(deps.store, fresh),
      (e: unknown) => {
        hit.refreshing = false
        deps.log.warn({ err: e }, 'could not count stock for the overview')
      },
    )
  }
  return { counts: await hit.counts, at: hit.at }
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
