import { describe, expect, it } from 'vitest'
import { parseSku } from './sku.js'
import { parseCount, parseQuantity } from './quantity.js'

describe('parseSku', () => {
  // Real WooCommerce SKUs (#12): spaces, slashes, any script.
  it.each(['TEE-001-M', 'a', 'X.Y_Z:1#2+3', 'TEE 001', 'ABC/123', 'TÉE-ÜBER', '-AB', 'Ä'.repeat(100), '🧢 cap'])('accepts %s', (s) => expect(parseSku(s)).toBe(s))
  it('trims surrounding whitespace', () => expect(parseSku('  TEE 001 ')).toBe('TEE 001'))
  it.each([
    ['empty', ''],
    ['only spaces', '   '],
    ['a control character', 'AB\u0007C'],
    ['a tab inside', 'A\tB'],
    ['a zero-width space', 'A\u200bB'],
    ['a line separator', 'A\u2028B'],
    ['a number', 12],
  ])('refuses %s', (_why, s) => expect(() => parseSku(s)).toThrow(expect.objectContaining({ code: 'validation_failed' })))
  it('says a long SKU is too long, counting characters not bytes', () => {
    expect(() => parseSku('A'.repeat(101))).toThrow(/too long/)
    expect(() => parseSku('É'.repeat(101))).toThrow(/too long/)
  })
})

describe('quantities', () => {
  it.each([0, -1, 1.5, Number.NaN, 1e10, '3'])('parseQuantity refuses %s', (q) => expect(() => parseQuantity(q)).toThrow())
  it('parseCount accepts zero', () => expect(parseCount(0)).toBe(0))
})
