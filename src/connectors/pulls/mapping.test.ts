import { describe, expect, it } from 'vitest'
import { mapPage } from './mapping.js'

describe('pull mapping', () => {
  it('maps the seed format by default, one item or many, numeric strings as counts', async () => {
    expect(await mapPage(null, { inventory_items: [{ sku: 'A', quantity: 3 }, { sku: 'B', quantity: '4' }] })).toEqual([{ sku: 'A', quantity: 3 }, { sku: 'B', quantity: 4 }])
    expect(await mapPage(null, { inventory_items: [{ sku: 'A', quantity: 3 }] })).toEqual([{ sku: 'A', quantity: 3 }])
    expect(await mapPage(null, { other: 1 })).toEqual([])
  })

  it('stops a mapping that recurses without end, or runs past its time budget', async () => {
    await expect(mapPage('($f := function($x){ $f($x+1) }; $f(0))', {}, { timeMs: 100, depth: 300, items: 10 })).rejects.toThrow(/deeper|longer/)
    await expect(mapPage('($f := function($x){ 1 + $f($x+1) }; $f(0))', {}, { timeMs: 5000, depth: 300, items: 10 })).rejects.toThrow(/deeper/)
    await expect(mapPage('$sum([1..2000000].($ * 2))', {}, { timeMs: 20, depth: 300, items: 10 })).rejects.toThrow(/longer/)
  })

  it('refuses a result larger than the item bound, and says where an expression does not compile', async () => {
    await expect(mapPage('[1..50].{"sku": "A", "quantity": $}', {}, { timeMs: 1000, depth: 300, items: 10 })).rejects.toThrow(/at most 10/)
    await expect(mapPage('inventory_items.{', {})).rejects.toMatchObject({ name: 'MappingError' })
  })
})
