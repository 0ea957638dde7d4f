/**
 * @module bench/lib/woocommerce: propagation to a WooCommerce store, measured end to end.
 *
 * Three processes besides the bench: the service (`stockbridge serve`, a fresh SQLite file or
 * PostgreSQL database), the WooCommerce emulator (`emulator/woocommerce/main.ts --observe`, its
 * own process, realistic latency of 90 ms per request + 20 ms per batch item during the measured
 * parts) and autocannon (bench/load-worker.ts) pacing 100 changes/s. The store is connected,
 * mapped and synced through the service's HTTP API (POST /stores, /stores/{s}/map, /stores/{s}/sync),
 * exactly as a merchant would.
 *
 * When a change arrived: commit time is the ledger row's created_at (taken inside the movement's
 * transaction; read from the database after the run); arrival is the emulator's own clock (same
 * machine) at the first write of that SKU's managed quantity that shows the change's figure or
 * the figure of a later change of the same SKU (coalescing skips figures), reported by the
 * emulator's observation endpoint GET /__emulator/stock-writes. Batch requests are counted from
 * its request log (GET /__emulator/requests).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Api } from './api.js'
import { runLoad, unexpected, type LoadResult } from './load.js'
import { ROOT, startServer, stopChild, track } from './procs.js'
import { createDatabase, newClient, pgUnavailable } from './raw-pg.js'
import { below, row, type Row, type Target } from './table.js'

export interface WooSettings {
  readonly quick: boolean
  /** SKUs the paced load picks from (random). */
  readonly loadSkus: number
  /** Seconds of paced load. */
  readonly seconds: number
  /** Changes per second. */
  readonly rate: number
  readonly log: (msg: string) => void
  /** Which parts run: the 10,000-SKU round and the 100/s load, the capacity-model loads (default both). */
  readonly parts?: { readonly propagation: boolean; readonly capacity: boolean }
  /** Seconds of each capacity-model load. */
  readonly capacitySeconds?: number
}

/** The capacity-model loads: changes/s over 100 SKUs, and the issue's targets for each. */
const CAPACITY_LOADS = [
  { rate: 1, p50: 300, p99: null },
  { rate: 20, p50: null, p99: 1000 },
  { rate: 60, p50: null, p99: 3000 },
] as const
const CAPACITY_SKUS = 100
/** A real WooCommerce 10 store on 2 cores: 2 PHP workers, 60 ms a request + 35 ms a stock-only batch item. */
const CAPACITY = { workers: 2, request_ms: 60, item_ms: 35 }
const NO_CAPACITY = { workers: 0, request_ms: 0, item_ms: 0 }

/** The store's catalogue: the 10,000 SKUs of the batch test, the load uses the first `loadSkus`. */
const CATALOGUE = 10_000
const SKU_PREFIX = 'WB-S-' // the emulator's numbered catalogue with --sku-prefix WB- --sku-digits 6: WB-S-000001
const skuAt = (i: number) => `${SKU_PREFIX}${String(i).padStart(6, '0')}`
const REALISTIC = { per_request_ms: 90, per_item_ms: 20 }
const OFF = { per_request_ms: 0, per_item_ms: 0 }
const FIRST = 1_000_000
const STORE = 'bench'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
function percentile(xs: ReadonlyArray<number>, p: number): number | null {
  if (xs.length === 0) return null
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}
const atMost = (bound: number): Target => ({ op: '<=', bound })

// ---------------------------------------------------------------------------------------------
// The emulator process and its observation endpoints

interface CapacityAccount {
  readonly requests: number
  readonly items: number
  readonly worker_ms: number
  readonly queued_ms: number
}

interface Emulator {
  readonly pid: number
  readonly url: string
  readonly consumerKey: string
  readonly consumerSecret: string
  latency(l: { per_request_ms: number; per_item_ms: number }): Promise<void>
  capacity(c: { workers: number; request_ms: number; item_ms: number }): Promise<CapacityAccount>
  account(): Promise<CapacityAccount>
  /** Stock writes from index `from`: [sku, quantity, at ms]. */
  writes(from: number): Promise<{ next: number; writes: Array<[string, number | null, number]> }>
  requests(from: number): Promise<{ next: number; requests: Array<{ method: string; path: string; status: number; items: number; at: number }> }>
  stop(): Promise<void>
}

