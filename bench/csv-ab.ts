/**
 * `npx tsx bench/csv-ab.ts TREE_A TREE_B [--rounds=2] [--db=sqlite,pg] [--only=import,bulk,ref,export] [--profile=A|B]`
 *
 * An interleaved A/B of the CSV bench rows (bench/lib/csv.ts) for two service trees: each round
 * runs A then B on a fresh database each (same seed), so machine load hits both alike. Prints the
 * import's seconds and server CPU seconds (`ref`: the same counts through POST /stock/bulk-sync;
 * `bulk`: 10 × 10,000 bulk syncs on levels that exist, issue #13's figure, beside the raw reference), the ledger export's peak RSS beside the idle RSS, and
 * the levels export's peak RSS. `--profile=B` runs B's servers under --cpu-prof and summarises the
 * last profile.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { bulkReferenceSeconds, bulkUpdateSeconds, countBatches, exportRss, importSeconds, LEDGER_ROWS, seedPg, seedSqlite, setUp } from './lib/csv.js'
import { rawSqliteBulk } from './lib/raw-sqlite.js'
import { rawPgBulk } from './lib/raw-pg.js'
import { cpuMsOf, killAll, startServer, type ServerHandle } from './lib/procs.js'
import { renderProfile, summarizeProfile } from './lib/profile.js'
import { createDatabase } from './lib/raw-pg.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const trees = argv.filter((a) => !a.startsWith('--')).map((t) => path.resolve(t))
if (trees.length < 1) throw new Error('usage: bench/csv-ab.ts TREE_A [TREE_B] [--rounds=2] [--db=sqlite,pg] [--only=import,export]')
const ROUNDS = Number(opt('rounds', '2'))
const DBS = opt('db', 'sqlite,pg').split(',')
const ONLY = new Set(opt('only', 'import,export').split(','))
const PROFILE = opt('profile', '')
const PG = process.env.STOCKBRIDGE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stockbridge-csv-ab-'))
const log = (m: string) => process.stderr.write(`${m}\n`)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

interface Figures {
  importS?: number
  importCpuS?: number
  bulkRefS?: number
  bulkRefCpuS?: number
  /** `bulk`: 10 × POST /stock/bulk-sync of 10,000 on the levels the import created (issue #13's figure). */
  bulkS?: number
  bulkCpuS?: number
  /** `bulk`: the raw reference of the same run, other figures for the same levels (bench/lib/raw-*.ts). */
  rawS?: number
  rawCpuS?: number
  ledgerPeakMb?: number
  idleMb?: number
  levelsPeakMb?: number
  /** RSS before the levels export: what the import left behind (it runs after the import). */
  levelsIdleMb?: number
}

