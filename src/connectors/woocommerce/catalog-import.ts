/**
 * @module connectors/woocommerce/catalog-import: register a store's catalogue in the hub (#14).
 * Pages through the store's products and each variable product's variations (100 per page, the
 * store's ceiling), registers every SKU with its product id (a variation: its own id plus
 * `parent_id`) through the product import (service/product-import.ts), and maps the store to
 * them. Items without a SKU and SKUs the store has on several items are reported, not guessed at.
 */
import type { ServiceDeps } from '../../service/deps.js'
import { importProducts, type ProductImportResult, type ProductRow } from '../../service/product-import.js'
import type { WooStore } from '../../store/woo-repo.js'
import type { WooClient } from './client.js'
import { applyLookup, type StoreItem } from './mapping.js'

interface CatalogItem extends StoreItem {
  readonly name?: string
}

const FIELDS = 'id,sku,type,parent_id,name,stock_quantity,manage_stock'

export interface CatalogImportReport {
  readonly dryRun: boolean
  /** Products and variations read from the store. */
  readonly scanned: number
  readonly result: ProductImportResult
  /** Items that hold stock but have no SKU, so cannot be matched. */
  readonly missingSku: ReadonlyArray<{ readonly productId: number; readonly parentId: number | null; readonly name: string | null }>
  /** SKUs carried by more than one store item: not registered. */
  readonly duplicated: ReadonlyArray<{ readonly sku: string; readonly productIds: ReadonlyArray<number> }>
}

export async function importCatalog(deps: ServiceDeps, store: WooStore, client: WooClient, o: { readonly dryRun: boolean; readonly onProgress?: (done: number, total: number) => void }): Promise<CatalogImportReport> {
  const top = await client.getAll<CatalogItem>('/products', { _fields: FIELDS, orderby: 'id', order: 'asc' })
  const items: CatalogItem[] = []
  const parents = top.filter((p) => p.type === 'variable')
  let done = 0
  for (const p of top) {
    // A variable product's stock lives on its variations; the parent is not a SKU of its own.
    if (p.type !== 'variable') items.push(p)
  }
  for (const p of parents) {
    const vars = await client.getAll<CatalogItem>(`/products/${p.id}/variations`, { _fields: FIELDS, orderby: 'id', order: 'asc' })
    items.push(...vars.map((v) => ({ ...v, type: 'variation', parent_id: p.id, name: v.name || p.name || '' })))
    o.onProgress?.(++done, parents.length)
  }
  const bySku = new Map<string, CatalogItem[]>()
  const missingSku: Array<{ productId: number; parentId: number | null; name: string | null }> = []
  for (const it of items) {
    if (typeof it.sku !== 'string' || it.sku.trim() === '') {
      missingSku.push({ productId: it.id, parentId: it.type === 'variation' ? it.parent_id : null, name: it.name ?? null })
      continue
    }
    bySku.set(it.sku, [...(bySku.get(it.sku) ?? []), it])
  }
  const duplicated = [...bySku].filter(([, list]) => list.length > 1).map(([sku, list]) => ({ sku, productIds: list.map((x) => x.id) }))
  const rows: ProductRow[] = []
  let line = 0
  for (const [sku, list] of bySku) {
    if (list.length > 1) continue
    const it = list[0]!
    rows.push({ line: ++line, sku, productId: it.id, ...(it.type === 'variation' && it.parent_id ? { parentId: it.parent_id } : {}), ...(it.name ? { name: it.name.slice(0, 200) } : {}) })
  }
  const result = await importProducts(deps, rows, { dryRun: o.dryRun })
  if (!o.dryRun) {
    // The store sells these SKUs: map them, as `stores map` would.
    const found = new Map<string, StoreItem[]>()
    for (const [sku, list] of bySku) found.set(sku.toLowerCase(), list)
    const registered = result.outcomes.filter((x) => x.status !== 'rejected').map((x) => x.sku as string)
    await applyLookup(deps, store, registered, found)
  }
  return { dryRun: o.dryRun, scanned: items.length, result, missingSku, duplicated }
}
