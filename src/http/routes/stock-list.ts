/** @module http/routes/stock-list: `GET /stock` without `skus`: every level, filtered and paged (#12). */
import type { z } from '@hono/zod-openapi'
import { invalid } from '../../domain/errors.js'
import { listStockLevels } from '../../service/stock-levels.js'
import type { AppDeps } from '../env.js'
import type { BatchStockQuery, ListedLevelSchema } from '../schemas.js'
import { levelJson } from '../views.js'

type Query = z.output<typeof BatchStockQuery>
const LIST_ONLY = ['sku_prefix', 'low_stock', 'out_of_stock', 'cursor', 'limit'] as const

/** The batch read takes skus and warehouse_id only: a list filter beside skus would be silently ignored. */
export function assertBatchQuery(q: Query): void {
  const extra = LIST_ONLY.find((k) => q[k] !== undefined)
  if (extra !== undefined) throw invalid(`/${extra}`, 'applies only to the level list (without skus)')
}

export async function levelListJson(deps: AppDeps, q: Query) {
  const page = await listStockLevels(deps, {
    skuPrefix: q.sku_prefix,
    warehouseId: q.warehouse_id === 0 ? undefined : q.warehouse_id,
    isLowStock: q.low_stock,
    isOutOfStock: q.out_of_stock,
    cursor: q.cursor,
    limit: q.limit,
  })
  const data: Array<z.infer<typeof ListedLevelSchema>> = page.items.map((l) => ({ sku: l.sku, ...levelJson(l) }))
  return { success: true as const, data, next_cursor: page.nextCursor, has_more: page.nextCursor !== null }
}
