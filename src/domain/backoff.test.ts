import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffCeilingMs, backoffMs } from './backoff.js'

describe('backoff', () => {
  it('is monotone in the attempt and capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), (a) => {
        expect(backoffCeilingMs(a + 1)).toBeGreaterThanOrEqual(backoffCeilingMs(a))
        expect(backoffCeilingMs(a)).toBeLessThanOrEqual(60 * 60 * 1000)
      }),
    )
  })
  it('draws below the ceiling, never below a Retry-After floor', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), fc.integer({ min: 0, max: 10_000 }), (a, r, floor) => {
        const d = backoffMs(a, () => r, undefined, floor)
        expect(d).toBeGreaterThanOrEqual(floor)
        expect(d).toBeLessThanOrEqual(Math.max(floor, backoffCeilingMs(a)))
      }),
    )
  })
})
