/** @module service/demo: a believable data set for a first look: 3 warehouses, ~1,000 SKUs, some history. */
import type { ServiceDeps } from './deps.js'
import { insertProduct } from '../store/product-repo.js'
import { insertWarehouse, listWarehouses } from '../store/warehouse-repo.js'
import { bulkSync } from './bulk-sync.js'
import { updateStock } from './stock.js'
import { createReservation, commitReservation } from './reservations.js'
import { transferStock } from './transfer.js'
import { inTransaction } from './transaction.js'
import { DomainError } from '../domain/errors.js'

// A small seeded generator (mulberry32) so every demo load is the same data set.
function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const CATEGORIES = ['TEE', 'HOOD', 'CAP', 'MUG', 'BAG', 'SOCK', 'POST', 'BOOK'] as const
const SIZES = ['S', 'M', 'L', 'XL'] as const
const NAMES: Record<(typeof CATEGORIES)[number], string> = {
  TEE: 'T-shirt',
  HOOD: 'Hoodie',
  CAP: 'Cap',
  MUG: 'Mug',
  BAG: 'Tote bag',
  SOCK: 'Socks',
  POST: 'Poster',
  BOOK: 'Notebook',
}

export interface DemoSummary {
  readonly warehouses: number
  readonly skus: number
  readonly movements: number
}

/** Load the demo data set. Refuses when warehouses already exist, so it never mixes with real data. */
export async function loadDemoData(deps: ServiceDeps): Promise<DemoSummary> {
  if ((await listWarehouses(deps.store.db)).length > 0) {
    throw new DomainError('already_exists', 'The database already holds warehouses; the demo loads only into an empty one', {})
  }
  const rnd = seededRandom(20261125)
  const pick = (n: number) => Math.floor(rnd() * n)
  const ctx = { actor: 'system:demo' }
  const now = deps.clock.now()
  const whs = await inTransaction(deps, async (trx) => [
    await insertWarehouse(trx, { code: 'MAIN', name: 'Main warehouse', location: 'Rotterdam, NL', priority: 1, isActive: true }, now),
    await insertWarehouse(trx, { code: '3PL-EAST', name: 'East 3PL', location: 'Poznań, PL', priority: 2, isActive: true }, now),
    await insertWarehouse(trx, { code: 'DROPSHIP', name: 'Drop-ship supplier', location: 'Shenzhen, CN', priority: 3, isActive: true }, now),
  ])
  const skus: string[] = []
  await inTransaction(deps, async (trx) => {
    let productId = 1000
    for (let i = 0; skus.length < 1000; i++) {
      const cat = CATEGORIES[i % CATEGORIES.length]!
      const model = String(Math.floor(i / CATEGORIES.length) + 1).padStart(3, '0')
      const parentId = ++productId
      const variable = cat === 'TEE' || cat === 'HOOD' || cat === 'SOCK'
      const base = { name: `${NAMES[cat]} ${model}`, allowsBackorders: cat === 'BOOK', safetyStock: cat === 'MUG' ? 2 : 0, lowStockThreshold: 5 }
      if (!variable) {
        const sku = `${cat}-${model}`
        await insertProduct(trx, { ...base, sku, productId: parentId, parentId: null }, now)
        skus.push(sku)
        continue
      }
      for (const size of SIZES) {
        const sku = `${cat}-${model}-${size}`
        await insertProduct(trx, { ...base, name: `${base.name} (${size})`, sku, productId: ++productId, parentId }, now)
        skus.push(sku)
      }
    }
  })
  let movements = 0
  const items = skus.flatMap((sku) => whs.filter(() => rnd() < 0.7).map((w) => ({ sku, warehouse_id: w.id, quantity: pick(120) })))
  const synced = await bulkSync(deps, { items, source: 'demo', referenceId: 'demo-initial-count' }, ctx)
  movements += synced.value.applied
  for (let i = 0; i < 400; i++) {
    const sku = skus[pick(skus.length)]!
    const wh = whs[pick(whs.length)]!
    const kind = rnd()
    try {
      if (kind < 0.55) {
        await updateStock(deps, { sku, warehouseId: wh.id, changeType: 'sale', quantity: 1 + pick(3), source: 'woocommerce', referenceId: `order-${5000 + i}`, notes: null }, ctx)
      } else if (kind < 0.8) {
        await updateStock(deps, { sku, warehouseId: wh.id, changeType: 'restock', quantity: 10 + pick(40), source: 'erp_system_b', referenceId: `po-${700 + i}`, notes: 'purchase order received' }, ctx)
      } else if (kind < 0.9) {
        const to = whs[(whs.indexOf(wh) + 1) % whs.length]!
        await transferStock(deps, { sku, fromWarehouseId: wh.id, toWarehouseId: to.id, quantity: 1 + pick(5), source: 'demo', referenceId: null, notes: 'rebalance' }, ctx)
      } else {
        const r = await createReservation(deps, { sku, quantity: 1, source: 'woocommerce', referenceId: `cart-${i}`, notes: null }, ctx)
        movements += r.value.reservation.lines.length
        if (rnd() < 0.5) await commitReservation(deps, r.value.reservation.id, ctx)
      }
      movements++
    } catch (e) {
      // Sales and transfers from empty levels are refused, as they would be in life; skip those.
      if (!(e instanceof DomainError && e.code === 'insufficient_stock')) throw e
    }
  }
  return { warehouses: whs.length, skus: skus.length, movements }
}