async function startEmulator(): Promise<Emulator> {
  const args = ['--import', 'tsx', 'emulator/woocommerce/main.ts', '--port', '0', '--simple', String(CATALOGUE), '--variable', '0', '--stock', '0', '--sku-prefix', 'WB-', '--sku-digits', '6', '--webhooks', 'manual', '--observe']
  const child = track(spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] }))
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
  const banner = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`the WooCommerce emulator did not start; stderr: ${err}`)), 30_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (/observation: /.test(out)) {
        clearTimeout(timer)
        child.stdout!.resume()
        resolve(out)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the WooCommerce emulator exited (${code}); stderr: ${err}`))
    })
  })
  const url = /emulator at (http:\/\/\S+)/.exec(banner)?.[1]
  const consumerKey = /consumer key:\s+(\S+)/.exec(banner)?.[1]
  const consumerSecret = /consumer secret:\s+(\S+)/.exec(banner)?.[1]
  if (!url || !consumerKey || !consumerSecret) throw new Error(`unexpected emulator banner: ${banner}`)
  const get = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${url}${p}`)
    if (!res.ok) throw new Error(`emulator ${p} → ${res.status}`)
    return (await res.json()) as T
  }
  return {
    pid: child.pid!,
    url,
    consumerKey,
    consumerSecret,
    async latency(l) {
      const res = await fetch(`${url}/__emulator/latency`, { method: 'PUT', body: JSON.stringify(l) })
      if (!res.ok) throw new Error(`emulator latency → ${res.status}`)
    },
    async capacity(c) {
      const res = await fetch(`${url}/__emulator/capacity`, { method: 'PUT', body: JSON.stringify(c) })
      if (!res.ok) throw new Error(`emulator capacity → ${res.status}`)
      return (await res.json()) as CapacityAccount
    },
    account: () => get(`/__emulator/capacity`),
    writes: (from) => get(`/__emulator/stock-writes?from=${from}`),
    requests: (from) => get(`/__emulator/requests?from=${from}`),
    stop: () => stopChild(child),
  }
}