async function once(tree: string, tag: string, db: string, round: number): Promise<{ f: Figures; profDir?: string }> {
  const profDir = PROFILE === tag ? fs.mkdtempSync(path.join(dir, 'prof-')) : undefined
  const nodeFlags = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []
  const ledgerRows = ONLY.has('export') ? LEDGER_ROWS : 0
  let srv: ServerHandle
  let cleanup: () => Promise<void>
  let seed: () => Promise<void>
  let raw: (batches: ReturnType<typeof countBatches>) => Promise<number>
  if (db === 'sqlite') {
    const file = path.join(dir, `${tag}-${round}.db`)
    srv = await startServer({ root: tree, databaseUrl: `sqlite:${file}`, nodeFlags })
    seed = async () => seedSqlite(file, ledgerRows, log)
    raw = async (batches) => rawSqliteBulk(file, batches, true)
    cleanup = async () => fs.rmSync(file, { force: true })
  } else {
    const pgdb = await createDatabase(PG, `csvab${tag.toLowerCase()}${round}`)
    srv = await startServer({ root: tree, databaseUrl: pgdb.url, nodeFlags })
    seed = () => seedPg(pgdb.url, ledgerRows, log)
    raw = (batches) => rawPgBulk(pgdb.url, batches, true)
    cleanup = () => pgdb.drop()
  }
  const f: Figures = {}
  try {
    const { api, codes, ids, refIds } = await setUp(srv)
    await seed()
    if (ONLY.has('export')) {
      const e = await exportRss(srv, api)
      f.ledgerPeakMb = e.peakMb
      f.idleMb = e.idleMb
      if (e.lines < ledgerRows) throw new Error(`${tag}: the export had ${e.lines} rows`)
    }
    if (ONLY.has('import')) {
      const i = await importSeconds(srv, api, codes)
      f.importS = i.seconds
      f.importCpuS = i.cpuSeconds
      if (i.rejected > 0) throw new Error(`${tag}: the import rejected ${i.rejected} rows`)
    }
    if (ONLY.has('bulk')) {
      // Levels exist: the import's (its first counts), or made here by a first bulk sync.
      if (!ONLY.has('import')) await bulkUpdateSeconds(srv, api, ids, 0)
      const b = await bulkUpdateSeconds(srv, api, ids, 500)
      f.bulkS = b.seconds
      f.bulkCpuS = b.cpuSeconds
      const c0 = process.cpuUsage()
      f.rawS = await raw(countBatches(ids, 700))
      const c = process.cpuUsage(c0)
      // SQLite: the raw writer runs in this process, so this is its CPU (PostgreSQL's is the server's).
      if (db === 'sqlite') f.rawCpuS = (c.user + c.system) / 1e6
    }
    if (ONLY.has('ref')) {
      const c0 = cpuMsOf(srv.pid)
      f.bulkRefS = await bulkReferenceSeconds(api, refIds)
      f.bulkRefCpuS = (cpuMsOf(srv.pid) - c0) / 1000
    }
    if (ONLY.has('export')) {
      const l = await exportRss(srv, api, 'levels.csv')
      f.levelsPeakMb = l.peakMb
      f.levelsIdleMb = l.idleMb
    }
  } finally {
    await srv.stop()
    await cleanup()
  }
  return { f, ...(profDir ? { profDir } : {}) }
}

try {
  const results: Record<string, Figures[][]> = {}
  let lastProfile: string | undefined
  for (let round = 1; round <= ROUNDS; round++) {
    for (const db of DBS) {
      for (const [i, tree] of trees.entries()) {
        const tag = String.fromCharCode(65 + i)
        const { f, profDir } = await once(tree, tag, db, round)
        if (profDir) lastProfile = fs.readdirSync(profDir).filter((n) => n.endsWith('.cpuprofile')).map((n) => path.join(profDir, n))[0]
        ;((results[db] ??= trees.map(() => []))[i]!).push(f)
        log(`round ${round} ${db} ${tag}: ${JSON.stringify(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, Math.round(v * 100) / 100])))} (load ${os.loadavg()[0]!.toFixed(2)})`)
      }
    }
  }
  for (const [db, per] of Object.entries(results)) {
    for (const key of ['importS', 'importCpuS', 'bulkS', 'bulkCpuS', 'rawS', 'rawCpuS', 'bulkRefS', 'bulkRefCpuS', 'idleMb', 'ledgerPeakMb', 'levelsIdleMb', 'levelsPeakMb'] as const) {
      const meds = per.map((xs) => median(xs.map((x) => x[key] ?? NaN)))
      if (meds.every((m) => Number.isNaN(m))) continue
      const ratio = meds.length > 1 ? ` | B/A ${(meds[1]! / meds[0]!).toFixed(2)}` : ''
      process.stdout.write(`${db.padEnd(7)} ${key.padEnd(13)} ${meds.map((m, i) => `${String.fromCharCode(65 + i)} ${m.toFixed(2)}`).join(' | ')}${ratio}\n`)
    }
  }
  process.stdout.write(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`)
  if (lastProfile) process.stdout.write(`\nprofile of ${PROFILE} (${lastProfile}):\n${renderProfile(summarizeProfile(lastProfile, 0))}\n`)
} finally {
  await killAll()
}
