import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DomainError } from './errors.js'
import { applyMovement, parseUpdateChangeType, type LevelState, type Movement } from './movement.js'
import { availableOf } from './stock-level.js'

const level = (over: Partial<LevelState> = {}): LevelState => ({ sku: 'A', warehouseId: 1, onHand: 10, reserved: 0, safetyStock: 0, lastCountedAt: null, ...over })
const strict = { allowsBackorders: false }

describe('movement rules', () => {
  describe('sale', () => {
    it('takes units off on hand', () => {
      expect(applyMovement(level(), { kind: 'sale', quantity: 4 }, strict).after).toEqual({ onHand: 6, reserved: 0 })
    })
    it('refuses a sale beyond available with insufficient_stock, never clamping to zero', () => {
      const run = () => applyMovement(level({ onHand: 3 }), { kind: 'sale', quantity: 5 }, strict)
      expect(run).toThrowError(DomainError)
      try {
        run()
      } catch (e) {
        expect((e as DomainError).code).toBe('insufficient_stock')
        expect((e as DomainError).details).toMatchObject({ requested: 5, available: 3 })
      }
    })
    it('counts reserved and safety stock as unavailable', () => {
      expect(() => applyMovement(level({ onHand: 10, reserved: 4, safetyStock: 3 }), { kind: 'sale', quantity: 4 }, strict)).toThrow(/only 3 available/)
    })
    it('lets a backorder SKU go below zero', () => {
      expect(applyMovement(level({ onHand: 1 }), { kind: 'sale', quantity: 3 }, { allowsBackorders: true }).after.onHand).toBe(-2)
    })
  })

  describe('sync', () => {
    it('sets an absolute count and remembers when it was observed', () => {
      const out = applyMovement(level(), { kind: 'sync', count: 42, observedAt: 1000 }, strict)
      expect(out).toEqual({ status: 'applied', after: { onHand: 42, reserved: 0 }, lastCountedAt: 1000 })
    })
    it('records a count older than the newest applied one as stale and changes nothing', () => {
      const out = applyMovement(level({ lastCountedAt: 2000 }), { kind: 'sync', count: 1, observedAt: 1999 }, strict)
      expect(out.status).toBe('stale')
      expect(out.after).toEqual({ onHand: 10, reserved: 0 })
    })
  })

  describe('reservations', () => {
    it('reserve then release is the identity', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 500 }), (onHand, reserved, q) => {
          const l = level({ onHand, reserved })
          fc.pre(q <= availableOf(l))
          const held = applyMovement(l, { kind: 'reserve', quantity: q }, strict).after
          const back = applyMovement({ ...l, ...held }, { kind: 'release', quantity: q }, strict).after
          expect(back).toEqual({ onHand, reserved })
        }),
      )
    })
    it('commit moves units out of both reserved and on hand, leaving available unchanged', () => {
      const l = level({ onHand: 10, reserved: 4 })
      const after = applyMovement(l, { kind: 'commit', quantity: 4 }, strict).after
      expect(after).toEqual({ onHand: 6, reserved: 0 })
      expect(availableOf({ ...after, safetyStock: 0 })).toBe(availableOf(l))
    })
  })

  it('never lets a sale, reservation or transfer drive available below zero without backorders', () => {
    const movement = fc.oneof(
      fc.record({ kind: fc.constantFrom('sale' as const, 'reserve' as const, 'transfer_out' as const, 'restock' as const), quantity: fc.integer({ min: 1, max: 50 }) }),
    ) as fc.Arbitrary<Movement>
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.array(movement, { maxLength: 40 }), (start, moves) => {
        let l = level({ onHand: start })
        for (const m of moves) {
          try {
            l = { ...l, ...applyMovement(l, m, strict).after }
          } catch (e) {
            expect((e as DomainError).code).toBe('insufficient_stock')
          }
          expect(availableOf(l)).toBeGreaterThanOrEqual(0)
        }
      }),
    )
  })

  describe('parseUpdateChangeType', () => {
    it('accepts the seed aliases deduction and addition', () => {
      expect(parseUpdateChangeType('deduction')).toBe('sale')
      expect(parseUpdateChangeType('addition')).toBe('restock')
    })
    it('refuses an unknown change type with unknown_change_type', () => {
      expect(() => parseUpdateChangeType('teleport')).toThrow(expect.objectContaining({ code: 'unknown_change_type' }))
    })
  })
})
