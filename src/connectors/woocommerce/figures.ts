/**
 * @module connectors/woocommerce/figures: the figure a store shows for a SKU, from current levels.
 * Available across the store's active warehouses (each warehouse counting at least zero, see
 * domain sellableOf), minus the store's buffer, never below zero unless the SKU allows backorders. Always a safe integer: only integers leave the hub (a batch
 * item that is not one silently becomes 0 in WooCommerce, which reads as "sold out").
 */
import { sellableOf } from '../../domain/stock-level.js'
import type { Executor } from '../../store/db.js'
import { findProducts } from '../../store/product-repo.js'
import { findLevelsBySkus } from '../../store/stock-repo.js'
import { listWarehouses } from '../../store/warehouse-repo.js'
import type { WooStore } from '../../store/woo-repo.js'

export function storeFigure(available: number, buffer: number, allowsBackorders: boolean): number {
  const raw = Math.trunc(available) - Math.max(0, Math.trunc(buffer))
  const figure = allowsBackorders ? raw : Math.max(0, raw)
  if (!Number.isSafeInteger(figure)) throw new Error(`Refusing to push a non-integer stock figure (${figure})`)
  return figure
}

/** Figures of the given SKUs for this store; SKUs the hub does not know are absent. */
export async function storeFigures(ex: Executor, store: Pick<WooStore, 'warehouses' | 'buffer'>, skus: ReadonlyArray<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  if (skus.length === 0) return out
  const active = new Set((await listWarehouses(ex)).filter((w) => w.isActive && store.warehouses.includes(w.id)).map((w) => w.id))
  const unique = [...new Set(skus)]
  for (let i = 0; i < unique.length; i += 2000) {
    const part = unique.slice(i, i + 2000)
    const [products, levels] = await Promise.all([findProducts(ex, part), findLevelsBySkus(ex, part)])
    const available = new Map<string, number>()
    for (const l of levels) if (active.has(l.warehouseId)) available.set(l.sku, (available.get(l.sku) ?? 0) + sellableOf(l))
    for (const p of products) out.set(p.sku, storeFigure(available.get(p.sku) ?? 0, store.buffer, p.allowsBackorders))
  }
  return out
}
