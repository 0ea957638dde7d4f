/** @module service/catalog: warehouses and products (SKUs), the things stock is kept for and in. */
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page, type PageParams } from './paging.js'
import { DomainError, invalid } from '../domain/errors.js'
import type { Product } from '../domain/product.js'
import type { Warehouse } from '../domain/warehouse.js'
import { parseSku } from '../domain/sku.js'
import type { Executor } from '../store/db.js'
import { isUniqueViolation } from '../store/errors.js'
import * as products from '../store/product-repo.js'
import * as warehouses from '../store/warehouse-repo.js'
import { updateLevelSettings } from '../store/stock-repo.js'
import type { ServiceDeps } from './deps.js'
import { inTransaction } from './transaction.js'
import { pingDatabase } from '../store/health.js'
import { forgetWarehouses } from './warehouse-cache.js'

export async function requireProduct(ex: Executor, sku: string): Promise<Product> {
  const p = await products.findProduct(ex, sku)
  if (!p) throw new DomainError('sku_not_found', `No product is registered with SKU ${sku}`, { sku })
  return p
}

export async function requireWarehouse(ex: Executor, id: number): Promise<Warehouse> {
  const w = await warehouses.findWarehouse(ex, id)
  if (!w) throw new DomainError('warehouse_not_found', `No warehouse has id ${id}`, { warehouse_id: id })
  return w
}

function alreadyExists(what: string, e: unknown, details: Record<string, unknown>): never {
  if (isUniqueViolation(e)) throw new DomainError('already_exists', `${what} already exists`, details, { cause: e })
  throw e
}

export function listWarehouses(deps: ServiceDeps): Promise<Warehouse[]> {
  return warehouses.listWarehouses(deps.store.db)
}

/** Warehouses in allocation order, one page at a time (#12). */
export function listWarehousePage(deps: ServiceDeps, p: PageParams = {}): Promise<Page<Warehouse>> {
  const key = p.cursor === undefined ? undefined : decodeCursor(p.cursor, ['number', 'number'])
  const after = key ? { priority: key[0] as number, id: key[1] as number } : undefined
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => warehouses.listWarehousePage(deps.store.db, take, after), (w) => [w.priority, w.id])
}

export function getWarehouse(deps: ServiceDeps, id: number): Promise<Warehouse> {
  return requireWarehouse(deps.store.db, id)
}

export async function createWarehouse(deps: ServiceDeps, w: warehouses.NewWarehouse): Promise<Warehouse> {
  try {
    return await warehouses.insertWarehouse(deps.store.db, w, deps.clock.now())
  } catch (e) {
    return alreadyExists(`A warehouse with code ${w.code}`, e, { code: w.code })
  }
}

export async function updateWarehouse(deps: ServiceDeps, id: number, patch: warehouses.WarehousePatch): Promise<Warehouse> {
  try {
    const w = await warehouses.updateWarehouse(deps.store.db, id, patch, deps.clock.now())
    forgetWarehouses(deps)
    if (!w) throw new DomainError('warehouse_not_found', `No warehouse has id ${id}`, { warehouse_id: id })
    return w
  } catch (e) {
    return alreadyExists(`A warehouse with code ${patch.code}`, e, { code: patch.code })
  }
}

export function getProduct(deps: ServiceDeps, sku: string): Promise<Product> {
  return requireProduct(deps.store.db, parseSku(sku))
}

export function listProducts(deps: ServiceDeps, page: products.ProductPage): Promise<Product[]> {
  return products.listProducts(deps.store.db, page)
}

/**
 * One product id maps to one SKU: the store's product (or variation) has one stock figure, and two
 * SKUs pushing to it would overwrite each other. Variations of one product share its id only as
 * their `parent_id`; each has its own variation id (#12).
 */
async function assertProductIdFree(ex: Executor, productId: number, sku: string): Promise<void> {
  const other = await products.findSkuWithProductId(ex, productId, sku)
  if (other !== undefined) {
    throw new DomainError(
      'product_id_taken',
      `Product id ${productId} is already mapped to SKU ${other}; a variation of that product needs its own variation id as product_id and ${productId} as parent_id`,
      { product_id: productId, sku: other },
    )
  }
}

export async function createProduct(deps: ServiceDeps, p: products.NewProduct): Promise<Product> {
  if (p.parentId !== null && p.parentId === p.productId) throw invalid('/parent_id', 'must differ from product_id')
  try {
    return await inTransaction(deps, async (trx) => {
      await assertProductIdFree(trx, p.productId, p.sku)
      return products.insertProduct(trx, p, deps.clock.now())
    })
  } catch (e) {
    return alreadyExists(`A product with SKU ${p.sku}`, e, { sku: p.sku })
  }
}

/** Update a product; new safety stock or threshold apply to every warehouse's level of the SKU. */
export function updateProduct(deps: ServiceDeps, sku: string, patch: products.ProductPatch): Promise<Product> {
  return inTransaction(deps, async (trx) => {
    const now = deps.clock.now()
    if (patch.productId !== undefined) await assertProductIdFree(trx, patch.productId, sku)
    const p = await products.updateProduct(trx, sku, patch, now)
    if (!p) throw new DomainError('sku_not_found', `No product is registered with SKU ${sku}`, { sku })
    if (p.parentId !== null && p.parentId === p.productId) throw invalid('/parent_id', 'must differ from product_id')
    if (patch.safetyStock !== undefined || patch.lowStockThreshold !== undefined) {
      await updateLevelSettings(trx, sku, null, { safetyStock: patch.safetyStock, lowStockThreshold: patch.lowStockThreshold }, now)
    }
    return p
  })
}

/** True when the database answers a trivial query (health checks). */
export async function isDatabaseReachable(deps: ServiceDeps): Promise<boolean> {
  try {
    await pingDatabase(deps.store.db)
    return true
  } catch (e) {
    deps.log.warn({ err: e }, 'health check failed')
    return false
  }
}
