import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { allocateByPriority } from './allocation.js'

const wh = (warehouseId: number, priority: number, available: number) => ({ warehouseId, warehouseCode: `W${warehouseId}`, priority, available })

describe('allocateByPriority', () => {
  it('takes everything from the highest-priority warehouse when it can', () => {
    expect(allocateByPriority('A', 3, [wh(2, 2, 100), wh(1, 1, 5)]).lines).toEqual([{ warehouseId: 1, quantity: 3 }])
  })
  it('splits in priority order and explains each line', () => {
    const a = allocateByPriority('A', 8, [wh(1, 1, 5), wh(2, 2, 0), wh(3, 3, 10)])
    expect(a.lines).toEqual([
      { warehouseId: 1, quantity: 5 },
      { warehouseId: 3, quantity: 3 },
    ])
    expect(a.explanation.join('\n')).toMatch(/W2 .*skipped/)
  })
  it('refuses when all warehouses together fall short, giving the total available', () => {
    expect(() => allocateByPriority('A', 20, [wh(1, 1, 5), wh(2, 2, 4)])).toThrow(expect.objectContaining({ code: 'insufficient_stock', details: expect.objectContaining({ available: 9 }) }))
  })
  it('always allocates exactly the quantity, never more than a warehouse has', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 50 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 200 }), (avail, q) => {
        const cands = avail.map((a, i) => wh(i + 1, i % 3, a))
        const total = avail.reduce((s, a) => s + Math.max(0, a), 0)
        if (q > total) {
          expect(() => allocateByPriority('A', q, cands)).toThrow()
          return
        }
        const { lines } = allocateByPriority('A', q, cands)
        expect(lines.reduce((s, l) => s + l.quantity, 0)).toBe(q)
        for (const l of lines) expect(l.quantity).toBeLessThanOrEqual(cands.find((c) => c.warehouseId === l.warehouseId)!.available)
      }),
    )
  })
})
