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
  /** Digits of the number in a SKU (default 5: `S-00001`). */
  readonly digits?: number
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
  const digits = o.digits ?? 5
  const simple: ProductRecord[] = []
  const parents: ProductRecord[] = []
  const variations: ProductRecord[] = []
  for (let i = 1; i <= (o.simple ?? 0); i++) {
    const n = String(i).padStart(digits, '0')
    simple.push(shop.addProduct({ name: `Simple ${n}`, sku: `${prefix}S-${n}`, manageStock: true, stockQuantity: stock, regularPrice: '9.00' }))
  }
  for (let i = 1; i <= (o.variable ?? 0); i++) {
    const n = String(i).padStart(digits, '0')
    const parent = shop.addProduct({ name: `Variable ${n}`, sku: `${prefix}V-${n}`, type: 'variable', manageStock: false, attributes: [{ name: 'Size', options: [...sizes] }] })
    parents.push(parent)
    for (const size of sizes) {
      variations.push(shop.addProduct({ name: size, sku: `${prefix}V-${n}-${size}`, type: 'variation', parentId: parent.id, manageStock: true, stockQuantity: stock, regularPrice: '19.00', attributes: [{ name: 'Size', option: size }] }))
    }
  }
  return { simple, parents, variations, skus: [...simple, ...variations].map((p) => p.sku) }
}

/**
 * The catalogue of the hub's demo data set (`stockbridge demo`): 1,000 SKUs, T-shirts, hoodies and
 * socks as variable products with S/M/L/XL variations (`TEE-001-M`), the rest simple (`MUG-004`).
 * Lets the demo hub push to the emulator without any mapping problem.
 */
export function seedDemoCatalog(shop: Shop, stock = 0): Seeded {
  const CATEGORIES = ['TEE', 'HOOD', 'CAP', 'MUG', 'BAG', 'SOCK', 'POST', 'BOOK'] as const
  const SIZES = ['S', 'M', 'L', 'XL']
  const simple: ProductRecord[] = []
  const parents: ProductRecord[] = []
  const variations: ProductRecord[] = []
  let count = 0
  for (let i = 0; count < 1000; i++) {
    const cat = CATEGORIES[i % CATEGORIES.length]!
    const model = String(Math.floor(i / CATEGORIES.length) + 1).padStart(3, '0')
    if (cat !== 'TEE' && cat !== 'HOOD' && cat !== 'SOCK') {
      simple.push(shop.addProduct({ name: `${cat} ${model}`, sku: `${cat}-${model}`, manageStock: true, stockQuantity: stock, regularPrice: '12.00' }))
      count++
      continue
    }
    const parent = shop.addProduct({ name: `${cat} ${model}`, sku: `${cat}-${model}`, type: 'variable', manageStock: false, attributes: [{ name: 'Size', options: SIZES }] })
    parents.push(parent)
    for (const size of SIZES) {
      variations.push(shop.addProduct({ name: size, sku: `${cat}-${model}-${size}`, type: 'variation', parentId: parent.id, manageStock: true, stockQuantity: stock, regularPrice: '19.00', attributes: [{ name: 'Size', option: size }] }))
      count++
    }
  }
  return { simple, parents, variations, skus: [...simple, ...variations].map((p) => p.sku) }
}
