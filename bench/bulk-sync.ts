/**
 * Bulk sync throughput: 100,000 rows as 10 requests of 10,000 through the service function, on a
 * fresh database per kind (STOCKBRIDGE_BENCH_DATABASES=sqlite,postgres; default both).
 * Two passes: the first creates every level (first count ever), the second updates them.
 *
 *   npx tsx bench/bulk-sync.ts
 */
import { bulkSync } from '../src/service/bulk-sync.js'
import { createTestStore, type TestDatabase } from '../test/support/databases.js'
import { makeWarehouse, testDeps } from '../test/support/fixtures.js'

const SKUS = 10_000
const WAREHOUSES = 10
const kinds = (process.env.STOCKBRIDGE_BENCH_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim()) as TestDatabase[]

async function run(kind: TestDatabase): Promise<void> {
  const ts = await createTestStore(kind)
  try {
    const deps = testDeps(ts.store)
    const now = deps.clock.now()
    const whs = []
    for (let i = 0; i < WAREHOUSES; i++) whs.push(await makeWarehouse(deps, { code: `B${i}` }))
    const skus = Array.from({ length: SKUS }, (_, i) => `BENCH-${String(i).padStart(6, '0')}`)
    for (let i = 0; i < skus.length; i += 1000) {
      await ts.store.db
        .insertInto('product')
        .values(skus.slice(i, i + 1000).map((sku, j) => ({ sku, product_id: 1_000_000 + i + j, parent_id: null, name: null, allows_backorders: 0, safety_stock: 0, low_stock_threshold: 5, created_at: now, updated_at: now })))
        .execute()
    }
    for (const pass of ['create levels', 'update levels']) {
      const started = performance.now()
      let applied = 0
      for (const [w, wh] of whs.entries()) {
        // Shuffle-ish order so the service's own (sku, warehouse) ordering is exercised.
        const items = skus.map((sku, i) => ({ sku, warehouse_id: wh.id, quantity: (i * 7 + w + pass.length) % 500 })).reverse()
        const r = await bulkSync(deps, { items, source: 'bench', referenceId: null }, { actor: 'bench' })
        applied += r.value.applied
      }
      const seconds = (performance.now() - started) / 1000
      process.stdout.write(`${kind.padEnd(8)} ${pass.padEnd(14)} ${applied} rows in ${seconds.toFixed(2)} s (${Math.round(applied / seconds)} rows/s)\n`)
    }
  } finally {
    await ts.drop()
  }
}

for (const kind of kinds) await run(kind)
