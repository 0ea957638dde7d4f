import { describe, expect, it } from 'vitest'
import { parseSku } from './sku.js'
import { parseCount, parseQuantity } from './quantity.js'

describe('parseSku', () => {
  it.each(['TEE-001-M', 'a', 'X.Y_Z:1#2+3'])('accepts %s', (s) => expect(parseSku(s)).toBe(s))
  it.each([
    ['empty', ''],
    ['too long', 'A'.repeat(101)],
    ['a control character', 'AB\u0007C'],
    ['a space', 'A B'],
    ['a slash', 'A/B'],
    ['a leading dash', '-AB'],
    ['a number', 12],
  ])('refuses %s', (_why, s) => expect(() => parseSku(s)).toThrow(expect.objectContaining({ code: 'validation_failed' })))
})

describe('quantities', () => {
  it.each([0, -1, 1.5, Number.NaN, 1e10, '3'])('parseQuantity refuses %s', (q) => expect(() => parseQuantity(q)).toThrow())
  it('parseCount accepts zero', () => expect(parseCount(0)).toBe(0))
})