/** The emulator's latest figure per SKU, kept up to date from its stock-write log. */
class StoreView {
  readonly figure = new Map<string, number | null>()
  readonly writes: Array<[string, number | null, number]> = []
  /** The figures when the writes were last forgotten (what the store showed before them). */
  shownAtMark = new Map<string, number | null>()
  #next = 0
  readonly #emu: Emulator
  constructor(emu: Emulator) {
    this.#emu = emu
  }
  async refresh(): Promise<void> {
    const r = await this.#emu.writes(this.#next)
    this.#next = r.next
    for (const w of r.writes) {
      this.writes.push(w)
      this.figure.set(w[0], w[1])
    }
  }
  /** Forget the writes so far (the figures stay). */
  mark(): void {
    this.writes.length = 0
    this.shownAtMark = new Map(this.figure)
  }
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs
    for (;;) {
      await this.refresh()
      if (done()) return true
      if (performance.now() > end) return false
      await sleep(100)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The database side: set-up rows and the ledger (commit times and figures)

interface Change {
  readonly id: number
  readonly sku: string
  /** The store's figure after the change: available in the store's one warehouse (no reservations, no safety stock, no buffer here). */
  readonly figure: number
  readonly at: number
}

interface Db {
  readonly url: string
  insertProducts(skus: ReadonlyArray<string>): Promise<void>
  maxLedgerId(): Promise<number>
  changesAfter(id: number, warehouseId: number): Promise<Change[]>
  close(): Promise<void>
}

async function sqliteDb(): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stockbridge-bench-woo-'))
  const file = path.join(dir, 'woo.db')
  const open = () => new SQLite(file, { readonly: true })
  return {
    url: `sqlite:${file}`,
    async insertProducts(skus) {
      const db = new SQLite(file)
      try {
        db.pragma('busy_timeout = 5000')
        const now = Date.now()
        const ins = db.prepare('INSERT INTO product (sku, product_id, parent_id, name, allows_backorders, safety_stock, low_stock_threshold, created_at, updated_at) VALUES (?, ?, NULL, NULL, 0, 0, 0, ?, ?)')
        db.transaction(() => skus.forEach((sku, i) => ins.run(sku, 800_000 + i, now, now)))()
      } finally {
        db.close()
      }
    },
    async maxLedgerId() {
      const db = open()
      try {
        return Number((db.prepare('SELECT coalesce(max(id), 0) AS n FROM ledger_entry').get() as { n: number }).n)
      } finally {
        db.close()
      }
    },
    async changesAfter(id, warehouseId) {
      const db = open()
      try {
        const rows = db.prepare("SELECT id, sku, on_hand_after - reserved_after AS figure, created_at AS at FROM ledger_entry WHERE id > ? AND warehouse_id = ? AND status = 'applied' ORDER BY id").all(id, warehouseId) as Array<{ id: number; sku: string; figure: number; at: number }>
        return rows.map((r) => ({ id: Number(r.id), sku: r.sku, figure: Number(r.figure), at: Number(r.at) }))
      } finally {
        db.close()
      }
    },
    async close() {
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function postgresDb(adminUrl: string): Promise<Db> {
  const database = await createDatabase(adminUrl, 'woo')
  let client: ReturnType<typeof newClient> | null = null
  const c = async () => {
    if (!client) {
      client = newClient(database.url)
      client.on('error', () => {})
      await client.connect()
    }
    return client
  }
  return {
    url: database.url,
    async insertProducts(skus) {
      const now = Date.now()
      await (await c()).query(
        `INSERT INTO product (sku, product_id, parent_id, name, allows_backorders, safety_stock, low_stock_threshold, created_at, updated_at)
         SELECT sku, pid, NULL, NULL, 0, 0, 0, $3, $3 FROM unnest($1::text[], $2::bigint[]) AS v(sku, pid)`,
        [skus, skus.map((_, i) => 800_000 + i), now],
      )
    },
    async maxLedgerId() {
      return Number((await (await c()).query('SELECT coalesce(max(id), 0) AS n FROM ledger_entry')).rows[0].n)
    },
    async changesAfter(id, warehouseId) {
      const r = await (await c()).query("SELECT id, sku, on_hand_after - reserved_after AS figure, created_at AS at FROM ledger_entry WHERE id > $1 AND warehouse_id = $2 AND status = 'applied' ORDER BY id", [id, warehouseId])
      return r.rows.map((x: { id: string; sku: string; figure: string; at: string }) => ({ id: Number(x.id), sku: x.sku, figure: Number(x.figure), at: Number(x.at) }))
    },
    async close() {
      await (client as ReturnType<typeof newClient> | null)?.end().catch(() => {})
      await database.drop()
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Matching changes to what the store shows

/**
 * For each SKU, walk the store's writes in order; a write of figure F at time t settles every
 * pending change up to the latest change j with figure F committed at or before t (a figure can
 * repeat under sales and restocks: the latest one is what the store now shows). Among those, the
 * changes up to the latest one that brought the SKU back to the figure the store showed before
 * this write cancel out: when the service came to push them the figure was already in the store,
 * so it rightly pushed nothing, and they are counted apart, with no latency (without this, a sale
 * and a restock coalesced into one batch were charged the wait until the SKU's next change).
 * Returns the latencies (ms), the changes never settled and those that cancelled out.
 */
export function settle(
  changes: ReadonlyArray<Change>,
  writes: ReadonlyArray<[string, number | null, number]>,
  storeFigure: (sku: string) => number | null | undefined,
  shownBefore: ReadonlyMap<string, number | null> = new Map(),
): { latencies: number[]; pending: number; netZero: number } {
  const bySku = new Map<string, Change[]>()
  for (const c of changes) {
    const l = bySku.get(c.sku)
    if (l) l.push(c)
    else bySku.set(c.sku, [c])
  }
  const next = new Map<string, number>()
  /** What the store showed after each SKU's latest write so far. */
  const shown = new Map<string, number>()
  for (const [sku, f] of shownBefore) if (f !== null) shown.set(sku, f)
  const latencies: number[] = []
  let netZero = 0
  for (const [sku, figure, at] of writes) {
    const list = bySku.get(sku)
    const before = shown.get(sku)
    if (figure !== null) shown.set(sku, figure)
    if (!list || figure === null) continue
    const i = next.get(sku) ?? 0
    let j = -1
    for (let k = list.length - 1; k >= i; k--) {
      if (list[k]!.at <= at && list[k]!.figure === figure) {
        j = k
        break
      }
    }
    if (j < 0) continue
    let from = i
    if (before !== undefined) {
      for (let k = j - 1; k >= i; k--) {
        if (list[k]!.figure === before) {
          netZero += k - i + 1
          from = k + 1
          break
        }
      }
    }
    for (let k = from; k <= j; k++) latencies.push(at - list[k]!.at)
    next.set(sku, j + 1)
  }
  // Changes never written but whose SKU the store shows at its last change's figure: they cancel
  // out (a sale and a restock coalesced), so the newest figure was already in the store and the
  // service had nothing to push. Counted apart, with no latency.
  let pending = 0
  for (const [sku, list] of bySku) {
    const left = list.length - (next.get(sku) ?? 0)
    if (left > 0 && storeFigure(sku) === list[list.length - 1]!.figure) netZero += left
    else pending += left
  }
  return { latencies, pending, netZero }
}

// ---------------------------------------------------------------------------------------------
// One database: set-up, paced load, 10,000 changed SKUs

export async function wooPropagation(kind: 'sqlite' | 'postgres', s: WooSettings, pgAdmin: string): Promise<Row[]> {
  const label = kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'
  if (kind === 'postgres') {
    const why = await pgUnavailable(pgAdmin)
    if (why) return [row(`${label} commit → WooCommerce emulator updated`, null, '', null, { note: `skipped: PostgreSQL unreachable (${why})` })]
  }
  const tag = `woo/${kind}`
  const db = kind === 'sqlite' ? await sqliteDb() : await postgresDb(pgAdmin)
  const out: Row[] = []
  try {
    const tStart = performance.now()
    const [emu, srv] = await Promise.all([startEmulator(), startServer({ databaseUrl: db.url })])
    s.log(`${tag}: service and emulator started in ${((performance.now() - tStart) / 1000).toFixed(1)} s`)
    if (!srv.adminKey) throw new Error('the first start printed no admin key')
    const adminKey: string = srv.adminKey
    const api = new Api(srv.url, adminKey)
    const view = new StoreView(emu)
    const t0 = performance.now()
    const skus = Array.from({ length: CATALOGUE }, (_, i) => skuAt(i + 1))

    // Set-up (not measured), the emulator without latency: the catalogue's products written with
    // the database driver (no stock yet, as the store's catalogue: figure 0), then the store
    // connected and mapped through the API.
    const wh = await api.createWarehouse('WOO')
    await db.insertProducts(skus)
    const connectedAt = performance.now()
    await api.call('POST', '/stores', { name: STORE, url: emu.url, consumer_key: emu.consumerKey, consumer_secret: emu.consumerSecret, warehouses: ['WOO'] })
    const mapped = (await api.job<{ mapped: number }>('POST', `/stores/${STORE}/map`, { scan: true })).mapped
    if (mapped !== CATALOGUE) throw new Error(`mapped ${mapped} of ${CATALOGUE} SKUs`)
    s.log(`${tag}: ${CATALOGUE} SKUs registered and mapped in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    await sleep(1200 - (performance.now() - connectedAt)) // the service caches its delivery targets for up to a second

    const parts = s.parts ?? { propagation: true, capacity: true }
    if (parts.propagation) out.push(...(await propagationParts()))
    if (parts.capacity) out.push(...(await capacityParts()))
    await srv.stop()
    await emu.stop()

    async function propagationParts(): Promise<Row[]> {
      const out: Row[] = []
      // 10,000 SKUs changed at once: their first counts in one bulk sync (POST /stock/bulk-sync,
      // a background job), each pushed through the outbox. How many batch requests carry them?
      // Quick: the emulator's latency is off for this part (100 requests of 2.09 s each would take
      // ~50 s at the store's 4 requests in flight); the count does not depend on it.
      await emu.latency(s.quick ? OFF : REALISTIC)
      const req1 = (await emu.requests(0)).next
      s.log(`${tag}: 10,000 SKUs changed at once (${s.quick ? 'emulator latency off' : 'realistic latency'})`)
      const t1 = performance.now()
      await api.bulkSync(skus.map((sku) => ({ sku, warehouse_id: wh, quantity: FIRST })))
      const answered = performance.now()
      const all = await view.until(() => skus.every((k) => view.figure.get(k) === FIRST), s.quick ? 20_000 : 180_000)
      const done = performance.now()
      const b10 = (await emu.requests(req1)).requests.filter((q) => q.method !== 'GET' && q.path.endsWith('/batch'))
      const arrived = skus.filter((k) => view.figure.get(k) === FIRST).length
      const batchRow = row(`${label} batch requests for 10,000 changed SKUs (one bulk sync)`, b10.length, 'requests', Math.ceil(CATALOGUE / 100), {
        limitOf: 'fewest possible: 100 items a request',
        target: atMost(100),
        note: [
          `max ${Math.max(0, ...b10.map((b) => b.items))} items a request`,
          `${all ? 'all' : `ONLY ${arrived} of`} 10,000 in the store ${((done - t1) / 1000).toFixed(1)} s after the bulk sync was sent (answered after ${((answered - t1) / 1000).toFixed(1)} s)`,
          s.quick ? 'quick: emulator latency off for this count' : 'emulator 90 ms/request + 20 ms/item, store concurrency 4',
        ].join('; '),
      })
      if (!all) throw new Error(`only ${arrived} of 10,000 first figures reached the store`)

      // Paced load with realistic latency: random SKUs, sales and restocks of 1. 32 connections, so
      // the pace holds while responses are slow (autocannon sends one request at a time per connection).
      await emu.latency(REALISTIC)
      view.mark()
      const req0 = (await emu.requests(0)).next
      const ledger0 = await db.maxLedgerId()
      s.log(`${tag}: ${s.rate} changes/s for ${s.seconds} s, emulator 90 ms/request + 20 ms/item`)
      const r: LoadResult = await runLoad({ url: srv.url, scenario: 'update', connections: 32, overallRate: s.rate, duration: s.seconds, warmupSeconds: 0, apiKey: adminKey, skuPrefix: SKU_PREFIX, skuCount: s.loadSkus, warehouseId: wh })
      let changes = await db.changesAfter(ledger0, wh)
      const last = new Map(changes.map((c) => [c.sku, c.figure]))
      const drained = await view.until(() => [...last].every(([sku, f]) => view.figure.get(sku) === f), s.quick ? 5_000 : 15_000)
      changes = await db.changesAfter(ledger0, wh) // requests still in flight when the load ended
      const { latencies, pending, netZero } = settle(changes, view.writes, (sku) => view.figure.get(sku), view.shownAtMark)
      const batches = (await emu.requests(req0)).requests.filter((q) => q.method !== 'GET' && q.path.endsWith('/batch'))
      const items = batches.reduce((n, b) => n + b.items, 0)
      const bad = unexpected(r)
      const loadNote = [
        `${latencies.length} of ${changes.length} changes arrived at ${Math.round(r.okPerSec)}/s over ${s.loadSkus.toLocaleString('en-US')} SKUs${netZero ? ` (+${netZero} cancelled out by a later change of the SKU: nothing to push)` : ''}`,
        `emulator 90 ms/request + 20 ms/item, store concurrency 4: ${batches.length} batch requests, ${(items / Math.max(1, batches.length)).toFixed(1)} items each`,
        bad ? `UNEXPECTED: ${bad}` : '',
      ]
        .filter(Boolean)
        .join('; ')
      out.push(
        row(`${label} commit → WooCommerce emulator updated, ${s.rate} changes/s: p50`, percentile(latencies, 0.5), 'ms', null, { target: below(300), note: loadNote }),
        row(`${label} commit → WooCommerce emulator updated, ${s.rate} changes/s: p99`, percentile(latencies, 0.99), 'ms', null, {
          target: below(1000),
          note: [`max ${percentile(latencies, 1)} ms`, pending ? `NOT ARRIVED: ${pending}${drained ? '' : ' (store still behind after the drain wait)'}` : ''].filter(Boolean).join('; '),
        }),
        batchRow,
      )
      await emu.latency(OFF)
      return out
    }

    /**
     * The store as the slow side (the emulator's capacity model: 2 workers, 60 ms a request +
     * 35 ms an item): paced sales and restocks over 100 SKUs at 1, 20 and 60 changes/s. Besides
     * p50/p99, the store's modelled worker time per change (its own accounting: the same whatever
     * else the machine runs) and the batch requests it served.
     */
    async function capacityParts(): Promise<Row[]> {
      const out: Row[] = []
      await emu.latency(OFF)
      // Stock to sell from (the 10,000-SKU part may not have run): the loaded SKUs counted at FIRST.
      const loaded = skus.slice(0, CAPACITY_SKUS)
      await api.bulkSync(loaded.map((sku) => ({ sku, warehouse_id: wh, quantity: FIRST })))
      if (!(await view.until(() => loaded.every((k) => view.figure.get(k) === FIRST), 20_000))) throw new Error('the first counts of the capacity loads did not reach the store')
      await emu.capacity(CAPACITY)
      // STOCKBRIDGE_BENCH_WOO_RATES=20,60 runs only those loads.
      const rates = process.env.STOCKBRIDGE_BENCH_WOO_RATES?.split(',').map(Number)
      for (const load of CAPACITY_LOADS.filter((l) => !rates || rates.includes(l.rate))) {
        const seconds = s.capacitySeconds ?? 20
        view.mark()
        const req0 = (await emu.requests(0)).next
        const acc0 = await emu.account()
        const ledger0 = await db.maxLedgerId()
        s.log(`${tag}: capacity model, ${load.rate} changes/s over ${CAPACITY_SKUS} SKUs for ${seconds} s`)
        // What steers the pushes (the store's `pushing` figures), logged every second of the load.
        const steering: string[] = []
        const sampler = setInterval(() => {
          void api
            .call<{ data: { pushing: Record<string, unknown> | null } }>('GET', `/stores/${STORE}`)
            .then((x) => {
              const p = x.json.data.pushing
              if (p) steering.push(`w${p.window_ms}${p.loaded ? 'L' : ''} c${p.in_flight}/${p.concurrency} k${p.capacity ?? '-'} lat${p.latency_ms} q${p.backlog}`)
            })
            .catch(() => {})
        }, 1000)
        const r: LoadResult = await runLoad({ url: srv.url, scenario: 'update', connections: Math.min(32, Math.max(2, load.rate)), overallRate: load.rate, duration: seconds, warmupSeconds: 0, apiKey: adminKey, skuPrefix: SKU_PREFIX, skuCount: CAPACITY_SKUS, warehouseId: wh })
        clearInterval(sampler)
        s.log(`${tag}: steering during the load: ${steering.join(' | ')}`)
        const loadEnd = performance.now()
        let changes = await db.changesAfter(ledger0, wh)
        const last = new Map(changes.map((c) => [c.sku, c.figure]))
        const drained = await view.until(() => [...last].every(([sku, f]) => view.figure.get(sku) === f), 30_000)
        const drainMs = performance.now() - loadEnd
        changes = await db.changesAfter(ledger0, wh)
        const finalLast = new Map(changes.map((c) => [c.sku, c.figure]))
        const wrong = [...finalLast].filter(([sku, f]) => view.figure.get(sku) !== f).length
        const acc = await emu.account()
        const { latencies, pending, netZero } = settle(changes, view.writes, (sku) => view.figure.get(sku), view.shownAtMark)
        const batches = (await emu.requests(req0)).requests.filter((q) => q.method !== 'GET' && q.path.endsWith('/batch'))
        const items = batches.reduce((n, b) => n + b.items, 0)
        const workerMs = acc.worker_ms - acc0.worker_ms
        const perChange = changes.length ? workerMs / changes.length : null
        const bad = unexpected(r)
        const note = [
          `${latencies.length} of ${changes.length} changes at ${Math.round(r.okPerSec)}/s${netZero ? ` (+${netZero} cancelled out)` : ''}`,
          `${batches.length} batch requests, ${(items / Math.max(1, batches.length)).toFixed(1)} items each; store worker time ${Math.round(workerMs)} ms = ${perChange?.toFixed(1) ?? '-'} ms/change`,
          `all ${finalLast.size} SKUs ${wrong ? `NOT right (${wrong} wrong)` : 'right'} ${(drainMs / 1000).toFixed(1)} s after the load${drained ? '' : ' (drain wait ran out)'}`,
          pending ? `NOT ARRIVED: ${pending}` : '',
          bad ? `UNEXPECTED: ${bad}` : '',
        ]
          .filter(Boolean)
          .join('; ')
        const name = `${label} capacity model (2 workers, 60 ms + 35 ms/item), ${load.rate} change${load.rate === 1 ? '' : 's'}/s over ${CAPACITY_SKUS} SKUs`
        out.push(
          row(`${name}: p50`, percentile(latencies, 0.5), 'ms', null, load.p50 !== null ? { target: below(load.p50), note } : { note }),
          row(`${name}: p99`, percentile(latencies, 0.99), 'ms', null, load.p99 !== null ? { target: below(load.p99), note: `max ${percentile(latencies, 1)} ms` } : { note: `max ${percentile(latencies, 1)} ms` }),
          row(`${name}: store worker time per change`, perChange, 'ms', CAPACITY.request_ms + CAPACITY.item_ms, { limitOf: 'one change alone in a request (60 + 35 ms)' }),
        )
        await sleep(1000)
      }
      await emu.capacity(NO_CAPACITY)
      return out
    }
  } finally {
    await db.close().catch((e: unknown) => s.log(`${tag}: clean-up failed: ${String(e)}`))
  }
  return out
}
