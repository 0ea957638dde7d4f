/**
 * @module bench/lib/alerts: what alert evaluation costs SQLite writes (#15: "must not lower SQLite
 * write throughput by more than 5 % with 10 channels configured").
 *
 * On a shared 2-core machine a 5 % line is finer than write rates repeat to (the same server moves
 * by 10–35 % from one short run to the next), and so is the server's CPU per movement when it is
 * compared across runs: with group commit a movement's cost depends on how many arrive together,
 * which follows the machine's load. So the verdict compares two CPU figures of the **same
 * movements**:
 *
 * - One database is prepared once (warehouse, SKUs far above their thresholds, 10 Slack channels,
 *   the evaluator caught up with the seed's events, WAL checkpointed and truncated) and copied to a
 *   fresh file for every run: each run starts from the same bytes with an empty WAL, and inherits
 *   no other run's WAL, checkpoints or events to judge.
 * - Each round runs a fresh server with `ALERTS=off` and one with `ALERTS=on`, each on its own
 *   copy, one after the other (the order alternates between rounds), with the same load: c=50 sales
 *   and restocks of 1 on random SKUs (no crossings, so no messages: the cost of judging events).
 * - Server CPU is the whole process (all threads, `/proc/<pid>/stat`) from just before the load
 *   until the load has ended and, with alerts on, every event is judged (at least 1.5 s after the
 *   load in both modes), divided by the movements the ledger gained.
 * - **Verdict**: after each `ALERTS=off` run, the events it wrote are judged by the service's own
 *   `evaluateAlerts` in this process, over copies of that run's database, in pages the size the
 *   server's evaluator would have read at that run's rate (one run per 100 ms); its CPU
 *   (`process.cpuUsage`, median of 3 passes after a warm-up pass) is what evaluation adds to
 *   that run's server CPU. Share = evaluation / (server + evaluation): the write throughput lost
 *   if the server's CPU bounds it (less when something else does). Median over the rounds, each
 *   round's share beside it.
 * - The on/off CPU per movement and the rates of the same rounds are printed beside it, as the
 *   direct but noisy comparison, without a verdict.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Api, skuAt } from './api.js'
import { runLoad } from './load.js'
import { cpuMsOf, SERVICE_ROOT, startServer } from './procs.js'
import { atMost, row, type Row } from './table.js'

export interface AlertsBenchSettings {
  readonly seconds: number
  readonly warmupSeconds: number
  readonly skus: number
  readonly rounds: number
  readonly log: (msg: string) => void
  readonly tempDir: (tag: string) => string
}

const PREFIX = 'BENCH-'
const SETTLE_MS = 1500
/** The server's evaluator runs at least this far apart under a stream of writes (service/alerts.ts). */
const EVALUATOR_GAP_MS = 100
const SERVER_PAGE_SIZE = 500
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const signed = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`
const percent = (x: number) => `${(x * 100).toFixed(2)}%`

function readOnly<T>(file: string, fn: (db: SQLite.Database) => T): T {
  const db = new SQLite(file, { readonly: true, fileMustExist: true })
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

const movements = (file: string) => readOnly(file, (db) => db.prepare('SELECT count(*) FROM ledger_entry').pluck().get() as number)
/** Stock events the evaluator has not judged yet (its cursor is checkpointed every second on SQLite). */
const eventsBehind = (file: string) =>
  readOnly(file, (db) => db.prepare("SELECT count(*) FROM outbox_event WHERE type = 'stock.changed' AND seq > coalesce((SELECT seq FROM alert_cursor WHERE name = 'stock'), 0)").pluck().get() as number)

async function waitCaughtUp(file: string, limitMs: number): Promise<void> {
  const started = Date.now()
  for (let left = eventsBehind(file); left > 0; left = eventsBehind(file)) {
    if (Date.now() - started > limitMs) throw new Error(`the alert evaluator is still ${left} events behind after ${limitMs / 1000} s`)
    await sleep(250)
  }
}

const removeDb = (file: string) => {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true })
}

/** The database every run starts from: seeded through the API, evaluator caught up, WAL truncated. */
async function prepare(dir: string, s: AlertsBenchSettings): Promise<{ snapshot: string; key: string; wh: number }> {
  const file = path.join(dir, 'prepare.db')
  const srv = await startServer({ databaseUrl: `sqlite:${file}`, env: { ALERTS: 'on' } })
  if (!srv.adminKey) throw new Error('the first start printed no admin key')
  const api = new Api(srv.url, srv.adminKey)
  const wh = await api.createWarehouse('AW1')
  await api.createProducts(PREFIX, s.skus, 1_000_000)
  for (let i = 1; i <= s.skus; i += 10_000) {
    await api.bulkSync(Array.from({ length: Math.min(10_000, s.skus - i + 1) }, (_, k) => ({ sku: skuAt(PREFIX, i + k), warehouse_id: wh, quantity: 1_000_000 })))
  }
  for (let i = 0; i < 10; i++) await api.call('POST', '/alert-channels', { name: `bench-${i}`, kind: 'slack', config: { url: `http://127.0.0.1:9/bench-${i}` } })
  await waitCaughtUp(file, 120_000)
  await srv.stop() // checkpoints the evaluator's cursor
  const db = new SQLite(file)
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  const snapshot = path.join(dir, 'snapshot.db')
  fs.copyFileSync(file, snapshot)
  removeDb(file)
  return { snapshot, key: srv.adminKey, wh }
}

