/**
 * CSV bench rows (#14): a 100,000-row counts import over HTTP (10,000 SKUs × 10 warehouses; the
 * file becomes a background job, timed to the job's end), and a streamed export of 1,000,000
 * ledger rows with the server's RSS sampled while it streams. Setup (SKUs, ledger rows) is direct
 * SQL and not measured. References of the same run: for the import, the same counts sent straight
 * to the bulk writer (POST /stock/bulk-sync); for the export, the server's RSS before it.
 * bench/csv-ab.ts runs the same pieces for two trees, interleaved.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Api, API } from './api.js'
import { cpuMsOf, rssOf, startServer, type ServerHandle } from './procs.js'
import { createDatabase, newClient } from './raw-pg.js'
import { openRaw } from './raw-sqlite.js'
import { below, row, type Row } from './table.js'

const SKUS = 10_000
const WAREHOUSES = 10
export const LEDGER_ROWS = 1_000_000
const sku = (i: number) => `CSVB-${String(i).padStart(6, '0')}`

export async function importSeconds(srv: ServerHandle, api: Api, whCodes: ReadonlyArray<string>): Promise<{ seconds: number; rejected: number; applied: number; cpuSeconds: number }> {
  const lines = ['sku,warehouse_code,quantity']
  for (const code of whCodes) for (let i = 1; i <= SKUS; i++) lines.push(`${sku(i)},${code},${(i * 7) % 1000}`)
  const body = lines.join('\r\n') + '\r\n'
  const t0 = performance.now()
  const cpu0 = cpuMsOf(srv.pid)
  // A fresh connection: the seeding above blocked this process's event loop for a while, so a
  // pooled keep-alive socket the server has since closed would fail the write (EPIPE).
  const send = () => fetch(`${srv.url}${API}/imports?kind=counts`, { method: 'POST', headers: { 'x-api-key': api.key, 'content-type': 'text/csv', connection: 'close' }, body })
  let res: Response
  try {
    res = await send().catch(() => send())
  } catch (e) {
    throw new Error(`import request failed: ${String((e as Error).cause ?? e)}; server stderr: ${srv.stderr().slice(-1500)}`)
  }
  const first = (await res.json()) as { data: { id?: string; applied?: number; rejected?: number } }
  if (res.status !== 202 && res.status !== 200) throw new Error(`import answered ${res.status}: ${JSON.stringify(first).slice(0, 300)}`)
  let data = first.data as { status?: string; result?: { applied: number; rejected: number }; applied?: number; rejected?: number; error?: string }
  while (res.status === 202 && data.status !== 'done' && data.status !== 'failed') {
    await new Promise((r) => setTimeout(r, 250))
    const poll = () => api.call<{ data: typeof data }>('GET', `/imports/${first.data.id}`)
    data = (await poll().catch(() => poll())).json.data // a pooled socket may have gone stale during the seed
  }
  const seconds = (performance.now() - t0) / 1000
  const cpuSeconds = (cpuMsOf(srv.pid) - cpu0) / 1000
  if (data.status === 'failed') throw new Error(`import job failed: ${data.error}`)
  const r = data.result ?? { applied: data.applied ?? 0, rejected: data.rejected ?? 0 }
  return { seconds, applied: r.applied, rejected: r.rejected, cpuSeconds }
}

export async function exportRss(srv: ServerHandle, api: Api, file = 'ledger.csv'): Promise<{ seconds: number; peakMb: number; idleMb: number; lines: number; mb: number; cpuSeconds: number }> {
  const idleMb = rssOf(srv.pid).rssMb
  let peakMb = idleMb
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssOf(srv.pid).rssMb)), 50)
  const t0 = performance.now()
  const cpu0 = cpuMsOf(srv.pid)
  // Retried once: a keep-alive socket closed by the server while the seed blocked this process fails at once.
  const get = () => fetch(`${srv.url}${API}/exports/${file}`, { headers: { 'x-api-key': api.key } })
  const res = await get().catch(() => get())
  let lines = 0
  let bytes = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++
  }
  clearInterval(sampler)
  peakMb = Math.max(peakMb, rssOf(srv.pid).rssMb)
  return { seconds: (performance.now() - t0) / 1000, peakMb, idleMb, lines: lines - 1, mb: bytes / 1048576, cpuSeconds: (cpuMsOf(srv.pid) - cpu0) / 1000 }
}

export async function setUp(srv: ServerHandle): Promise<{ api: Api; codes: string[]; ids: number[]; refIds: number[] }> {
  if (!srv.adminKey) throw new Error('the first start printed no admin key')
  const api = new Api(srv.url, srv.adminKey)
  const codes: string[] = []
  const ids: number[] = []
  const refIds: number[] = []
  for (let w = 1; w <= WAREHOUSES; w++) {
    ids.push(await api.createWarehouse(`CW${w}`))
    codes.push(`CW${w}`)
  }
  for (let w = 1; w <= WAREHOUSES; w++) refIds.push(await api.createWarehouse(`CR${w}`))
  return { api, codes, ids, refIds }
}

/** 100,000 counts for the levels of these warehouses (10,000 SKUs each), other figures for each `salt`. */
export function countBatches(whIds: ReadonlyArray<number>, salt: number): Array<Array<{ sku: string; warehouse_id: number; quantity: number }>> {
  return whIds.map((id) => Array.from({ length: SKUS }, (_, i) => ({ sku: sku(i + 1), warehouse_id: id, quantity: ((i + 1) * 7 + salt) % 1000 })))
}

