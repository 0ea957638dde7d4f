/**
 * A store push lane and a modelled store in virtual time, to judge the pacer (sync/pacing.ts) in
 * milliseconds of CPU instead of minutes of wall time: changes of SKUs arrive, coalesce per SKU
 * (the newest figure wins, never two requests of one SKU at once), and go out in batches as the
 * delivery worker's pump sends them (sync/worker.ts: the lane's cap, the pacer's window, the split
 * over free requests); the store serves them as the emulator's capacity model does (`workers`
 * at once, each request holding one for `requestMs + itemMs × items`, the rest queue in order), or
 * with unlimited parallelism (workers 0) as the emulator's plain latency does.
 */
import { Pacer, type PacingSettings } from '../../src/sync/pacing.js'

export interface StoreModel {
  /** Requests served at once; 0: unlimited. */
  readonly workers: number
  readonly requestMs: number
  readonly itemMs: number
}

export interface Phase {
  /** Changes a second (evenly spaced when `jitter` is 0). */
  readonly rate: number
  readonly seconds: number
  readonly store: StoreModel
  /** SKUs the changes pick from at random. */
  readonly skus: number
  /** 0…1: how far each arrival moves from its even slot (1: anywhere in its slot). */
  readonly jitter?: number
  /** Count only this phase's changes in its figures (default true). */
  readonly measured?: boolean
}

export interface PhaseResult {
  readonly changes: number
  readonly requests: number
  readonly items: number
  /** Store worker time per change (ms). */
  readonly workerMsPerChange: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** Largest window the pacer asked for during the phase. */
  readonly maxWindow: number
  /** Most requests allowed at once during the phase, and the learned capacity at its end. */
  readonly maxConcurrency: number
  readonly capacity: number | null
  /** Changes not in the store when the phase and its drain ended. */
  readonly pending: number
}

interface Lane {
  /** Sendable SKU → oldest unsent change time and the figure's sequence, oldest first. */
  queue: Map<string, { at: number; seq: number }>
  /** SKUs changed while a request of theirs is in flight: sendable once it is back. */
  readonly held: Map<string, { at: number; seq: number }>
  readonly inFlight: Set<string>
  running: number
  starved: boolean
  timerAt: number | null
}

