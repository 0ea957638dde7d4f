/** @module emulator/woocommerce/seed: a catalogue of simple and variable products for tests and demos. */
import type { ProductRecord, Shop } from './shop.js'

export interface SeedOptions {
  /** Simple products, SKUs `${prefix}S-00001`… */
  readonly simple?: number
  /** Variable products with these sizes each, SKUs `${prefix}V-00001-M`… (parent SKU without the size). */
  readonly variable?: number
  readonly sizes?: ReadonlyArray<string>
  readonly stock?: number
  readonly prefix?: string
}

export interface Seeded {
  readonly simple: ProductRecord[]
  readonly parents: ProductRecord[]
  readonly variations: ProductRecord[]
  /** Every SKU that holds stock (simple products and variations). */
  readonly skus: string[]
}

export function seedCatalog(shop: Shop, o: SeedOptions = {}): Seeded {
  const prefix = o.prefix ?? ''
  const sizes = o.sizes ?? ['S', 'M', 'L']
  const stock = o.stock ?? 0
  const simple: ProductRecord[] = []
  const parents: ProductRecord[] = []
  const variations: ProductRecord[] = []
  for (let i = 1; i <= (o.simple ?? 0); i++) {
    const n = String(i).padStart(5, '0')
    simple.push(shop.addProduct({ name: `Simple ${n}`, sku: `${prefix}S-${n}`, manageStock: true, stockQuantity: stock, regularPrice: '9.00' }))
  }
  for (let i = 1; i <= (o.variable ?? 0); i++) {
    const n = String(i).padStart(5, '0')
    const parent = shop.addProduct({ name: `Variable ${n}`, sku: `${prefix}V-${n}`, type: 'variable', manageStock: false, attributes: [{ name: 'Size', options: [...sizes] }] })
    parents.push(parent)
    for (const size of sizes) {
      variations.push(shop.addProduct({ name: size, sku: `${prefix}V-${n}-${size}`, type: 'variation', parentId: parent.id, manageStock: true, stockQuantity: stock, regularPrice: '19.00', attributes: [{ name: 'Size', option: size }] }))
    }
  }
  return { simple, parents, variations, skus: [...simple, ...variations].map((p) => p.sku) }
}
