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
