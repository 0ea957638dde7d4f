/**
 * A store pushed through the pacer, in virtual time: changes arrive evenly over a set of SKUs, a
 * dispatcher follows the worker's rules (sync/worker.ts: oldest first, one request per SKU at a
 * time, a batch waits its window, spread over free lanes, `waiting` when ready items find every
 * request busy) and the store serves `workers` requests at once (FIFO), each taking
 * `requestMs + itemMs × items` (× a jitter of up to `jitter`). No clock, no timers: deterministic.
 */
import { Pacer, type PacingSettings } from '../../src/sync/pacing.js'

export interface StoreModel {
  /** Requests served at once (Infinity: as many as come). */
  readonly workers: number
  readonly requestMs: number
  readonly itemMs: number
  /** Each service time × (1 + up to this), at random. */
  readonly jitter?: number
}

export interface SimLoad {
  readonly perSecond: number
  readonly skus: number
  readonly seconds: number
  readonly seed?: number
  /** Arrivals at random (exponential gaps) instead of evenly. */
  readonly poisson?: boolean
}

export interface SimResult {
  readonly latencies: number[]
  readonly requests: number
  readonly items: number
  readonly changes: number
  /** The store's worker time (ms) spent on our requests. */
  readonly workerMs: number
  /** Largest number of changed SKUs waiting to be sent at once. */
  readonly maxBacklog: number
  /** Per SKU, the last change sent equals the last change made. */
  readonly newestWins: boolean
  readonly pacer: Pacer
  readonly windows: number[]
}

const MIN_BATCH = 4
const MAX_BATCH = 100

export function simulate(store: StoreModel, load: SimLoad, settings: PacingSettings, pacer = new Pacer(settings, 0)): SimResult {
  let seed = load.seed ?? 1
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  // Events: arrivals, store completions, window wake-ups.
  type Ev = { t: number; kind: 'arrive' | 'done' | 'wake'; req?: Req }
  interface Req {
    ticket: number
    skus: Array<{ sku: number; version: number; since: number[] }>
    service: number
  }
  const events: Ev[] = []
  const push = (e: Ev) => {
    let i = events.length
    while (i > 0 && events[i - 1]!.t > e.t) i--
    events.splice(i, 0, e)
  }
  const total = Math.round(load.perSecond * load.seconds)
  let t = 0
  for (let i = 0; i < total; i++) {
    push({ t, kind: 'arrive' })
    t += load.poisson ? (-Math.log(1 - random()) * 1000) / load.perSecond : 1000 / load.perSecond
  }

  /** Changed SKUs waiting (insertion order = oldest first), with the arrival times they carry. */
  const pending = new Map<number, { since: number[]; version: number }>()
  const inFlight = new Set<number>()
  const version = new Map<number, number>()
  const sent = new Map<number, number>()
  const storeQueue: Req[] = []
  let busyWorkers = 0
  let running = 0
  let waiting = false
  let wakeAt = Infinity
  const out = { latencies: [] as number[], requests: 0, items: 0, workerMs: 0, maxBacklog: 0 }
  const windows: number[] = []

  const startService = (now: number, r: Req) => {
    busyWorkers++
    out.workerMs += r.service
    push({ t: now + r.service, kind: 'done', req: r })
  }
  const dispatch = (now: number) => {
    for (;;) {
      const ready = [...pending].filter(([sku]) => !inFlight.has(sku))
      if (ready.length === 0) return
      const cap = pacer.concurrency
      const wait = pacer.waitFor(running)
      const age = now - ready[0]![1].since[0]!
      if (running >= cap) {
        if (age >= wait) waiting = true
        return
      }
      const enough = ready.length >= (pacer.loaded ? MAX_BATCH : MIN_BATCH)
      const hold = pacer.holdsFor(running, age)
      if (hold > 1e-6 || (wait > 0 && age < wait - 1e-6 && !enough)) {
        const at = ready[0]![1].since[0]! + Math.max(hold > 1e-6 ? age + hold : 0, wait)
        if (at < wakeAt) {
          wakeAt = at
          push({ t: at, kind: 'wake' })
        }
        return
      }
      const free = cap - running
      const spread = pacer.loaded ? Math.max(1, Math.min(free, Math.floor(ready.length / (2 * MIN_BATCH)))) : free
      const size = Math.min(MAX_BATCH, Math.max(MIN_BATCH, Math.ceil(ready.length / spread)))
      for (let part = 0; part < (pacer.loaded ? spread : 1); part++) {
        const batch = ready.splice(0, size)
        if (batch.length === 0) break
        send(now, batch)
      }
    }
  }
  const send = (now: number, batch: Array<[number, { since: number[]; version: number }]>) => {
    const r: Req = { ticket: pacer.sent(now), skus: [], service: 0 }
    for (const [sku, p] of batch) {
      pending.delete(sku)
      inFlight.add(sku)
      r.skus.push({ sku, version: p.version, since: p.since })
    }
    r.service = (store.requestMs + store.itemMs * batch.length) * (1 + (store.jitter ?? 0) * random())
    running++
    out.requests++
    out.items += batch.length
    if (busyWorkers < store.workers) startService(now, r)
    else storeQueue.push(r)
  }

  let arrived = 0
  while (events.length > 0) {
    const e = events.shift()!
    const now = e.t
    if (e.kind === 'arrive') {
      const sku = Math.floor(random() * load.skus)
      const v = (version.get(sku) ?? 0) + 1
      version.set(sku, v)
      arrived++
      const p = pending.get(sku)
      if (p) {
        p.since.push(now)
        p.version = v
      } else pending.set(sku, { since: [now], version: v })
      out.maxBacklog = Math.max(out.maxBacklog, pending.size)
    } else if (e.kind === 'done') {
      const r = e.req!
      busyWorkers--
      const next = storeQueue.shift()
      if (next) startService(now, next)
      running--
      for (const s of r.skus) {
        inFlight.delete(s.sku)
        sent.set(s.sku, s.version)
        for (const at of s.since) out.latencies.push(now - at)
      }
      pacer.done(r.ticket, now, { items: r.skus.length, waiting })
      waiting = false
      windows.push(pacer.windowMs)
    } else if (now >= wakeAt) wakeAt = Infinity
    dispatch(now)
  }
  const newestWins = [...version].every(([sku, v]) => sent.get(sku) === v)
  return { ...out, changes: arrived, newestWins, pacer, windows }
}

export function percentile(xs: ReadonlyArray<number>, p: number): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
}