interface Run {
  readonly rate: number
  readonly serverCpuMs: number
  readonly movements: number
  readonly cpuMsPerMovement: number
}

/** A fresh server on a fresh copy of the snapshot, loaded; leaves its database file for the caller. */
async function oneRun(file: string, snapshot: string, mode: 'on' | 'off', key: string, wh: number, s: AlertsBenchSettings): Promise<Run> {
  fs.copyFileSync(snapshot, file)
  const srv = await startServer({ databaseUrl: `sqlite:${file}`, env: { ALERTS: mode } })
  try {
    await sleep(300) // the start's own work (first evaluation, first metrics sample) is not the load's
    const m0 = movements(file)
    const cpu0 = cpuMsOf(srv.pid)
    const r = await runLoad({ url: srv.url, scenario: 'update', connections: 50, duration: s.seconds, warmupSeconds: s.warmupSeconds, apiKey: key, skuPrefix: PREFIX, skuCount: s.skus, warehouseId: wh })
    await sleep(SETTLE_MS)
    if (mode === 'on') await waitCaughtUp(file, 30_000)
    const cpu = cpuMsOf(srv.pid) - cpu0
    const n = movements(file) - m0
    const bad = Object.entries(r.statusCounts).filter(([c]) => c !== '200')
    if (bad.length || r.errors || r.timeouts) throw new Error(`unexpected answers in the ALERTS=${mode} run: ${JSON.stringify({ bad, errors: r.errors, timeouts: r.timeouts })}`)
    return { rate: r.okPerSec, serverCpuMs: cpu, movements: n, cpuMsPerMovement: cpu / n }
  } finally {
    await srv.stop()
  }
}

interface AlertsModule {
  evaluateAlerts(deps: unknown, settings: { hysteresis: number; pageSize: number; checkpointMs: number }): Promise<{ events: number; more: boolean }>
  checkpointAlertCursor?(deps: unknown): Promise<void>
}

/** The service's own modules (the tree under test), loaded into this process for the replay. */
async function serviceModules() {
  const src = path.join(SERVICE_ROOT, 'src')
  return {
    alerts: (await import(path.join(src, 'service/alerts.ts'))) as AlertsModule,
    openStore: (await import(path.join(src, 'store/db.ts'))).openStore as (url: string) => { close(): Promise<void> },
    deps: (await import(path.join(src, 'service/deps.ts'))) as { silentLogger: unknown; ulidIds(): unknown },
    EventBus: (await import(path.join(src, 'service/event-bus.ts'))).EventBus as new () => unknown,
  }
}

/**
 * CPU (ms, this process) the service's evaluator takes to judge every event an `ALERTS=off` run
 * wrote, in pages of `pageSize`: on a copy of `file` each pass; the first pass warms the code up.
 */
async function replayEvaluation(file: string, pageSize: number, passes = 3): Promise<{ cpuMs: number; events: number }> {
  const m = await serviceModules()
  const copy = `${file}.replay.db`
  const results: Array<{ cpuMs: number; events: number }> = []
  for (let pass = 0; pass <= passes; pass++) {
    removeDb(copy)
    fs.copyFileSync(file, copy)
    const store = m.openStore(`sqlite:${copy}`)
    const deps = { store, clock: { now: () => Date.now() }, ids: m.deps.ulidIds(), log: m.deps.silentLogger, events: new m.EventBus() }
    const settings = { hysteresis: 0, pageSize, checkpointMs: 1000 }
    let events = 0
    const t0 = process.cpuUsage()
    for (;;) {
      const r = await m.alerts.evaluateAlerts(deps, settings)
      events += r.events
      if (!r.more && r.events === 0) break
    }
    await m.alerts.checkpointAlertCursor?.(deps)
    const t = process.cpuUsage(t0)
    await store.close()
    if (pass > 0) results.push({ cpuMs: (t.user + t.system) / 1000, events })
  }
  removeDb(copy)
  return { cpuMs: median(results.map((r) => r.cpuMs)), events: results[0]!.events }
}

