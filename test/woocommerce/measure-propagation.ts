/**
 * Propagation latency, change committed in the hub → figure updated in the store, against the
 * emulator with realistic latency (90 ms per request + 20 ms per batch item), under a steady load.
 *
 *   npx tsx test/woocommerce/measure-propagation.ts [--rate 100] [--seconds 20] [--skus 1000]
 *       [--workers 0] [--ten-k] [--database sqlite|postgres]
 *
 * One process: the hub's services and delivery worker, the emulator, and the load (sales of one
 * unit on random SKUs, so every change gives a new figure). A change counts as arrived when the
 * store first shows its figure or a newer one of the same SKU (coalescing skips figures).
 * `--ten-k` then changes 10,000 SKUs at once and counts the batch requests that carry them.
 */
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import type { ProductRecord } from '../../emulator/woocommerce/shop.js'
import { updateStock } from '../../src/service/stock.js'
import { connectStore, setCounts, startHub, startShop } from './support.js'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '20' },
    skus: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '0' },
    'ten-k': { type: 'boolean', default: false },
    database: { type: 'string', default: 'sqlite' },
  },
})
const rate = Number(values.rate)
const seconds = Number(values.seconds)
const nSkus = Number(values.skus)

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN
}

const hub = await startHub(values.database as 'sqlite' | 'postgres')
const shop = await startShop({ simple: Math.max(nSkus, values['ten-k'] ? 10_000 : 0), variable: 0, latency: { perRequestMs: 90, perItemMs: 20 }, workers: Number(values.workers) })
const skus = shop.seeded.skus
const now = Date.now()
for (let i = 0; i < skus.length; i += 2000) {
  await hub.deps.store.db
    .insertInto('product')
    .values(skus.slice(i, i + 2000).map((sku, j) => ({ sku, product_id: 700_000 + i + j, parent_id: null, name: null, allows_backorders: 0, safety_stock: 0, low_stock_threshold: 0, created_at: now, updated_at: now })))
    .execute()
}
const wh = hub.warehouses[0]!.id
await connectStore(hub, shop, { warehouses: ['BER'] })
const t0 = performance.now()
await hub.woo.map('shop1')
process.stdout.write(`mapped ${skus.length} SKUs in ${Math.round(performance.now() - t0)} ms\n`)
const loadSkus = skus.slice(0, nSkus)
await setCounts(hub, loadSkus.map((sku) => ({ sku, warehouse_id: wh, quantity: 1_000_000 })))
hub.worker.start()
// Let the initial figures settle.
const settled = () => loadSkus.every((sku) => [...shop.emu.shop.products.values()].find((p) => p.sku === sku)?.stockQuantity === 1_000_000)
const bySku = new Map([...shop.emu.shop.products.values()].map((p) => [p.sku, p] as [string, ProductRecord]))
const settle0 = performance.now()
while (!loadSkus.every((sku) => bySku.get(sku)!.stockQuantity === 1_000_000)) await new Promise((r) => setTimeout(r, 100))
void settled
process.stdout.write(`initial figures of ${loadSkus.length} SKUs in the store after ${Math.round(performance.now() - settle0)} ms\n`)

// pending[sku] = changes not yet seen in the store: [figure, committedAt]
const pending = new Map<string, Array<{ figure: number; at: number }>>()
const latencies: number[] = []
shop.emu.onStockChange = (p) => {
  const list = pending.get(p.sku)
  if (!list || p.stockQuantity === null) return
  const t = performance.now()
  // Figures only fall (sales of one), so this figure covers every change down to it.
  let k = -1
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.figure === p.stockQuantity) { k = i; break }
  if (k < 0) return
  for (const c of list.splice(0, k + 1)) latencies.push(t - c.at)
}
const batchesBefore = shop.emu.batchRequests().length
const figure = new Map(loadSkus.map((s) => [s, 1_000_000]))
let sent = 0
const start = performance.now()
const total = rate * seconds
await new Promise<void>((resolve) => {
  const inFlight = new Set<Promise<unknown>>()
  const tick = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate))
    // At most 16 writes in flight (a server's connection pool bounds them the same way).
    while (sent < due && inFlight.size < 16) {
      sent++
      const sku = loadSkus[Math.floor(Math.random() * loadSkus.length)]!
      const p = updateStock(hub.deps, { sku, warehouseId: wh, changeType: 'sale', quantity: 1, source: 'bench', referenceId: null, notes: null }, { actor: 'bench' }).then((r) => {
        const at = performance.now()
        const f = r.value.level.available
        figure.set(sku, Math.min(figure.get(sku)!, f))
        const list = pending.get(sku) ?? []
        // Keep the list ordered by figure, newest (lowest) last.
        list.push({ figure: f, at })
        list.sort((a, b) => b.figure - a.figure)
        pending.set(sku, list)
      })
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
    }
    if (sent >= total) {
      clearInterval(tick)
      void Promise.all([...inFlight]).then(() => resolve())
    }
  }, 5)
})
const loadMs = performance.now() - start
const drainStart = performance.now()
while ([...pending.values()].some((l) => l.length) && performance.now() - drainStart < 60_000) await new Promise((r) => setTimeout(r, 50))
const batches = shop.emu.batchRequests().slice(batchesBefore)
process.stdout.write(
  [
    `load: ${sent} sales in ${(loadMs / 1000).toFixed(1)} s (${(sent / (loadMs / 1000)).toFixed(0)}/s) over ${loadSkus.length} SKUs; emulator 90 ms/request + 20 ms/item, workers=${values.workers === '0' ? 'unlimited' : values.workers}; database ${values.database}`,
    `propagation (commit → store figure): n=${latencies.length} p50=${pct(latencies, 50).toFixed(0)} ms p90=${pct(latencies, 90).toFixed(0)} ms p99=${pct(latencies, 99).toFixed(0)} ms max=${Math.max(...latencies).toFixed(0)} ms; not arrived: ${[...pending.values()].reduce((n, l) => n + l.length, 0)}`,
    `batch requests: ${batches.length}, items ${batches.reduce((n, b) => n + b.items, 0)} (mean ${(batches.reduce((n, b) => n + b.items, 0) / Math.max(1, batches.length)).toFixed(1)} per request)`,
    '',
  ].join('\n'),
)

if (values['ten-k']) {
  await hub.worker.stop()
  const ten = skus.slice(0, 10_000)
  const before = shop.emu.batchRequests().length
  await setCounts(hub, ten.map((sku, i) => ({ sku, warehouse_id: wh, quantity: 10 + (i % 7) })))
  const { DeliveryWorker } = await import('../../src/sync/worker.js')
  const { subscriptionResolver } = await import('../../src/sync/subscription-destinations.js')
  const worker = new DeliveryWorker(hub.deps, hub.woo.resolver(subscriptionResolver(hub.deps.store.db, 5000)), { workerId: 'ten-k', batchSize: 400, pollMs: 50 })
  const t = performance.now()
  worker.start()
  const tenBySku = new Map([...shop.emu.shop.products.values()].map((p) => [p.sku, p] as [string, ProductRecord]))
  while (!ten.every((sku, i) => tenBySku.get(sku)!.stockQuantity === 10 + (i % 7))) await new Promise((r) => setTimeout(r, 200))
  const b = shop.emu.batchRequests().slice(before)
  process.stdout.write(`10,000 changed SKUs: ${b.length} batch requests (max ${Math.max(...b.map((x) => x.items))} items), all in the store after ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
  await worker.stop()
}
await hub.close()
await shop.emu.stop()
process.exit(0)
