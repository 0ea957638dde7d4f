/** @module store/product-repo: products and variations, keyed by SKU. */
import type { Product } from '../domain/product.js'
import { sql } from 'kysely'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import { rowsTable, runValuesChunks, valuesStatement } from './batch.js'
import { compiledStatement, type Slot } from './compiled.js'

export interface ProductRow {
  sku: string
  product_id: number | string
  parent_id: number | string | null
  name: string | null
  allows_backorders: number
  safety_stock: number
  low_stock_threshold: number
  created_at: number | string
  updated_at: number | string
}

export function toProduct(r: ProductRow): Product {
  return {
    sku: r.sku,
    productId: Number(r.product_id),
    parentId: r.parent_id === null ? null : Number(r.parent_id),
    name: r.name,
    allowsBackorders: Number(r.allows_backorders) === 1,
    safetyStock: Number(r.safety_stock),
    lowStockThreshold: Number(r.low_stock_threshold),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

const PRODUCT = compiledStatement((ex, v: Slot<'sku'>, forUpdate: boolean) => ex.selectFrom('product').selectAll().where('sku', '=', v('sku')).$if(forUpdate, (qb) => qb.forUpdate()), String)

export async function findProduct(ex: Executor, sku: string, forUpdate = false): Promise<Product | undefined> {
  const [row] = await PRODUCT.run(ex, { sku }, forUpdate)
  return row ? toProduct(row) : undefined
}

/** One statement per list length (`sku IN (?, ?, …)`), so reads of the same batch size reuse it. */
const PRODUCTS = compiledStatement((ex, v: Slot<string>, n: number) => ex.selectFrom('product').selectAll().where('sku', 'in', Array.from({ length: n }, (_, i) => v(String(i)))), String)

export async function findProducts(ex: Executor, skus: ReadonlyArray<string>): Promise<Product[]> {
  if (skus.length === 0) return []
  return (await PRODUCTS.run(ex, skus, skus.length)).map(toProduct)
}

/**
 * The products of many SKUs for one multi-row write, locked FOR UPDATE (where the dialect has row
 * locks) in SKU byte order: the same product-first, SKU-ordered locking every single-SKU writer
 * follows, so a bulk write and a sale never wait for each other in a cycle. Unknown SKUs are absent.
 */
export async function lockProductsInOrder(ex: Executor, caps: DialectCaps, skus: ReadonlyArray<string>): Promise<Product[]> {
  const sorted = [...new Set(skus)].sort()
  if (sorted.length === 0) return []
  if (caps.batchValues) {
    // No row locks to order (caps.rowLocks is false where batches go as VALUES); chunks run in SKU order.
    return (await runValuesChunks<ProductRow>(ex, PRODUCTS_VALUES, sorted.length, (i, o) => o.push(sorted[i]))).rows.map(toProduct)
  }
  const rows = await ex
    .selectFrom('product')
    .selectAll()
    .where('sku', 'in', (eb) => eb.selectFrom(rowsTable(caps, sorted.map((sku) => ({ sku })), SKU_COLUMNS, 's')).select('s.sku'))
    .orderBy(sql`sku collate ${sql.raw(caps.byteOrderCollation)}`)
    .$if(caps.rowLocks, (qb) => qb.forUpdate())
    .execute()
  return rows.map(toProduct)
}

const SKU_COLUMNS = [['sku', 'varchar']] as const

/** SQLite: the SKUs of a VALUES list, by primary key; chunks of sorted SKUs, each sorted, so all in SKU order. */
const PRODUCTS_VALUES = valuesStatement(1, (values) => `select * from product where sku in (values ${values}) order by sku`)

export async function productIdExists(ex: Executor, productId: number): Promise<boolean> {
  const row = await ex
    .selectFrom('product')
    .select('sku')
    .where((eb) => eb.or([eb('product_id', '=', productId), eb('parent_id', '=', productId)]))
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}

/** The SKU other than `exceptSku` already mapped to this product id, if any. */
export async function findSkuWithProductId(ex: Executor, productId: number, exceptSku: string): Promise<string | undefined> {
  const row = await ex.selectFrom('product').select('sku').where('product_id', '=', productId).where('sku', '<>', exceptSku).limit(1).executeTakeFirst()
  return row?.sku
}

export interface ProductPage {
  readonly search?: string | undefined
  readonly afterSku?: string | undefined
  readonly limit: number
}

export async function listProducts(ex: Executor, p: ProductPage): Promise<Product[]> {
  const rows = await ex
    .selectFrom('product')
    .selectAll()
    .$if(p.search !== undefined, (qb) => {
      const like = `%${(p.search as string).replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`
      return qb.where((eb) => eb.or([eb('sku', 'like', like), eb('name', 'like', like)]))
    })
    .$if(p.afterSku !== undefined, (qb) => qb.where('sku', '>', p.afterSku as string))
    .orderBy('sku')
    .limit(p.limit)
    .execute()
  return rows.map(toProduct)
}

export type NewProduct = Omit<Product, 'createdAt' | 'updatedAt'>

export async function insertProduct(ex: Executor, p: NewProduct, now: number): Promise<Product> {
  const row = await ex
    .insertInto('product')
    .values({
      sku: p.sku,
      product_id: p.productId,
      parent_id: p.parentId,
      name: p.name,
      allows_backorders: p.allowsBackorders ? 1 : 0,
      safety_stock: p.safetyStock,
      low_stock_threshold: p.lowStockThreshold,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toProduct(row)
}

export type ProductPatch = Partial<Omit<NewProduct, 'sku'>>

export async function updateProduct(ex: Executor, sku: string, p: ProductPatch, now: number): Promise<Product | undefined> {
  const row = await ex
    .updateTable('product')
    .set({
      ...(p.productId !== undefined ? { product_id: p.productId } : {}),
      ...(p.parentId !== undefined ? { parent_id: p.parentId } : {}),
      ...(p.name !== undefined ? { name: p.name } : {}),
      ...(p.allowsBackorders !== undefined ? { allows_backorders: p.allowsBackorders ? 1 : 0 } : {}),
      ...(p.safetyStock !== undefined ? { safety_stock: p.safetyStock } : {}),
      ...(p.lowStockThreshold !== undefined ? { low_stock_threshold: p.lowStockThreshold } : {}),
      updated_at: now,
    })
    .where('sku', '=', sku)
    .returningAll()
    .executeTakeFirst()
  return row ? toProduct(row) : undefined
}