/**
 * Issue #13's bulk figure on levels that exist (after the import created them): the same counts
 * as 10 `POST /stock/bulk-sync` of 10,000 items, new figures, timed to the last job's end.
 */
export async function bulkUpdateSeconds(srv: ServerHandle, api: Api, whIds: ReadonlyArray<number>, salt: number): Promise<{ seconds: number; cpuSeconds: number }> {
  const cpu0 = cpuMsOf(srv.pid)
  const t0 = performance.now()
  for (const items of countBatches(whIds, salt)) await api.bulkSync(items)
  return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpuMsOf(srv.pid) - cpu0) / 1000 }
}

/**
 * The import's reference: the same 100,000 first counts (other warehouses, so levels are created
 * as the import creates them) sent as 10 `POST /stock/bulk-sync` of 10,000 items, the bulk writer
 * the import sits on. The import's own layers (CSV reading, checks, job, outcomes) are the gap.
 */
export async function bulkReferenceSeconds(api: Api, refIds: ReadonlyArray<number>): Promise<number> {
  const t0 = performance.now()
  for (const id of refIds) {
    const items = Array.from({ length: SKUS }, (_, i) => ({ sku: sku(i + 1), warehouse_id: id, quantity: ((i + 1) * 7) % 1000 }))
    await api.bulkSync(items)
  }
  return (performance.now() - t0) / 1000
}

function rowsFor(db: string, ref: number, imp: { seconds: number; rejected: number; applied: number; cpuSeconds: number }, exp: { seconds: number; peakMb: number; idleMb: number; lines: number; mb: number; cpuSeconds: number }, importTarget: number): Row[] {
  return [
    row(`${db} CSV import of 100,000 count rows (POST /imports, job)`, imp.seconds, 's', ref, {
      limitOf: 'the same counts as 10 × POST /stock/bulk-sync of 10,000',
      target: below(importTarget),
      note: `${Math.round(100_000 / imp.seconds)} rows/s; server CPU ${imp.cpuSeconds.toFixed(1)} s; ${imp.applied} applied, ${imp.rejected} rejected${imp.rejected ? ' UNEXPECTED' : ''}`,
    }),
    row(`${db} CSV export of 1,000,000 ledger rows: server RSS peak`, exp.peakMb, 'MB', exp.idleMb, {
      limitOf: 'the same server idle, before the export',
      target: below(300),
      note: `${exp.lines.toLocaleString('en-US')} rows, ${Math.round(exp.mb)} MB in ${exp.seconds.toFixed(1)} s (server CPU ${exp.cpuSeconds.toFixed(1)} s)${exp.lines < LEDGER_ROWS ? ' UNEXPECTED row count' : ''}`,
    }),
  ]
}

