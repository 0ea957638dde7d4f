/** @module domain/stock-level: one SKU's stock in one warehouse, and what follows from it. */

/** The two figures every movement changes; everything else about a level is derived or configured. */
export interface StockFigures {
  readonly onHand: number
  readonly reserved: number
}

export interface StockLevel extends StockFigures {
  readonly sku: string
  readonly warehouseId: number
  readonly safetyStock: number
  readonly lowStockThreshold: number
  /** Grows by one with every applied movement: the level's optimistic-concurrency version. */
  readonly version: number
  /** Observation time (ms) of the newest count applied; older counts are stale. */
  readonly lastCountedAt: number | null
  readonly updatedAt: number
}

/**
 * What can still be sold or reserved. Computed on every read, never stored, so it cannot drift
 * from on hand and reserved. It is negative only after a count (sync/adjustment) revealed fewer
 * units than are reserved or held as safety stock, or for a SKU that allows backorders.
 */
export function availableOf(level: StockFigures & { readonly safetyStock: number }): number {
  return level.onHand - level.reserved - level.safetyStock
}

export function isLowStock(level: StockFigures & { readonly safetyStock: number; readonly lowStockThreshold: number }): boolean {
  return availableOf(level) <= level.lowStockThreshold
}

/**
 * What one warehouse adds to a SKU's totals and to the figure pushed to stores: its available,
 * never less than zero. A warehouse short of its own safety stock or reservations (0 on hand,
 * safety stock 2: available −2) cannot take units away from another warehouse that has them.
 * The same holds for a SKU that allows backorders: its negative on hand shows per warehouse and
 * in total on hand, but the sellable total never drops below zero (#12).
 */
export function sellableOf(level: StockFigures & { readonly safetyStock: number }): number {
  return Math.max(0, availableOf(level))
}

export interface StockTotals {
  readonly onHand: number
  readonly reserved: number
  readonly available: number
}

/**
 * Totals across warehouses; inactive warehouses still hold stock, so they count here too.
 * On hand and reserved are plain sums; available sums each warehouse's sellableOf.
 */
export function totalsOf(levels: ReadonlyArray<StockLevel>): StockTotals {
  let onHand = 0
  let reserved = 0
  let available = 0
  for (const l of levels) {
    onHand += l.onHand
    reserved += l.reserved
    available += sellableOf(l)
  }
  return { onHand, reserved, available }
}
