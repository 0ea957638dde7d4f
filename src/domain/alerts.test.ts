import { describe, expect, it } from 'vitest'
import { crossingOf, stateOf } from './alerts.js'

describe('alerts', () => {
  describe('crossingOf', () => {
    it('raises low_stock once on the way down and stays quiet while low', () => {
      expect(crossingOf('ok', 5, 5, 0)).toEqual({ next: 'low', raise: 'low_stock' })
      expect(crossingOf('low', 3, 5, 0)).toEqual({ next: 'low', raise: null })
    })
    it('escalates to out_of_stock at zero or below, once', () => {
      expect(crossingOf('low', 0, 5, 0)).toEqual({ next: 'out', raise: 'out_of_stock' })
      expect(crossingOf('ok', -2, 5, 0)).toEqual({ next: 'out', raise: 'out_of_stock' })
      expect(crossingOf('out', -1, 5, 0)).toEqual({ next: 'out', raise: null })
    })
    it('stays out when it comes back only into the low band (no second low_stock)', () => {
      expect(crossingOf('out', 3, 5, 0)).toEqual({ next: 'out', raise: null })
    })
    it('re-arms above the threshold plus the hysteresis margin, with back_in_stock', () => {
      expect(crossingOf('low', 6, 5, 2)).toEqual({ next: 'low', raise: null })
      expect(crossingOf('low', 7, 5, 2)).toEqual({ next: 'low', raise: null })
      expect(crossingOf('low', 8, 5, 2)).toEqual({ next: 'ok', raise: 'back_in_stock' })
      expect(crossingOf('out', 6, 5, 0)).toEqual({ next: 'ok', raise: 'back_in_stock' })
      expect(crossingOf('ok', 9, 5, 0)).toEqual({ next: 'ok', raise: null })
    })
  })
  it('stateOf judges a figure seen for the first time', () => {
    expect(stateOf(0, 5)).toBe('out')
    expect(stateOf(5, 5)).toBe('low')
    expect(stateOf(6, 5)).toBe('ok')
  })
})
