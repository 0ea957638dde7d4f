/**
 * The WooCommerce bench's matching of changes to the store's writes (bench/lib/woocommerce.ts
 * `settle`): its latencies are the figures the propagation rows report, so they are pinned here.
 */
import { describe, expect, it } from 'vitest'
import { settle } from '../../bench/lib/woocommerce.js'

const change = (id: number, figure: number, at: number) => ({ id, sku: 'S', figure, at })

describe('bench: settling changes against store writes', () => {
  it('a write settles every change up to the latest one with its figure', () => {
    const r = settle([change(1, 11, 100), change(2, 12, 150)], [['S', 12, 300]], () => 12, new Map([['S', 10]]))
    expect(r.latencies).toEqual([200, 150])
    expect(r).toMatchObject({ pending: 0, netZero: 0 })
  })

  it('changes that brought the SKU back to what the store showed cancel out: no latency charged until a later change', () => {
    // The store shows 10; a sale and a restock (11, 10) coalesce and nothing needs pushing; a later change (12) is written.
    const r = settle([change(1, 11, 100), change(2, 10, 120), change(3, 12, 5000)], [['S', 12, 5200]], () => 12, new Map([['S', 10]]))
    expect(r.latencies).toEqual([200])
    expect(r).toMatchObject({ pending: 0, netZero: 2 })
  })

  it('changes that were each written keep their own latencies, even when the later one returns to an earlier figure', () => {
    const r = settle([change(1, 11, 100), change(2, 10, 120)], [['S', 11, 300], ['S', 10, 500]], () => 10, new Map([['S', 10]]))
    expect(r.latencies).toEqual([200, 380])
    expect(r).toMatchObject({ pending: 0, netZero: 0 })
  })

  it('a change never written is pending unless the store already shows the newest figure', () => {
    expect(settle([change(1, 11, 100)], [], () => 10, new Map([['S', 10]]))).toMatchObject({ pending: 1, netZero: 0 })
    expect(settle([change(1, 11, 100), change(2, 10, 120)], [], () => 10, new Map([['S', 10]]))).toMatchObject({ pending: 0, netZero: 2 })
  })
})
