/**
 * `npx tsx bench/alerts-position.ts [--order=off,on,off,on] [--checkpoint] [--repeat=2] [--seconds=2] [--skus=1000]`
 *
 * The alerts row as it was measured before bench/lib/alerts.ts (#15): servers with ALERTS=off and
 * on started in turn on ONE database file, c=50 writes each. Prints, per position, what the run
 * started from and what it cost, to find out why one position was always the slow one: the WAL
 * file's size at the start, the server's reads from disk (`/proc/<pid>/io` read_bytes: page-cache
 * misses), its CPU per movement, the events an "on" server had to judge first. `--checkpoint` runs
 * `PRAGMA wal_checkpoint(TRUNCATE)` between runs.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Api, skuAt } from './lib/api.js'
import { measure } from './lib/load.js'
import { killAll, startServer } from './lib/procs.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const ORDER = opt('order', 'off,on,off,on').split(',') as Array<'on' | 'off'>
const CHECKPOINT = argv.includes('--checkpoint')
const REPEAT = Number(opt('repeat', '2'))
const SECONDS = Number(opt('seconds', '2'))
const SKUS = Number(opt('skus', '1000'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0)
const readBytes = (pid: number) => Number(/^read_bytes: (\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN)
const behind = (file: string) => {
  const db = new SQLite(file, { readonly: true })
  try {
    return db.prepare("SELECT count(*) FROM outbox_event WHERE type = 'stock.changed' AND seq > coalesce((SELECT seq FROM alert_cursor WHERE name = 'stock'), 0)").pluck().get() as number
  } finally {
    db.close()
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stockbridge-alerts-position-'))
try {
  for (let rep = 1; rep <= REPEAT; rep++) {
    const file = path.join(dir, `r${rep}.db`)
    let srv = await startServer({ databaseUrl: `sqlite:${file}`, env: { ALERTS: 'off' } })
    const key = srv.adminKey!
    let api = new Api(srv.url, key)
    const wh = await api.createWarehouse('AW1')
    await api.createProducts('BENCH-', SKUS, 1_000_000)
    await api.bulkSync(Array.from({ length: SKUS }, (_, i) => ({ sku: skuAt('BENCH-', i + 1), warehouse_id: wh, quantity: 1_000_000 })))
    for (let i = 0; i < 10; i++) await api.call('POST', '/alert-channels', { name: `bench-${i}`, kind: 'slack', config: { url: `http://127.0.0.1:9/bench-${i}` } })
    const t0 = Date.now()
    for (const [pos, mode] of ORDER.entries()) {
      await srv.stop()
      if (CHECKPOINT) {
        const db = new SQLite(file)
        db.pragma('wal_checkpoint(TRUNCATE)')
        db.close()
      }
      const walAtStart = size(`${file}-wal`)
      srv = await startServer({ databaseUrl: `sqlite:${file}`, env: { ALERTS: mode } })
      api = new Api(srv.url, key)
      const toJudge = behind(file)
      if (mode === 'on') while (behind(file) > 0) await sleep(250)
      const rb0 = readBytes(srv.pid)
      const r = await measure({ url: srv.url, scenario: 'update', connections: 50, duration: SECONDS, warmupSeconds: 0.5, apiKey: key, skuPrefix: 'BENCH-', skuCount: SKUS, warehouseId: wh }, srv.pid)
      const rb = readBytes(srv.pid) - rb0
      process.stdout.write(
        `rep ${rep} pos ${pos + 1} ${mode.padEnd(3)} t+${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s: ${String(Math.round(r.okPerSec)).padStart(5)} mov/s, ${r.serverCpuMsPerReq?.toFixed(3)} ms CPU/mov, WAL at start ${(walAtStart / 1024).toFixed(0)} KiB, ` +
          `db ${(size(file) / 1048576).toFixed(1)} MiB, disk reads ${(rb / 1024).toFixed(0)} KiB, events to judge first ${mode === 'on' ? toJudge : '-'}, load ${os.loadavg()[0]!.toFixed(1)}\n`,
      )
      await sleep(300)
    }
    await srv.stop()
  }
} finally {
  await killAll()
  fs.rmSync(dir, { recursive: true, force: true })
}
