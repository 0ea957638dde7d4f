/**
 * `npx tsx bench/alerts-evaluator-ab.ts TREE_A TREE_B [--mode=quiet|first] [--events=20000] [--rounds=5] [--page=200]`
 *
 * The alert evaluator's CPU per event on SQLite (#15), in-process: TREE_A's and TREE_B's
 * evaluateAlerts alternated over copies of one database holding the same committed events. A
 * figure that does not depend on how busy the machine's other core is, unlike the server A/B
 * (bench/alerts-ab.ts), whose throughput swings with other load. `quiet`: sales on 1,000 SKUs far
 * above their thresholds (the alerts bench row's load); `first`: the first movement of as many new
 * levels (a CSV import of first counts), each stored as a watch state.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const [A, B] = argv.filter((a) => !a.startsWith('--')).map((t) => path.resolve(t))
if (!A || !B) throw new Error('usage: bench/alerts-evaluator-ab.ts TREE_A TREE_B [--mode=quiet|first]')
const MODE = opt('mode', 'quiet')
const N = 1000
const M = Number(opt('events', MODE === 'first' ? '10000' : '20000'))
const ROUNDS = Number(opt('rounds', '5'))
const load = async (root: string) => ({ alerts: await import(`${root}/src/service/alerts.js`) })
const trees = { A: await load(A), B: await load(B) }
const { openStore } = await import(`${B}/src/store/db.js`)
const { migrateToLatest } = await import(`${B}/src/store/migrate.js`)
const { updateStock } = await import(`${B}/src/service/stock.js`)
const { createProduct, createWarehouse } = await import(`${B}/src/service/catalog.js`)
const { silentLogger, ulidIds } = await import(`${B}/src/service/deps.js`)
const { EventBus } = await import(`${B}/src/service/event-bus.js`)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'micro-ab-'))
const url = `sqlite:${dir}/s.db`
const mk = (store: any) => ({ store, clock: { now: () => Date.now() }, ids: ulidIds(), log: silentLogger, events: new EventBus() })
let store = openStore(url); await migrateToLatest(store.db, store.caps)
let deps = mk(store)
const wh = await createWarehouse(deps, { code: 'W', name: 'W', location: null, priority: 1, isActive: true })
const P = MODE === 'first' ? M : N
for (let i = 1; i <= P; i++) await createProduct(deps, { sku: `B-${i}`, productId: i, parentId: null, name: null, allowsBackorders: false, safetyStock: 0, lowStockThreshold: 5 })
const move = (i: number, changeType: string, quantity: number) => updateStock(deps, { sku: `B-${i}`, warehouseId: wh.id, changeType, quantity, source: 'b', referenceId: null, notes: null }, { actor: 'b' })
const S = { hysteresis: 0, pageSize: Number(opt('page', '200')), checkpointMs: 3_600_000 }
const ps: Promise<unknown>[] = []
const flush = async () => { await Promise.all(ps); ps.length = 0 }
if (MODE === 'quiet') {
  for (let i = 1; i <= N; i++) await move(i, 'restock', 1_000_000)
  await trees.B.alerts.evaluateAlerts(deps, S); for (;;) { const r = await trees.B.alerts.evaluateAlerts(deps, S); if (!r.more && !r.events) break }
  await trees.B.alerts.checkpointAlertCursor(deps)
  for (let k = 0; k < M; k++) { ps.push(move(1 + (k * 7919) % N, 'sale', 1)); if (ps.length >= 50) await flush() }
} else {
  for (let k = 0; k < M; k++) { ps.push(move(1 + k, 'restock', 1 + (k * 7) % 1000)); if (ps.length >= 50) await flush() }
}
await flush(); await store.close()
const snapshot = `${dir}/snap.db`
{ const D = (await import('better-sqlite3')).default; const d = new D(`${dir}/s.db`); d.pragma('wal_checkpoint(TRUNCATE)'); d.close(); fs.copyFileSync(`${dir}/s.db`, snapshot) }
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system }
const res: Record<'A' | 'B', number[]> = { A: [], B: [] }
for (let r = 0; r < ROUNDS; r++) for (const t of (r % 2 ? ['B', 'A'] : ['A', 'B']) as Array<'A' | 'B'>) {
  for (const f of ['s.db', 's.db-wal', 's.db-shm']) fs.rmSync(`${dir}/${f}`, { force: true })
  fs.copyFileSync(snapshot, `${dir}/s.db`)
  const st = openStore(url); const d = mk(st)
  const c0 = cpu(); let ev = 0
  for (;;) { const x = await trees[t].alerts.evaluateAlerts(d, S); ev += x.events; if (!x.more && x.events === 0) break }
  res[t].push((cpu() - c0) / ev)
  await st.close()
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
for (const t of ['A', 'B'] as const) console.log(`${MODE} ${t}: µs CPU/event median ${med(res[t]).toFixed(2)} (${res[t].map((x) => x.toFixed(1)).join(' ')})`)
console.log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
fs.rmSync(dir, { recursive: true, force: true })
