/** @module domain/quantity: whole units of stock, within bounds no real warehouse exceeds. */
import { invalid } from './errors.js'

/** Upper bound for any single quantity or count; keeps sums far inside safe-integer range. */
export const MAX_QUANTITY = 1_000_000_000

/** A movement's size: a whole number of units, at least one. */
export function parseQuantity(value: unknown, pointer = '/quantity'): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(pointer, 'must be a whole number')
  if (value < 1) throw invalid(pointer, 'must be at least 1')
  if (value > MAX_QUANTITY) throw invalid(pointer, `must be at most ${MAX_QUANTITY}`)
  return value
}

/** An absolute count (adjustment, sync): a whole number, zero allowed. */
export function parseCount(value: unknown, pointer = '/quantity'): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(pointer, 'must be a whole number')
  if (value < 0) throw invalid(pointer, 'must not be negative')
  if (value > MAX_QUANTITY) throw invalid(pointer, `must be at most ${MAX_QUANTITY}`)
  return value
}

/**
 * A count that may be below zero: the on hand of a SKU that allows backorders, where a negative
 * figure is the units owed (#14: a levels export of such a SKU imports back). Whether the SKU
 * allows it is known only with the product, so the caller checks that (see negativeCountRefused).
 */
export function parseSignedCount(value: unknown, pointer = '/quantity'): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(pointer, 'must be a whole number')
  if (Math.abs(value) > MAX_QUANTITY) throw invalid(pointer, `must be between -${MAX_QUANTITY} and ${MAX_QUANTITY}`)
  return value
}

/** Why a negative count of this SKU is refused, or null when it is allowed (the SKU takes backorders). */
export function negativeCountRefused(count: number, sku: string, allowsBackorders: boolean): string | null {
  return count < 0 && !allowsBackorders ? `must not be negative: SKU ${sku} does not allow backorders` : null
}
