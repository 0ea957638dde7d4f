/** @module domain/sku: the SKU, a product's natural key, and the rules it must follow. */
import { invalid } from './errors.js'

declare const skuBrand: unique symbol
/** A string known to satisfy the SKU rules; only parseSku makes one. */
export type Sku = string & { readonly [skuBrand]: true }

/** In characters (Unicode code points), as WooCommerce and a PostgreSQL varchar(100) count them. */
export const SKU_MAX_LENGTH = 100

// Real store SKUs hold spaces, slashes and letters of any script (`TEE 001`, `ABC/123`, `TÉE-ÜBER`),
// so any printable character is allowed (#12). Refused: control characters, invisible format
// characters (zero-width spaces, byte-order marks), lone surrogates, private-use characters and
// line or paragraph separators: they cannot be typed or seen, and break CSV files and log lines.
// A SKU travels in URL paths percent-encoded.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u

export const SKU_RULE = `any printable characters, at most ${SKU_MAX_LENGTH}, without leading or trailing spaces`

/** Why a (trimmed) string is not a SKU, or null when it is one. */
export function skuProblem(value: string): string | null {
  if (value.length === 0) return 'is required'
  // Count code points, not UTF-16 units: 'É' or an emoji is one character to the person typing it.
  let length = 0
  for (const _ of value) if (++length > SKU_MAX_LENGTH) return `is too long: at most ${SKU_MAX_LENGTH} characters`
  if (UNPRINTABLE.test(value)) return 'must hold only printable characters (no control or invisible characters)'
  return null
}

export function isSku(value: unknown): value is Sku {
  return typeof value === 'string' && value === value.trim() && skuProblem(value) === null
}

/** A SKU from outside: surrounding whitespace is trimmed, then the rules apply. */
export function parseSku(value: unknown, pointer = '/sku'): Sku {
  if (value === undefined || value === null) throw invalid(pointer, 'is required')
  if (typeof value !== 'string') throw invalid(pointer, 'must be a string')
  const sku = value.trim()
  const problem = skuProblem(sku)
  if (problem !== null) throw invalid(pointer, problem)
  return sku as Sku
}
