/** @module domain/product: a sellable SKU, mapped to a store's product or variation. */
export interface Product {
  readonly sku: string
  /** The product id, or for a variation the variation's own id. */
  readonly productId: number
  /** For a variation, the parent (variable) product's id. */
  readonly parentId: number | null
  readonly name: string | null
  readonly allowsBackorders: boolean
  /** Defaults copied to each new stock level of this SKU. */
  readonly safetyStock: number
  readonly lowStockThreshold: number
  readonly createdAt: number
  readonly updatedAt: number
}
