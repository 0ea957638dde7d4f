/** @module http/routes/catalog: warehouses and products (SKU mapping). Reads need `read`, changes `admin`. */
import { createRoute, z } from '@hono/zod-openapi'
import { invalid } from '../../domain/errors.js'
import { isSku } from '../../domain/sku.js'
import * as catalog from '../../service/catalog.js'
import { pullFromSeedShorthand, setPullSource } from '../../service/pulls.js'
import { pullInputOf } from './pulls.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { ok, PROBLEMS } from '../responses.js'
import { envelope, PageQuery, pagedEnvelope, pagedJson, ProductBody, ProductListQuery, ProductPatchBody, ProductSchema, SkuParam, WarehouseBody, WarehouseIdParam, WarehousePatchBody, WarehouseSchema } from '../schemas.js'
import { productJson, warehouseJson } from '../views.js'

const body = <T extends z.ZodTypeAny>(schema: T) => ({ content: { 'application/json': { schema } }, required: true })

function nonEmpty(patch: object): void {
  if (Object.keys(patch).length === 0) throw invalid('', 'must change at least one field')
}

export function registerCatalogRoutes(app: App, deps: AppDeps): void {
  const read = requireScope('read')
  const admin = requireScope('admin')
  const W = envelope(WarehouseSchema)
  const P = envelope(ProductSchema)

  app.openapi(
    createRoute({ method: 'get', path: '/warehouses', tags: ['warehouses'], summary: 'Warehouses in allocation order, cursor-paged', middleware: [read] as const, request: { query: z.strictObject(PageQuery) }, responses: { 200: ok(pagedEnvelope(WarehouseSchema)), 401: PROBLEMS[401], 422: PROBLEMS[422] } }),
    async (c) => c.json(pagedJson(await catalog.listWarehousePage(deps, c.req.valid('query')), warehouseJson), 200),
  )
  app.openapi(
    createRoute({ method: 'get', path: '/warehouses/{id}', tags: ['warehouses'], summary: 'One warehouse', middleware: [read] as const, request: { params: WarehouseIdParam }, responses: { 200: ok(W), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => c.json({ success: true as const, data: warehouseJson(await catalog.getWarehouse(deps, c.req.valid('param').id)) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/warehouses',
      tags: ['warehouses'],
      summary: 'Add a warehouse',
      middleware: [admin] as const,
      request: { body: body(WarehouseBody) },
      responses: { 201: ok(W, 'Created'), 401: PROBLEMS[401], 403: PROBLEMS[403], 409: PROBLEMS[409], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const pull = pullFromSeedShorthand(b.api_endpoint, b.api_key) // checked before anything is created
      const w = await catalog.createWarehouse(deps, { code: b.code, name: b.name, location: b.location ?? null, priority: b.priority ?? 1, isActive: b.active ?? true })
      if (pull) await setPullSource(deps, w.id, pull)
      c.header('location', `/inventory/v1/warehouses/${w.id}`)
      return c.json({ success: true as const, data: warehouseJson(w) }, 201)
    },
  )
  app.openapi(
    createRoute({
      method: 'patch',
      path: '/warehouses/{id}',
      tags: ['warehouses'],
      summary: 'Change a warehouse (code, name, location, priority, active) or its pull source (pull)',
      middleware: [admin] as const,
      request: { params: WarehouseIdParam, body: body(WarehousePatchBody) },
      responses: { 200: ok(W), 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 409: PROBLEMS[409], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const b = c.req.valid('json')
      nonEmpty(b)
      const id = c.req.valid('param').id
      const { pull, api_endpoint, api_key, ...fields } = b
      const shorthand = pullFromSeedShorthand(api_endpoint, api_key)
      if (pull !== undefined && shorthand) throw invalid('/pull', 'give either pull or api_endpoint, not both')
      await catalog.getWarehouse(deps, id)
      const source = pull === undefined ? shorthand ?? undefined : pull === null ? null : pullInputOf(pull)
      // The pull source is checked and written first: a refused one leaves the warehouse as it was.
      if (source !== undefined) await setPullSource(deps, id, source)
      const w = Object.keys(fields).length === 0 ? await catalog.getWarehouse(deps, id) : await catalog.updateWarehouse(deps, id, { code: b.code, name: b.name, location: b.location, priority: b.priority, isActive: b.active })
      return c.json({ success: true as const, data: warehouseJson(w) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/products',
      tags: ['products'],
      summary: 'Products by SKU, searchable, cursor-paged',
      middleware: [read] as const,
      request: { query: ProductListQuery },
      responses: { 200: ok(envelope(z.array(ProductSchema), { next_cursor: z.string().nullable() })), 401: PROBLEMS[401], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const limit = q.limit ?? 100
      const afterSku = q.cursor === undefined ? undefined : Buffer.from(q.cursor, 'base64url').toString('utf8')
      // Only cursors this route issued (a SKU) go to the database: a NUL byte there is a 500 on PostgreSQL.
      if (afterSku !== undefined && !isSku(afterSku)) throw invalid('/cursor', 'is not a cursor this service issued')
      const rows = await catalog.listProducts(deps, { search: q.search, afterSku, limit: limit + 1 })
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      const next = rows.length > limit && last ? Buffer.from(last.sku).toString('base64url') : null
      return c.json({ success: true as const, data: page.map(productJson), next_cursor: next }, 200)
    },
  )
  app.openapi(
    createRoute({ method: 'get', path: '/products/{sku}', tags: ['products'], summary: 'One product', middleware: [read] as const, request: { params: SkuParam }, responses: { 200: ok(P), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => c.json({ success: true as const, data: productJson(await catalog.getProduct(deps, c.req.valid('param').sku)) }, 200),
  )
  app.openapi(
    createRoute({
      method: 'post',
      path: '/products',
      tags: ['products'],
      summary: 'Register a SKU (a product, or a variation with its parent id)',
      middleware: [admin] as const,
      request: { body: body(ProductBody) },
      responses: { 201: ok(P, 'Created'), 401: PROBLEMS[401], 403: PROBLEMS[403], 409: PROBLEMS[409], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const p = await catalog.createProduct(deps, {
        sku: b.sku,
        productId: b.product_id,
        parentId: b.parent_id ?? null,
        name: b.name ?? null,
        allowsBackorders: b.backorders ?? false,
        safetyStock: b.safety_stock ?? 0,
        lowStockThreshold: b.low_stock_threshold ?? 5,
      })
      c.header('location', `/inventory/v1/products/${p.sku}`)
      return c.json({ success: true as const, data: productJson(p) }, 201)
    },
  )
  app.openapi(
    createRoute({
      method: 'patch',
      path: '/products/{sku}',
      tags: ['products'],
      summary: 'Change a product; safety_stock and low_stock_threshold apply to all its warehouse levels',
      middleware: [admin] as const,
      request: { params: SkuParam, body: body(ProductPatchBody) },
      responses: { 200: ok(P), 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const b = c.req.valid('json')
      nonEmpty(b)
      const p = await catalog.updateProduct(deps, c.req.valid('param').sku, {
        productId: b.product_id,
        parentId: b.parent_id,
        name: b.name,
        allowsBackorders: b.backorders,
        safetyStock: b.safety_stock,
        lowStockThreshold: b.low_stock_threshold,
      })
      return c.json({ success: true as const, data: productJson(p) }, 200)
    },
  )
}
