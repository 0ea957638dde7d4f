/**
 * CPU per movement without HTTP: `updateStock` (the service's own path, group commit included) on
 * a fresh SQLite file, waves of CONC concurrent sales/restocks of 1 on random SKUs, so each wave
 * shares a transaction as it does under an HTTP load. Prints µs of CPU per movement per round.
 *   npx tsx bench/movement-inprocess.ts [--watch] [--rounds=5] [--n=20000]
 */
import { updateStock } from '../src/service/stock.js'
import { systemClock } from '../src/service/deps.js'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openStore } from '../src/store/db.js'
import { migrateToLatest } from '../src/store/migrate.js'
import { makeWarehouse, testDeps } from '../test/support/fixtures.js'

const argv = process.argv.slice(2)
const opt = (n: string, d: string) => argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d
const N = Number(opt('n', '20000'))
const ROUNDS = Number(opt('rounds', '5'))
const CONC = Number(opt('c', '50'))
const SKUS = 1000

// As the server opens it: WAL checkpoints on a worker thread, not inside commits.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-mv-'))
const ts = { store: openStore(`sqlite:${path.join(dir, 'b.db')}`, { backgroundCheckpoints: true }) }
await migrateToLatest(ts.store.db, ts.store.caps)
const deps = testDeps(ts.store, systemClock)
const wh = await makeWarehouse(deps)
const now = Date.now()
await ts.store.db.insertInto('product').values(Array.from({ length: SKUS }, (_, i) => ({ sku: `B-${i}`, product_id: 1 + i, parent_id: null, name: null, allows_backorders: 0, safety_stock: 0, low_stock_threshold: 5, created_at: now, updated_at: now }))).execute()
for (let i = 0; i < SKUS; i++) await updateStock(deps, { sku: `B-${i}`, warehouseId: wh.id, changeType: 'restock', quantity: 1_000_000, source: 'seed', referenceId: null, notes: null }, { actor: 'seed' })
if (argv.includes('--watch')) ts.store.writeWatch!.watch(() => {})
const ctx = { actor: 'key_bench' }
for (let r = 0; r < ROUNDS; r++) {
  const cpu0 = process.cpuUsage()
  for (let done = 0; done < N; done += CONC) {
    await Promise.all(
      Array.from({ length: CONC }, () =>
        updateStock(deps, { sku: `B-${Math.floor(Math.random() * SKUS)}`, warehouseId: wh.id, changeType: Math.random() < 0.5 ? 'sale' : 'restock', quantity: 1, source: 'api', referenceId: null, notes: null }, ctx),
      ),
    )
  }
  const c = process.cpuUsage(cpu0)
  process.stdout.write(`round ${r + 1}: ${((c.user + c.system) / N).toFixed(1)} µs CPU per movement\n`)
}
await ts.store.close()
fs.rmSync(dir, { recursive: true, force: true })