export async function alertsRows(s: AlertsBenchSettings): Promise<Row[]> {
  const dir = s.tempDir('alerts')
  const { snapshot, key, wh } = await prepare(dir, s)
  const rounds: Array<{ off: Run; on: Run; evaluationMs: number; events: number; pageSize: number }> = []
  const load0 = os.loadavg()[0]!
  for (let round = 1; round <= s.rounds; round++) {
    const got: Partial<Record<'off' | 'on', Run>> = {}
    let replay = { cpuMs: 0, events: 0 }
    let pageSize = 0
    for (const mode of round % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const file = path.join(dir, `round${round}-${mode}.db`)
      try {
        const run = (got[mode] = await oneRun(file, snapshot, mode, key, wh, s))
        let what = ''
        if (mode === 'off') {
          pageSize = Math.max(1, Math.min(SERVER_PAGE_SIZE, Math.round((run.rate * EVALUATOR_GAP_MS) / 1000)))
          replay = await replayEvaluation(file, pageSize)
          what = `; judging its ${replay.events} events: ${replay.cpuMs.toFixed(1)} ms CPU in pages of ${pageSize} (${percent(replay.cpuMs / (run.serverCpuMs + replay.cpuMs))} of server + evaluation)`
        }
        s.log(`alerts: round ${round} ALERTS=${mode}: ${Math.round(run.rate)} mov/s, server ${Math.round(run.serverCpuMs)} ms CPU for ${run.movements} movements (${run.cpuMsPerMovement.toFixed(3)} ms each)${what}`)
      } finally {
        removeDb(file)
      }
    }
    rounds.push({ off: got.off!, on: got.on!, evaluationMs: replay.cpuMs, events: replay.events, pageSize })
  }
  const load1 = os.loadavg()[0]!
  const shares = rounds.map((r) => r.evaluationMs / (r.off.serverCpuMs + r.evaluationMs))
  const cpuChanges = rounds.map((r) => r.off.cpuMsPerMovement / r.on.cpuMsPerMovement - 1)
  const rateChanges = rounds.map((r) => r.on.rate / r.off.rate - 1)
  const ms = (xs: number[]) => xs.map((x) => x.toFixed(3)).join('/')
  const machine = `load average ${load0.toFixed(1)} → ${load1.toFixed(1)}`
  return [
    row(`SQLite writes c=50, alert evaluation with 10 channels: write throughput lost to evaluation (its CPU over the server's, same movements; median of ${s.rounds} rounds)`, median(shares) * 100, '%', null, {
      target: atMost(5),
      note: `rounds ${shares.map(percent).join(', ')}; evaluation ${rounds.map((r) => `${(r.evaluationMs * 1000 / r.events).toFixed(1)}`).join('/')} µs CPU per event (pages of ${rounds.map((r) => r.pageSize).join('/')}), server ${ms(rounds.map((r) => r.off.cpuMsPerMovement))} ms CPU per movement (ALERTS=off); ${s.skus} SKUs far above threshold (no messages); ${machine}`,
    }),
    row(`SQLite writes c=50, alert evaluation: server CPU per movement, ALERTS=on vs off (median of ${s.rounds} interleaved rounds; no verdict)`, median(rounds.map((r) => r.on.cpuMsPerMovement)), 'ms', median(rounds.map((r) => r.off.cpuMsPerMovement)), {
      limitOf: 'ALERTS=off, same rounds',
      note: `throughput change it implies, per round: ${cpuChanges.map(signed).join(', ')}; on ${ms(rounds.map((r) => r.on.cpuMsPerMovement))} ms; whole process from the load's start until every event is judged; each run a fresh server on a fresh copy of one prepared database`,
    }),
    row('SQLite writes c=50 with alert evaluation and 10 channels: movements/s (same rounds; no verdict, rates swing with machine load)', median(rounds.map((r) => r.on.rate)), 'mov/s', median(rounds.map((r) => r.off.rate)), {
      limitOf: 'ALERTS=off, same rounds (median)',
      note: `per round ${rateChanges.map(signed).join(', ')}; off ${rounds.map((r) => Math.round(r.off.rate)).join('/')}, on ${rounds.map((r) => Math.round(r.on.rate)).join('/')} mov/s`,
    }),
  ]
}
