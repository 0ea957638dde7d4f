import { afterAll, describe, expect, it } from 'vitest'
import { closeMappingRunner } from '../../service/provider-mapping.js'
import { mapPage } from './mapping.js'

describe('pull mappings', () => {
  afterAll(() => closeMappingRunner())

  it('maps the seed format by default and reads numeric strings as counts', async () => {
    expect(await mapPage(null, { inventory_items: [{ sku: 'A', quantity: 3 }, { sku: 'B', quantity: '4' }] })).toEqual([{ sku: 'A', quantity: 3 }, { sku: 'B', quantity: 4 }])
    expect(await mapPage(null, { inventory_items: [{ sku: 'A', quantity: 3 }] })).toEqual([{ sku: 'A', quantity: 3 }])
    expect(await mapPage(null, { other: 1 })).toEqual([])
  })

  it('stops runaway expressions with mapping_failed, in the shared fenced worker', async () => {
    await expect(mapPage('($f := function($x){ 1 + $f($x+1) }; $f(0))', {})).rejects.toMatchObject({ code: 'mapping_failed' })
    await expect(mapPage('$sum([1..20000000].($ * 2))', {})).rejects.toMatchObject({ code: 'mapping_failed' })
    // an allocation bomb: the worker's small heap gives out, not the server's
    await expect(mapPage('($s := "xxxxxxxxxxxxxxxx"; $d := function($x, $n){ $n = 0 ? $x : $d($x & $x, $n - 1) }; $length($d($s, 40)))', {})).rejects.toMatchObject({ code: 'mapping_failed' })
    // the server still maps after that
    expect(await mapPage(null, { inventory_items: [{ sku: 'A', quantity: 1 }] })).toEqual([{ sku: 'A', quantity: 1 }])
  })

  it('bounds the items of a page and says what is wrong in the expression', async () => {
    await expect(mapPage('[1..50].{"sku": "A", "quantity": $}', {}, 10)).rejects.toThrow(/at most 10/)
    await expect(mapPage('inventory_items.{', {})).rejects.toMatchObject({ code: 'mapping_failed' })
  })
})