/** Runs phases one after another on one pacer (as the bench does on one store) and returns each phase's figures. */
export function simulate(settings: PacingSettings, phases: ReadonlyArray<Phase>, seed = 1, o: { minBatch?: number; maxBatch?: number; drainMs?: number } = {}): PhaseResult[] {
  const minBatch = o.minBatch ?? 5
  const maxBatch = o.maxBatch ?? 100
  let rnd = seed >>> 0 || 1
  const random = () => {
    // xorshift32: repeatable runs.
    rnd ^= rnd << 13
    rnd ^= rnd >>> 17
    rnd ^= rnd << 5
    return (rnd >>> 0) / 4294967296
  }
  const pacer = new Pacer(settings, 0)
  // Event list in time order: [at, kind, payload].
  type Ev = { at: number; order: number; run: () => void }
  const events: Ev[] = []
  let order = 0
  const before = (a: Ev, b: Ev) => a.at < b.at || (a.at === b.at && a.order < b.order)
  const at = (t: number, run: () => void) => {
    // A binary heap: the bursts put thousands of events in it.
    events.push({ at: t, order: order++, run })
    let i = events.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (!before(events[i]!, events[up]!)) break
      ;[events[i], events[up]] = [events[up]!, events[i]!]
      i = up
    }
  }
  const next = (): Ev => {
    const top = events[0]!
    const last = events.pop()!
    if (events.length > 0) {
      events[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < events.length && before(events[l]!, events[m]!)) m = l
        if (r < events.length && before(events[r]!, events[m]!)) m = r
        if (m === i) break
        ;[events[i], events[m]] = [events[m]!, events[i]!]
        i = m
      }
    }
    return top
  }
  let now = 0
  let store: StoreModel = phases[0]!.store
  let storeBusy = 0
  const storeQueue: Array<() => void> = []
  const lane: Lane = { queue: new Map(), held: new Map(), inFlight: new Set(), running: 0, starved: false, timerAt: null }
  /** Per SKU: the changes not yet in the store (time, seq). */
  const open = new Map<string, Array<{ at: number; seq: number; measured: number }>>()
  let seq = 0
  const results: Array<{ latencies: number[]; changes: number; requests: number; items: number; workerMs: number; maxWindow: number; maxConcurrency: number; capacity: number | null }> = phases.map(() => ({ latencies: [], changes: 0, requests: 0, items: 0, workerMs: 0, maxWindow: 0, maxConcurrency: 0, capacity: null }))
  let phaseIndex = 0

  function serve(items: number, done: () => void): void {
    const cost = store.requestMs + store.itemMs * Math.min(items, 100)
    const r = results[phaseIndex]!
    r.requests++
    r.items += items
    r.workerMs += cost
    const start = () => {
      storeBusy++
      at(now + cost, () => {
        storeBusy--
        // The freed worker takes the next waiting request before the hub hears back (and sends more).
        const next = storeQueue.shift()
        if (next) next()
        done()
      })
    }
    if (store.workers <= 0 || storeBusy < store.workers) start()
    else storeQueue.push(start)
  }

  function waitFor(): number {
    return pacer.waitFor(lane.running)
  }

  function pump(): void {
    for (;;) {
      if (lane.queue.size === 0) break
      const probe = pacer.probe(now, lane.running, lane.queue.size, maxBatch)
      const cap = probe ? probe.width : Math.min(settings.maxConcurrency, pacer.concurrency)
      if (lane.running >= cap) break
      const oldest = lane.queue.values().next().value!.at
      const wait = waitFor()
      let size: number
      if (probe) {
        // A probe gathers an item for each free request (and, to learn, waits for ours to drain), for a while.
        if (!probe.send) {
          later(probe.until)
          break
        }
        size = Math.min(maxBatch, probe.size)
      } else {
        const enough = lane.queue.size >= (pacer.loaded ? maxBatch : minBatch)
        if (!(wait <= 0 || now - oldest >= wait || enough)) {
          // As the worker's timer: whole milliseconds, at least one (never now again).
          later(now + Math.max(1, Math.ceil(wait - (now - oldest))))
          break
        }
        const free = cap - lane.running
        const spread = pacer.loaded ? 1 : free
        size = Math.min(maxBatch, Math.max(minBatch, Math.ceil(lane.queue.size / spread)))
      }
      const batch: Array<{ sku: string; seq: number }> = []
      for (const [sku, v] of lane.queue) {
        if (batch.length >= size) break
        batch.push({ sku, seq: v.seq })
      }
      if (lane.running >= cap - 1 && now - oldest > wait + 100) lane.starved = true
      send(batch)
    }
    const cap = Math.min(settings.maxConcurrency, pacer.concurrency)
    if (lane.queue.size > 0 && lane.running >= cap && now - lane.queue.values().next().value!.at >= waitFor()) lane.starved = true
    pacer.backlog(lane.queue.size)
    const r = results[phaseIndex]!
    const snap = pacer.snapshot(now)
    r.maxWindow = Math.max(r.maxWindow, snap.window_ms)
    r.maxConcurrency = Math.max(r.maxConcurrency, snap.concurrency)
    r.capacity = snap.capacity
  }

  function later(t: number): void {
    if (lane.timerAt !== null && lane.timerAt <= t) return
    lane.timerAt = t
    at(t, () => {
      if (lane.timerAt === t) lane.timerAt = null
      pump()
    })
  }

  function send(batch: Array<{ sku: string; seq: number }>): void {
    for (const b of batch) {
      lane.queue.delete(b.sku)
      lane.inFlight.add(b.sku)
    }
    lane.running++
    const started = now
    const ticket = pacer.sent(now, batch.length)
    serve(batch.length, () => {
      // The store shows each SKU's figure from now: every change up to the figure sent has arrived.
      for (const b of batch) {
        const list = open.get(b.sku) ?? []
        const keep: typeof list = []
        for (const c of list) {
          if (c.seq <= b.seq) {
            if (c.measured >= 0) results[c.measured]!.latencies.push(now - c.at)
          } else keep.push(c)
        }
        open.set(b.sku, keep)
      }
      // The round trip back to the hub.
      const waiting = lane.starved
      lane.starved = false
      lane.running--
      let back = false
      for (const b of batch) {
        lane.inFlight.delete(b.sku)
        const h = lane.held.get(b.sku)
        if (h) {
          lane.held.delete(b.sku)
          lane.queue.set(b.sku, h)
          back = true
        }
      }
      // Keep the queue oldest first (a held change can be older than what queued meanwhile).
      if (back) lane.queue = new Map([...lane.queue].sort((a, b) => a[1].at - b[1].at))
      pacer.done(now, { ticket, items: batch.length, ms: now - started, waiting })
      pump()
    })
  }

  function change(sku: string, measured: number): void {
    const s = ++seq
    const list = open.get(sku) ?? []
    list.push({ at: now, seq: s, measured })
    open.set(sku, list)
    if (measured >= 0) results[measured]!.changes++
    const into = lane.inFlight.has(sku) ? lane.held : lane.queue
    const q = into.get(sku)
    into.set(sku, { at: q ? q.at : now, seq: s })
    pump()
  }

  let t0 = 0
  phases.forEach((p, i) => {
    const n = Math.round(p.rate * p.seconds)
    const gap = 1000 / p.rate
    at(t0, () => {
      phaseIndex = i
      store = p.store
    })
    for (let k = 0; k < n; k++) {
      const when = t0 + k * gap + (p.jitter ?? 0) * gap * random()
      const sku = `S${Math.floor(random() * p.skus)}`
      at(when, () => change(sku, p.measured === false ? -1 : i))
    }
    t0 += p.seconds * 1000 + (o.drainMs ?? 3000)
  })
  while (events.length > 0) {
    const ev = next()
    now = ev.at
    ev.run()
  }
  let pendingTotal = 0
  for (const list of open.values()) pendingTotal += list.length
  return results.map((r, i) => {
    const xs = [...r.latencies].sort((a, b) => a - b)
    const pct = (q: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]! : NaN)
    return {
      changes: r.changes,
      requests: r.requests,
      items: r.items,
      workerMsPerChange: r.changes ? r.workerMs / r.changes : 0,
      p50: pct(0.5),
      p99: pct(0.99),
      max: xs.length ? xs[xs.length - 1]! : NaN,
      maxWindow: r.maxWindow,
      maxConcurrency: r.maxConcurrency,
      capacity: r.capacity,
      pending: i === results.length - 1 ? pendingTotal : 0,
    }
  })
}