/** Products (and, for the export, ledger rows) written straight into the server's SQLite file. */
export function seedSqlite(file: string, ledgerRows: number, log: (m: string) => void): void {
  const db = openRaw(file)
  try {
    const now = Date.now()
    const p = db.prepare('INSERT INTO product (sku, product_id, parent_id, name, allows_backorders, safety_stock, low_stock_threshold, created_at, updated_at) VALUES (?, ?, NULL, NULL, 0, 0, 5, ?, ?)')
    const l = db.prepare("INSERT INTO ledger_entry (sku, product_id, warehouse_id, change_type, status, quantity, on_hand_before, on_hand_after, reserved_before, reserved_after, level_version, source, reference_id, reservation_id, actor, notes, observed_at, created_at) VALUES (?, ?, 1, 'restock', 'applied', 1, ?, ?, 0, 0, ?, 'bench', NULL, NULL, 'bench', NULL, NULL, ?)")
    db.transaction(() => {
      for (let i = 1; i <= SKUS; i++) p.run(sku(i), 3_000_000 + i, now, now)
    })()
    if (ledgerRows === 0) return
    log(`csv sqlite: seeding ${ledgerRows.toLocaleString('en-US')} ledger rows`)
    db.transaction(() => {
      for (let i = 0; i < ledgerRows; i++) l.run(sku((i % SKUS) + 1), 3_000_000 + (i % SKUS) + 1, i, i + 1, i + 1, now)
    })()
  } finally {
    db.close()
  }
}

/** The same rows written straight into the server's PostgreSQL database. */
export async function seedPg(url: string, ledgerRows: number, log: (m: string) => void): Promise<void> {
  const c = newClient(url)
  await c.connect()
  try {
    const now = Date.now()
    await c.query(`INSERT INTO product (sku, product_id, parent_id, name, allows_backorders, safety_stock, low_stock_threshold, created_at, updated_at)
      SELECT 'CSVB-' || lpad(i::text, 6, '0'), 3000000 + i, NULL, NULL, 0, 0, 5, $1, $1 FROM generate_series(1, ${SKUS}) i`, [now])
    if (ledgerRows > 0) {
      log(`csv pg: seeding ${ledgerRows.toLocaleString('en-US')} ledger rows`)
      await c.query(`INSERT INTO ledger_entry (sku, product_id, warehouse_id, change_type, status, quantity, on_hand_before, on_hand_after, reserved_before, reserved_after, level_version, source, reference_id, reservation_id, actor, notes, observed_at, created_at)
        SELECT 'CSVB-' || lpad(((i % ${SKUS}) + 1)::text, 6, '0'), 3000000 + (i % ${SKUS}) + 1, 1, 'restock', 'applied', 1, i, i + 1, 0, 0, i + 1, 'bench', NULL, NULL, 'bench', NULL, NULL, $1 FROM generate_series(0, ${ledgerRows - 1}) i`, [now])
    }
    await c.query('ANALYZE')
  } finally {
    await c.end()
  }
}

export async function benchCsvSqlite(log: (m: string) => void): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-csv-'))
  const file = path.join(dir, 'csv.db')
  const srv = await startServer({ databaseUrl: `sqlite:${file}` })
  try {
    const { api, codes, refIds } = await setUp(srv)
    seedSqlite(file, LEDGER_ROWS, log)
    // The export first, on a server that has not yet held a 100,000-row import in memory.
    log('csv sqlite: export of 1,000,000 ledger rows')
    const exp = await exportRss(srv, api)
    log('csv sqlite: import of 100,000 count rows')
    const imp = await importSeconds(srv, api, codes)
    log('csv sqlite: reference, the same counts through POST /stock/bulk-sync')
    const ref = await bulkReferenceSeconds(api, refIds)
    return rowsFor('SQLite', ref, imp, exp, 10)
  } finally {
    await srv.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export async function benchCsvPg(adminUrl: string, log: (m: string) => void): Promise<Row[]> {
  const pgdb = await createDatabase(adminUrl, 'csv')
  const srv = await startServer({ databaseUrl: pgdb.url })
  try {
    const { api, codes, refIds } = await setUp(srv)
    await seedPg(pgdb.url, LEDGER_ROWS, log)
    // The export first, on a server that has not yet held a 100,000-row import in memory.
    log('csv pg: export of 1,000,000 ledger rows')
    const exp = await exportRss(srv, api)
    log('csv pg: import of 100,000 count rows')
    const imp = await importSeconds(srv, api, codes)
    log('csv pg: reference, the same counts through POST /stock/bulk-sync')
    const ref = await bulkReferenceSeconds(api, refIds)
    return rowsFor('PostgreSQL', ref, imp, exp, 20)
  } finally {
    await srv.stop()
    await pgdb.drop()
  }
}
