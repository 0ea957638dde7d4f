/**
 * @module service/product-import: register or update many SKUs at once (a CSV file, a store's
 * catalogue). Each row stands alone with its own outcome; a dry run says what each row would do.
 * Rows go through the catalogue service (service/catalog.ts), so a new safety stock or threshold
 * reaches the SKU's levels exactly as `PATCH /products/{sku}` does.
 */
import { DomainError, ValidationError, type ErrorCode } from '../domain/errors.js'
import type { Product } from '../domain/product.js'
import { MAX_QUANTITY } from '../domain/quantity.js'
import { parseSku } from '../domain/sku.js'
import { findProducts } from '../store/product-repo.js'
import type { ProductPatch } from '../store/product-repo.js'
import { createProduct, updateProduct } from './catalog.js'
import type { ServiceDeps } from './deps.js'

/** One product row; absent fields leave a known SKU's values as they are (and take defaults for a new one). */
export interface ProductRow {
  readonly line: number
  readonly sku: unknown
  readonly productId?: unknown
  readonly parentId?: unknown
  readonly name?: unknown
  readonly safetyStock?: unknown
  readonly lowStockThreshold?: unknown
  readonly backorders?: unknown
}

export type ProductOutcome =
  | { readonly line: number; readonly sku: string; readonly status: 'created' | 'updated' | 'unchanged'; readonly changes: ReadonlyArray<string> }
  | { readonly line: number; readonly sku: string | null; readonly status: 'rejected'; readonly code: ErrorCode; readonly detail: string }

export interface ProductImportResult {
  readonly dryRun: boolean
  readonly rows: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly rejected: number
  readonly outcomes: ReadonlyArray<ProductOutcome>
}

const PRODUCT_ID_MAX = Number.MAX_SAFE_INTEGER

function int(v: unknown, field: string, min: number, max: number): number | undefined {
  if (v === undefined || v === '' || v === null) return undefined
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d{1,16}\s*$/.test(v) ? Number(v) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ValidationError([{ pointer: field, message: `must be a whole number from ${min} to ${max}` }])
  return n
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === '' || v === null) return undefined
  if (typeof v === 'boolean') return v
  const s = String(v).trim().toLowerCase()
  if (['true', 'yes', '1', 'y'].includes(s)) return true
  if (['false', 'no', '0', 'n'].includes(s)) return false
  throw new ValidationError([{ pointer: field, message: 'must be true or false (yes/no, 1/0)' }])
}

interface Checked {
  readonly sku: string
  readonly patch: ProductPatch
}

