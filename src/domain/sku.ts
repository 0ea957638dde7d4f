/** @module domain/sku: the SKU, a product's natural key, and the rules it must follow. */
import { invalid } from './errors.js'

declare const skuBrand: unique symbol
/** A string known to satisfy the SKU rules; only parseSku makes one. */
export type Sku = string & { readonly [skuBrand]: true }

export const SKU_MAX_LENGTH = 100
// Letters, digits and a few separators real catalogues use. No spaces, slashes or control
// characters: a SKU travels in URL paths, CSV files and log lines unescaped.
const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:#+-]*$/

export function isSku(value: unknown): value is Sku {
  return typeof value === 'string' && value.length <= SKU_MAX_LENGTH && SKU_PATTERN.test(value)
}

export function parseSku(value: unknown, pointer = '/sku'): Sku {
  if (typeof value !== 'string') throw invalid(pointer, 'must be a string')
  if (value.length === 0) throw invalid(pointer, 'must not be empty')
  if (value.length > SKU_MAX_LENGTH) throw invalid(pointer, `must be at most ${SKU_MAX_LENGTH} characters`)
  if (!SKU_PATTERN.test(value)) {
    throw invalid(pointer, 'may hold only letters, digits and . _ : # + - and must start with a letter or digit')
  }
  return value as Sku
}
