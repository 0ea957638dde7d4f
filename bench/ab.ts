/**
 * `npx tsx bench/ab.ts TREE_A TREE_B [--rounds=3] [--seconds=3] [--only=update,read-one,read-batch] [--profile=A|B] [--warehouses=1]`
 *
 * An interleaved A/B of two service trees on the same machine at the same time: both servers run
 * (fresh SQLite files, same seed), and each round loads A then B with the same requests, so machine
 * load hits both alike. Prints, per scenario, each round's rate and the server's CPU per response
 * (the figure that does not swing with load), then the medians and B/A. A tree is a checkout or a
 * `git archive` export with node_modules linked. `--warehouses=N` gives every SKU a level in N
 * warehouses (writes go to the first), as the full bench's 11 do, so reads carry that many levels.
 *
 * `--env-B=K=V,K=V` (or -A): extra environment for one side's server, e.g. the same tree twice with
 * `--env-B=ALERTS=off` to see what a background worker costs.
 * `--db=pg`: each tree's server runs on a fresh PostgreSQL database instead (STOCKBRIDGE_BENCH_PG,
 * default postgres://postgres@127.0.0.1:5432/postgres; pool of 32, as the main bench), dropped at the end.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Api } from './lib/api.js'
import { measure, type Scenario } from './lib/load.js'
import { killAll, startServer, type ServerHandle } from './lib/procs.js'
import { renderProfile, summarizeProfile } from './lib/profile.js'
import { createDatabase, type PgAdmin } from './lib/raw-pg.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const trees = argv.filter((a) => !a.startsWith('--')).map((t) => path.resolve(t))
if (trees.length < 1) throw new Error('usage: bench/ab.ts TREE_A [TREE_B] [--rounds=3] [--seconds=3]')
const ROUNDS = Number(opt('rounds', '3'))
const SECONDS = Number(opt('seconds', '3'))
const SKUS = Number(opt('skus', '1000'))
const ONLY = opt('only', 'update,read-one,read-batch').split(',') as Scenario[]
const PROFILE = opt('profile', '')
const WAREHOUSES = Number(opt('warehouses', '1'))
const CONNS: Record<string, number> = { update: Number(opt('c', '50')), 'read-one': 10, 'read-batch': 10, hot: 64 }
const DB = opt('db', 'sqlite')
const PG_ADMIN = process.env.STOCKBRIDGE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const pgDatabases: PgAdmin[] = []

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stockbridge-ab-'))

async function start(tree: string, tag: string): Promise<{ srv: ServerHandle; wh: number; profDir?: string }> {
  const profDir = PROFILE === tag ? fs.mkdtempSync(path.join(dir, 'prof-')) : undefined
  let databaseUrl = `sqlite:${path.join(dir, `${tag}.db`)}`
  if (DB === 'pg') {
    const pgdb = await createDatabase(PG_ADMIN, `ab${tag.toLowerCase()}`)
    pgDatabases.push(pgdb)
    databaseUrl = pgdb.url
  }
  const extraEnv = Object.fromEntries(opt(`env-${tag}`, '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
  const srv = await startServer({ root: tree, databaseUrl, env: { ...(DB === 'pg' ? { DATABASE_POOL_SIZE: '32' } : {}), ...extraEnv }, ...(profDir ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}) })
  const api = new Api(srv.url, srv.adminKey!)
  const whs: number[] = []
  for (let w = 1; w <= WAREHOUSES; w++) whs.push(await api.createWarehouse(`AB${w}`))
  const wh = whs[0]!
  await api.createProducts('BENCH-', SKUS, 1_000_000)
  const items = whs.flatMap((w) => Array.from({ length: SKUS }, (_, i) => ({ sku: `BENCH-${String(i + 1).padStart(6, '0')}`, warehouse_id: w, quantity: 1_000_000 })))
  for (let i = 0; i < items.length; i += 2000) await api.bulkSync(items.slice(i, i + 2000))
  return { srv, wh, ...(profDir ? { profDir } : {}) }
}

try {
  const servers = await Promise.all(trees.map((t, i) => start(t, String.fromCharCode(65 + i))))
  const results: Record<string, Array<Array<{ rate: number; cpu: number; p99: number }>>> = {}
  for (let round = 1; round <= ROUNDS; round++) {
    for (const scenario of ONLY) {
      for (const [i, s] of servers.entries()) {
        const r = await measure({ url: s.srv.url, scenario, connections: CONNS[scenario]!, duration: SECONDS, warmupSeconds: 0.5, apiKey: s.srv.adminKey!, skuPrefix: 'BENCH-', skuCount: SKUS, warehouseId: s.wh, batchSize: 50 }, s.srv.pid)
        const bad = Object.entries(r.statusCounts).filter(([c]) => c !== '200')
        ;((results[scenario] ??= trees.map(() => []))[i]!).push({ rate: r.okPerSec, cpu: r.serverCpuMsPerReq ?? NaN, p99: r.p99 })
        process.stderr.write(`round ${round} ${scenario} ${String.fromCharCode(65 + i)}: ${Math.round(r.okPerSec)}/s, ${r.serverCpuMsPerReq} ms CPU/req, p99 ${r.p99} ms${bad.length ? ` UNEXPECTED ${JSON.stringify(bad)}` : ''}\n`)
      }
    }
  }
  for (const [scenario, per] of Object.entries(results)) {
    const line = per.map((xs, i) => `${String.fromCharCode(65 + i)} ${Math.round(median(xs.map((x) => x.rate)))}/s ${median(xs.map((x) => x.cpu)).toFixed(3)} ms/req p99 ${median(xs.map((x) => x.p99))}`)
    const ratio = per.length > 1 ? ` | B/A rate ${(median(per[1]!.map((x) => x.rate)) / median(per[0]!.map((x) => x.rate))).toFixed(2)}, cpu ${(median(per[1]!.map((x) => x.cpu)) / median(per[0]!.map((x) => x.cpu))).toFixed(2)}` : ''
    process.stdout.write(`${scenario.padEnd(10)} ${line.join(' | ')}${ratio}\n`)
  }
  for (const s of servers) await s.srv.stop()
  for (const s of servers) {
    if (!s.profDir) continue
    const prof = fs.readdirSync(s.profDir).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? fs.readdirSync(s.profDir).find((f) => f.endsWith('.cpuprofile'))
    if (prof) {
      const out = path.join(os.tmpdir(), `ab-${Date.now()}.cpuprofile`)
      fs.copyFileSync(path.join(s.profDir, prof), out)
      process.stdout.write(`${renderProfile(summarizeProfile(out, 5))}\nprofile kept at ${out}\n`)
    }
  }
} finally {
  await killAll()
  for (const d of pgDatabases) await d.drop().catch(() => {})
  fs.rmSync(dir, { recursive: true, force: true })
}
