/**
 * Catalogue import from a WooCommerce store (#14) against the emulator over real HTTP, on both
 * databases: products and variations read in pages of 100, SKUs registered with product id and
 * parent id, SKUs missing or duplicated in the store reported, a dry run that changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { DATABASES } from '../support/databases.js'
import { expectJson, expectProblem, snapshot } from '../e2e/support-e2e.js'
import { connectStore, startHub, startShop, type Hub, type Shop } from '../woocommerce/support.js'

describe.each(DATABASES)('stores import-products on $name', ({ name, skipReason }) => {
  let hub: Hub | undefined
  let shop: Shop | undefined
  afterEach(async () => {
    await hub?.close()
    await shop?.emu.stop()
    hub = undefined
    shop = undefined
  })

  it('registers every product and variation, reports missing and duplicated SKUs, and a dry run changes nothing', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason)
    hub = await startHub(name)
    shop = await startShop({ simple: 120, variable: 3 })
    const dupA = shop.emu.shop.addProduct({ name: 'Dup A', sku: 'DUP-1', manageStock: true, stockQuantity: 1, regularPrice: '1.00' })
    const dupB = shop.emu.shop.addProduct({ name: 'Dup B', sku: 'DUP-1-TMP', manageStock: true, stockQuantity: 1, regularPrice: '1.00' })
    dupB.sku = 'DUP-1' // the store's own API refuses a taken SKU; imports and plugins do not
    const noSku = shop.emu.shop.addProduct({ name: 'Loose item', sku: '', manageStock: true, stockQuantity: 1, regularPrice: '1.00' })
    await connectStore(hub, shop)

    const before = await snapshot(hub.db.store.db)
    const dry = (await expectJson(await hub.call('POST', 'stores/shop1/import-products?dry_run=true'))).data
    expect(await snapshot(hub.db.store.db)).toEqual(before)
    expect(dry).toMatchObject({ dry_run: true, scanned: 120 + 9 + 3, created: 129, rejected: 0 })
    expect(dry.duplicated).toEqual([{ sku: 'DUP-1', product_ids: [dupA.id, dupB.id] }])
    expect(dry.missing_sku).toEqual([{ product_id: noSku.id, parent_id: null, name: 'Loose item' }])
    // More than one page of products was read (100 per page).
    const pages = shop.emu.requests.filter((r) => r.method === 'GET' && /\/products$/.test(r.path))
    expect(pages.length).toBeGreaterThanOrEqual(2)
    expect(pages.every((r) => /per_page=100/.test(r.query))).toBe(true)

    const r = (await expectJson(await hub.call('POST', 'stores/shop1/import-products'))).data
    expect(r).toMatchObject({ dry_run: false, created: 129, updated: 0, rejected: 0 })
    const v = shop.seeded.variations[0]!
    const p = await hub.db.store.db.selectFrom('product').selectAll().where('sku', '=', v.sku).executeTakeFirstOrThrow()
    expect([Number(p.product_id), Number(p.parent_id)]).toEqual([v.id, v.parentId])
    const s = await hub.db.store.db.selectFrom('product').selectAll().where('sku', '=', shop.seeded.simple[119]!.sku).executeTakeFirstOrThrow()
    expect([Number(s.product_id), s.parent_id]).toEqual([shop.seeded.simple[119]!.id, null])
    expect(await hub.db.store.db.selectFrom('product').select('sku').where('sku', '=', 'DUP-1').execute()).toEqual([])
    // The store is mapped to what was registered.
    const mapped = await hub.db.store.db.selectFrom('woo_mapping').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()
    expect(Number(mapped.n)).toBe(129)

    // Again: nothing new; a renamed product is an update.
    shop.emu.shop.products.get(shop.seeded.simple[0]!.id)!.name = 'Renamed simple'
    const again = (await expectJson(await hub.call('POST', 'stores/shop1/import-products'))).data
    expect(again).toMatchObject({ created: 0, updated: 1, unchanged: 128 })
  })

  it('refuses unknown stores, missing scope and bad parameters without changing anything', async (ctx) => {
    if (skipReason) return ctx.skip(skipReason)
    hub = await startHub(name)
    const before = await snapshot(hub.db.store.db)
    await expectProblem(await hub.call('POST', 'stores/nope/import-products'), 404, 'store_not_found')
    await expectProblem(await hub.call('POST', 'stores/nope/import-products', { key: null }), 401, 'unauthenticated')
    await expectProblem(await hub.call('POST', 'stores/nope/import-products?dry_run=1'), 422, 'validation_failed')
    expect(await snapshot(hub.db.store.db)).toEqual(before)
  })
})
