/** @module http/routes/history: the ledger by SKU or by product, newest first, cursor-paged. */
import { createRoute, z } from '@hono/zod-openapi'
import { DomainError, invalid } from '../../domain/errors.js'
import { isLedgerChangeType } from '../../domain/movement.js'
import { getHistory, getProductHistory, type HistoryQuery as ServiceHistoryQuery } from '../../service/history.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { isoToMs } from '../request-context.js'
import { ok, PROBLEMS } from '../responses.js'
import { EntrySchema, envelope, HistoryQuery, ProductIdParam } from '../schemas.js'
import { entryJson } from '../views.js'

const HistoryResponse = envelope(z.array(EntrySchema), { next_cursor: z.string().nullable() })

function filtersOf(q: z.infer<typeof HistoryQuery>): ServiceHistoryQuery {
  const changeTypes = q.change_type?.split(',').map((s) => s.trim()).filter(Boolean)
  if (changeTypes?.length === 0) throw invalid('/change_type', 'must name at least one change type')
  const bad = changeTypes?.find((t) => !isLedgerChangeType(t))
  if (bad !== undefined) {
    throw new DomainError('unknown_change_type', `Unknown change_type "${bad.slice(0, 40)}"`, { errors: [{ pointer: '/change_type', message: 'lists an unknown change type' }] })
  }
  const from = isoToMs(q.from)
  const to = isoToMs(q.to)
  if (from !== undefined && to !== undefined && from >= to) throw invalid('/from', 'must be before to')
  return { skus: q.sku === undefined ? undefined : [q.sku], warehouseId: q.warehouse_id, changeTypes, from, to, cursor: q.cursor, limit: q.limit }
}

export function registerHistoryRoutes(app: App, deps: AppDeps): void {
  const read = requireScope('read')

  app.openapi(
    createRoute({
      method: 'get',
      path: '/stock/history',
      tags: ['history'],
      summary: 'Ledger entries, filtered by SKU, warehouse, change type and time; newest first',
      middleware: [read] as const,
      request: { query: HistoryQuery },
      responses: { 200: ok(HistoryResponse), 401: PROBLEMS[401], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const page = await getHistory(deps, filtersOf(c.req.valid('query')))
      return c.json({ success: true as const, data: page.entries.map(entryJson), next_cursor: page.nextCursor }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/stock/history/{product_id}',
      tags: ['history'],
      summary: 'Ledger entries of a product and, for a variable product, of all its variations',
      middleware: [read] as const,
      request: { params: ProductIdParam, query: HistoryQuery.omit({ sku: true }) },
      responses: { 200: ok(HistoryResponse), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const { product_id } = c.req.valid('param')
      const page = await getProductHistory(deps, product_id, filtersOf(c.req.valid('query')))
      return c.json({ success: true as const, data: page.entries.map(entryJson), next_cursor: page.nextCursor }, 200)
    },
  )
}
