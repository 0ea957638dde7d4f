/**
 * Bulk sync throughput: 100,000 rows as 10 requests of 10,000 through the service, on a fresh
 * database per kind (STOCKBRIDGE_BENCH_DATABASES=sqlite,postgres; default both), beside the raw
 * limit measured in the same run on the same database (bench/lib/raw-*.ts: what `npm run bench`
 * reports as the bulk limit).
 *
 * Passes, each 10 × 10,000 rows:
 * 1. `create levels`: the first count ever (every level is created);
 * 2. `update levels`: `bulkSync` called directly (10,000 items, one transaction each);
 * 3. `update via job`: what `POST /stock/bulk-sync` does with more than 2,000 items: a queued job,
 *    run in chunks of JOB_CHUNK by the job runner (no HTTP, no polling);
 * 4. `raw`: the same reads and writes without the service (prepared per-row statements on SQLite,
 *    one set-based statement per batch on PostgreSQL).
 *
 *   npx tsx bench/bulk-sync.ts
 */
import { bulkSync } from '../src/service/bulk-sync.js'
import { getJob, JobRunner, submitBulkSyncJob } from '../src/service/jobs.js'
import { rawPgBulk } from './lib/raw-pg.js'
import { rawSqliteBulk } from './lib/raw-sqlite.js'
import { createTestStore, type TestDatabase } from '../test/support/databases.js'
import { makeWarehouse, testDeps } from '../test/support/fixtures.js'

const SKUS = 10_000
const WAREHOUSES = 10
const kinds = (process.env.STOCKBRIDGE_BENCH_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim()) as TestDatabase[]
const passes = (process.env.STOCKBRIDGE_BENCH_PASSES ?? 'create,update,job,raw').split(',').map((s) => s.trim())

async function run(kind: TestDatabase): Promise<void> {
  const ts = await createTestStore(kind)
  try {
    const deps = testDeps(ts.store)
    const now = deps.clock.now()
    const whs: Array<{ id: number }> = []
    for (let i = 0; i < WAREHOUSES; i++) whs.push(await makeWarehouse(deps, { code: `B${i}` }))
    const skus = Array.from({ length: SKUS }, (_, i) => `BENCH-${String(i).padStart(6, '0')}`)
    for (let i = 0; i < skus.length; i += 1000) {
      await ts.store.db
        .insertInto('product')
        .values(skus.slice(i, i + 1000).map((sku, j) => ({ sku, product_id: 1_000_000 + i + j, parent_id: null, name: null, allows_backorders: 0, safety_stock: 0, low_stock_threshold: 5, created_at: now, updated_at: now })))
        .execute()
    }
    // Shuffle-ish order so the service's own (sku, warehouse) ordering is exercised.
    const batches = (salt: number) => whs.map((wh, w) => skus.map((sku, i) => ({ sku, warehouse_id: wh.id, quantity: (i * 7 + w + salt) % 500 })).reverse())
    const report = (pass: string, rows: number, seconds: number) => {
      process.stdout.write(`${kind.padEnd(8)} ${pass.padEnd(15)} ${rows} rows in ${seconds.toFixed(2)} s (${Math.round(rows / seconds)} rows/s)\n`)
      return seconds
    }
    const runner = new JobRunner(deps, 'bench')
    let service: number | null = null
    for (const [p, pass] of ['create', 'update', 'job'].entries()) {
      if (p > 0 && !passes.includes(pass)) continue
      const started = performance.now()
      let applied = 0
      for (const items of batches(p * 13 + 1)) {
        if (pass === 'job') {
          const job = await submitBulkSyncJob(deps, { items, source: 'bench', referenceId: null }, { actor: 'bench' })
          if (!(await runner.runOnce())) throw new Error(`job ${job.value.id} was not claimed`)
          const done = await getJob(deps, job.value.id)
          if (done.status !== 'done' || !done.result) throw new Error(`job ${done.id} ended ${done.status}: ${done.error}`)
          applied += done.result.applied
        } else {
          applied += (await bulkSync(deps, { items, source: 'bench', referenceId: null }, { actor: 'bench' })).value.applied
        }
      }
      const label = { create: 'create levels', update: 'update levels', job: 'update via job' }[pass]!
      const s = report(label, applied, (performance.now() - started) / 1000)
      if (pass !== 'create') service = s
    }
    if (passes.includes('raw')) {
      const items = batches(99).map((b) => b.map((i) => ({ ...i, quantity: i.quantity + 1 })))
      const raw = kind === 'sqlite' ? rawSqliteBulk(ts.url.slice('sqlite:'.length), items, true) : await rawPgBulk(ts.url, items, true)
      report('raw', SKUS * WAREHOUSES, raw)
      if (service !== null) process.stdout.write(`${kind.padEnd(8)} ratio service/raw ${(service / raw).toFixed(2)}\n`)
    }
  } finally {
    await ts.drop()
  }
}

for (const kind of kinds) await run(kind)