function check(r: ProductRow): Checked {
  const sku = parseSku(r.sku, 'sku')
  const name = r.name === undefined || r.name === '' ? undefined : String(r.name)
  if (name !== undefined && name.length > 200) throw new ValidationError([{ pointer: 'name', message: 'must be at most 200 characters' }])
  const patch: ProductPatch = {
    ...(int(r.productId, 'product_id', 1, PRODUCT_ID_MAX) !== undefined ? { productId: int(r.productId, 'product_id', 1, PRODUCT_ID_MAX)! } : {}),
    ...(int(r.parentId, 'parent_id', 1, PRODUCT_ID_MAX) !== undefined ? { parentId: int(r.parentId, 'parent_id', 1, PRODUCT_ID_MAX)! } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(int(r.safetyStock, 'safety_stock', 0, MAX_QUANTITY) !== undefined ? { safetyStock: int(r.safetyStock, 'safety_stock', 0, MAX_QUANTITY)! } : {}),
    ...(int(r.lowStockThreshold, 'low_stock_threshold', 0, MAX_QUANTITY) !== undefined ? { lowStockThreshold: int(r.lowStockThreshold, 'low_stock_threshold', 0, MAX_QUANTITY)! } : {}),
    ...(bool(r.backorders, 'backorders') !== undefined ? { allowsBackorders: bool(r.backorders, 'backorders')! } : {}),
  }
  if (patch.parentId !== undefined && patch.parentId === patch.productId) throw new ValidationError([{ pointer: 'parent_id', message: 'must differ from product_id' }])
  return { sku, patch }
}

/** Fields the patch would change on this product. */
function changesOf(p: Product, patch: ProductPatch): string[] {
  const out: string[] = []
  if (patch.productId !== undefined && patch.productId !== p.productId) out.push('product_id')
  if (patch.parentId !== undefined && patch.parentId !== p.parentId) out.push('parent_id')
  if (patch.name !== undefined && patch.name !== p.name) out.push('name')
  if (patch.safetyStock !== undefined && patch.safetyStock !== p.safetyStock) out.push('safety_stock')
  if (patch.lowStockThreshold !== undefined && patch.lowStockThreshold !== p.lowStockThreshold) out.push('low_stock_threshold')
  if (patch.allowsBackorders !== undefined && patch.allowsBackorders !== p.allowsBackorders) out.push('backorders')
  return out
}

export async function importProducts(deps: ServiceDeps, rows: ReadonlyArray<ProductRow>, o: { readonly dryRun: boolean; readonly onProgress?: ((done: number, total: number) => void | Promise<void>) | undefined }): Promise<ProductImportResult> {
  const outcomes: ProductOutcome[] = []
  const CHUNK = 500
  for (let i = 0; i < rows.length; i += CHUNK) {
    const part = rows.slice(i, i + CHUNK)
    const skus = part.map((r) => (typeof r.sku === 'string' ? r.sku : '')).filter(Boolean)
    // Known SKUs as of this chunk; rows that create one make later rows of the same SKU updates.
    const known = new Map((await findProducts(deps.store.db, skus)).map((p) => [p.sku, p]))
    for (const r of part) {
      const skuText = typeof r.sku === 'string' ? r.sku.slice(0, 100) : null
      try {
        const { sku, patch } = check(r)
        const existing = known.get(sku)
        if (!existing) {
          if (patch.productId === undefined) throw new ValidationError([{ pointer: 'product_id', message: 'is required for a new SKU' }])
          const created: Product = { sku, productId: patch.productId, parentId: patch.parentId ?? null, name: patch.name ?? null, allowsBackorders: patch.allowsBackorders ?? false, safetyStock: patch.safetyStock ?? 0, lowStockThreshold: patch.lowStockThreshold ?? 0, createdAt: 0, updatedAt: 0 }
          if (created.parentId !== null && created.parentId === created.productId) throw new ValidationError([{ pointer: 'parent_id', message: 'must differ from product_id' }])
          known.set(sku, o.dryRun ? created : await createProduct(deps, created))
          outcomes.push({ line: r.line, sku, status: 'created', changes: [] })
          continue
        }
        const changes = changesOf(existing, patch)
        if (changes.length === 0) {
          outcomes.push({ line: r.line, sku, status: 'unchanged', changes })
          continue
        }
        if (!o.dryRun) known.set(sku, await updateProduct(deps, sku, patch))
        else known.set(sku, { ...existing, ...patch })
        outcomes.push({ line: r.line, sku, status: 'updated', changes })
      } catch (e) {
        if (e instanceof ValidationError) outcomes.push({ line: r.line, sku: skuText, status: 'rejected', code: e.code, detail: e.message })
        else if (e instanceof DomainError) outcomes.push({ line: r.line, sku: skuText, status: 'rejected', code: e.code, detail: e.message })
        else throw e
      }
    }
    await o.onProgress?.(Math.min(rows.length, i + CHUNK), rows.length)
  }
  const count = (s: ProductOutcome['status']) => outcomes.filter((x) => x.status === s).length
  return { dryRun: o.dryRun, rows: outcomes.length, created: count('created'), updated: count('updated'), unchanged: count('unchanged'), rejected: count('rejected'), outcomes }
}
