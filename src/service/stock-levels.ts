/**
 * @module service/stock-levels: every stock level, filtered and paged (`GET /stock` without
 * `skus`; the admin UI and alerts can list the same way). Pages follow SKU byte order, then
 * warehouse id. Each page looks at a bounded window of levels, so a filter that matches few of a
 * million levels answers as quickly as one that matches all: such a page may hold fewer than
 * `limit` levels (even none) and still carry a cursor; only a page without one is the last.
 */
import { DomainError } from '../domain/errors.js'
import { parseSku } from '../domain/sku.js'
import { listLevels } from '../store/level-list-repo.js'
import type { ServiceDeps } from './deps.js'
import { decodeCursor, DEFAULT_PAGE_LIMIT, encodeCursor, type Page } from './paging.js'
import { toLevelView, type LevelView } from './stock.js'
import { cachedWarehouses } from './warehouse-cache.js'

/** Levels looked at per page when filters drop most of them. */
export const LEVEL_SCAN_WINDOW = 5000

export interface LevelListFilter {
  readonly skuPrefix?: string | undefined
  readonly warehouseId?: number | undefined
  readonly isLowStock?: boolean | undefined
  readonly isOutOfStock?: boolean | undefined
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
}

export interface ListedLevel extends LevelView {
  readonly sku: string
}

export async function listStockLevels(deps: ServiceDeps, f: LevelListFilter): Promise<Page<ListedLevel>> {
  const limit = f.limit ?? DEFAULT_PAGE_LIMIT
  const after = f.cursor === undefined ? undefined : decodeCursor(f.cursor, ['string', 'number'])
  const prefix = f.skuPrefix === undefined ? undefined : parsePrefix(f.skuPrefix)
  const db = deps.store.db
  if (f.warehouseId !== undefined && !(await cachedWarehouses(deps, db, [f.warehouseId])).has(f.warehouseId)) {
    throw new DomainError('warehouse_not_found', `No warehouse has id ${f.warehouseId}`, { warehouse_id: f.warehouseId })
  }
  const r = await listLevels(db, deps.store.caps, {
    skuPrefix: prefix,
    warehouseId: f.warehouseId,
    isLowStock: f.isLowStock,
    isOutOfStock: f.isOutOfStock,
    after: after ? { sku: after[0] as string, warehouseId: after[1] as number } : undefined,
    take: limit + 1,
    window: Math.max(LEVEL_SCAN_WINDOW, limit + 1),
  })
  const kept = r.levels.slice(0, limit)
  const whById = await cachedWarehouses(deps, db, new Set(kept.map((l) => l.warehouseId)))
  const items = kept.map((l) => ({ sku: l.sku, ...toLevelView(l, whById.get(l.warehouseId)) }))
  const last = kept[kept.length - 1]
  const nextKey = r.levels.length > limit && last ? last : r.windowEnd
  return { items, nextCursor: nextKey ? encodeCursor([nextKey.sku, nextKey.warehouseId]) : null }
}

function parsePrefix(value: string): string {
  // A prefix follows the SKU rules (trimmed, printable, at most 100 characters).
  return parseSku(value, '/sku_prefix')
}
