/**
 * The store pacer (sync/pacing.ts). Driven two ways: with made-up clocks and answers (whatever
 * happens, the window stays within its bounds and the requests within [1, max]), and in virtual
 * time against modelled stores (test/support/store-sim.ts: the emulator's capacity model and its
 * plain latency), where the figures are the model's own milliseconds, not wall time.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Pacer, type PacingSettings, type PacingTicket } from '../../src/sync/pacing.js'
import { simulate, type Phase, type StoreModel } from '../support/store-sim.js'

const settings = fc.record({ minWindowMs: fc.integer({ min: 0, max: 200 }), maxWindowMs: fc.integer({ min: 0, max: 3000 }), maxConcurrency: fc.integer({ min: 1, max: 16 }) })
/** One step: time passes, a request goes out or one comes back (with its size, time, and whether items waited). */
const step = fc.record({
  dt: fc.integer({ min: 0, max: 3000 }),
  send: fc.boolean(),
  items: fc.integer({ min: 1, max: 100 }),
  ms: fc.integer({ min: 0, max: 10_000 }),
  waiting: fc.boolean(),
  probe: fc.boolean(),
})

/** Plays steps against a pacer, keeping its requests in flight consistent (a request comes back only if one is out). */
function play(p: Pacer, steps: ReadonlyArray<{ dt: number; send: boolean; items: number; ms: number; waiting: boolean; probe: boolean }>, t0 = 0, check?: (p: Pacer, inFlight: number) => void): number {
  let now = t0
  const out: PacingTicket[] = []
  for (const s of steps) {
    now += s.dt
    if (s.probe) p.probe(now, out.length, s.items)
    if (s.send || out.length === 0) out.push(p.sent(now, s.items))
    else p.done(now, { ticket: out.shift()!, items: s.items, ms: s.ms, waiting: s.waiting })
    check?.(p, out.length)
  }
  for (const t of out) p.done((now += 10), { ticket: t, items: 1, ms: 5, waiting: false })
  return now
}

const TWO_WORKERS: StoreModel = { workers: 2, requestMs: 60, itemMs: 35 }
const UNLIMITED: StoreModel = { workers: 0, requestMs: 90, itemMs: 20 }
const PACED: PacingSettings = { minWindowMs: 40, maxWindowMs: 600, maxConcurrency: 4 }
/** The pacer with its window held at the linger: what the hub did before it learned capacities. */
const LINGER_ONLY: PacingSettings = { minWindowMs: 40, maxWindowMs: 40, maxConcurrency: 4 }
const load = (rate: number, store: StoreModel, skus = 100, seconds = 20): Phase => ({ rate, seconds, store, skus, jitter: 1 })

describe('store pacer', () => {
  it('the window never leaves [minWindowMs, maxWindowMs]; requests stay within [1, maxConcurrency]; the wait asked never exceeds the bound', () => {
    fc.assert(
      fc.property(settings, fc.array(step, { maxLength: 300 }), (s, steps) => {
        const p = new Pacer(s, 0)
        const bound = Math.max(s.minWindowMs, s.maxWindowMs)
        play(p, steps, 0, (x, inFlight) => {
          expect(x.windowMs).toBeGreaterThanOrEqual(s.minWindowMs)
          expect(x.windowMs).toBeLessThanOrEqual(bound)
          expect(x.concurrency).toBeGreaterThanOrEqual(1)
          expect(x.concurrency).toBeLessThanOrEqual(s.maxConcurrency)
          const cap = x.capacity
          if (cap !== null) expect(cap).toBeGreaterThanOrEqual(1)
          if (cap !== null) expect(cap).toBeLessThan(s.maxConcurrency)
          for (const n of [0, 1, 5]) expect(x.waitFor(n)).toBeLessThanOrEqual(bound)
          const probe = x.probe(0, inFlight, 3)
          if (probe) expect(probe.width).toBeLessThanOrEqual(s.maxConcurrency)
          if (probe) expect(probe.size).toBeGreaterThanOrEqual(1)
          expect(x.snapshot(0).window_ms).toBeLessThanOrEqual(bound)
        })
      }),
      { numRuns: 300 },
    )
  })

  it('a probe teaches the capacity: the requests beyond what the store serves at once wait for the first of ours to end', () => {
    const p = new Pacer(PACED, 0)
    let now = 0
    // Alone, one item takes 95 ms and four take 200 ms.
    for (const items of [1, 4, 1, 4]) {
      const ticket = p.sent(now, items)
      const ms = items === 1 ? 95 : 200
      p.done((now += ms), { ticket, items, ms, waiting: false })
    }
    // One request of ours is always in flight (the store is kept busy): a probe is due after 2 s.
    const begun = now
    while (p.probe(now, 0, 0) === null) {
      expect(now - begun).toBeLessThan(3000)
      const ticket = p.sent(now, 1)
      p.done((now += 95), { ticket, items: 1, ms: 95, waiting: false })
    }
    expect(now).toBeGreaterThanOrEqual(1000)
    // Learning, it waits for ours to drain and for an item per request: then four go at once.
    expect(p.probe(now, 0, 3)).toMatchObject({ width: 4, send: false })
    const tickets: PacingTicket[] = []
    for (let k = 0; k < 4; k++) {
      expect(p.probe(now, k, 4 - k)).toMatchObject({ width: 4, send: true, size: 1 })
      tickets.push(p.sent(now, 1))
    }
    expect(p.probe(now, 4, 0)).toBeNull()
    // A two-worker store: the first two are served at once, the others wait for them (95 ms).
    p.done(now + 95, { ticket: tickets[0]!, items: 1, ms: 95, waiting: false })
    p.done(now + 95, { ticket: tickets[1]!, items: 1, ms: 95, waiting: false })
    expect(p.capacity).toBeNull()
    p.done(now + 190, { ticket: tickets[2]!, items: 1, ms: 190, waiting: false })
    p.done(now + 190, { ticket: tickets[3]!, items: 1, ms: 190, waiting: false })
    expect(p.capacity).toBe(2)
    expect(p.concurrency).toBe(2)
    expect(p.snapshot(now + 190)).toMatchObject({ capacity: 2, concurrency: 2, max_concurrency: 4 })
  })

  it('a store that serves everything side by side teaches nothing: probes find no limit, the window stays the linger', () => {
    const p = new Pacer(PACED, 0)
    let now = 0
    let probes = 0
    const out: Array<{ ticket: PacingTicket; at: number }> = []
    // Every 50 ms a request goes; every answer takes 100 ms, however many are in flight.
    for (let step = 0; step < 400; step++) {
      now += 50
      while (out.length > 0 && out[0]!.at + 100 <= now) p.done(now, { ticket: out.shift()!.ticket, items: 1, ms: 100, waiting: false })
      // Four items wait each time: a probe can always fill its requests.
      let probe = p.probe(now, out.length, 4)
      if (probe) probes++
      if (!probe) out.push({ ticket: p.sent(now, 1), at: now })
      while (probe?.send) {
        out.push({ ticket: p.sent(now, 1), at: now })
        probe = p.probe(now, out.length, 4)
      }
    }
    expect(probes).toBeGreaterThan(3)
    expect(p.capacity).toBeNull()
    expect(p.loaded).toBe(false)
    expect(p.windowMs).toBe(PACED.minWindowMs)
  })

  it('a two-worker store at 20 changes/s: the capacity is learned, the store spends at least 40 % less per change than a request per change, p99 under a second', () => {
    for (const seed of [1, 2, 3]) {
      // As the bench does: a quiet spell first, where requests go alone and show the store's own cost.
      const [, paced] = simulate(PACED, [load(1, TWO_WORKERS, 100, 10), load(20, TWO_WORKERS)], seed)
      const [, lingerOnly] = simulate(LINGER_ONLY, [load(1, TWO_WORKERS, 100, 10), load(20, TWO_WORKERS)], seed)
      expect(paced!.capacity).toBe(2)
      // A request per change costs the store 95 ms; the window held at the linger still coalesces a little.
      expect(paced!.workerMsPerChange).toBeLessThanOrEqual(0.6 * (TWO_WORKERS.requestMs + TWO_WORKERS.itemMs))
      expect(paced!.workerMsPerChange).toBeLessThanOrEqual(0.65 * lingerOnly!.workerMsPerChange)
      expect(paced!.p99).toBeLessThan(1000)
      expect(paced!.pending).toBe(0)
    }
  })

  it('a long spell on a store that serves side by side does not delay learning the next load: 20 changes/s on two workers is paced soon after it begins', () => {
    for (const seed of [1, 2]) {
      // 40 s of fruitless probes back the learning probes off; then a quiet spell; then a load that queues.
      const [, , paced] = simulate(PACED, [load(100, UNLIMITED, 1000, 40), load(1, TWO_WORKERS, 100, 10), load(20, TWO_WORKERS, 100, 10)], seed)
      expect(paced!.capacity).toBe(2)
      // Learned within about a second: nearly the whole 10 s load at ~48 ms a change.
      expect(paced!.workerMsPerChange).toBeLessThanOrEqual(0.55 * (TWO_WORKERS.requestMs + TWO_WORKERS.itemMs))
    }
  })

  it('a two-worker store at 60 changes/s (more than it can take one change a request): p99 under 3 s, every change arrives', () => {
    for (const seed of [1, 2, 3]) {
      const [r] = simulate(PACED, [load(60, TWO_WORKERS)], seed)
      expect(r!.p99).toBeLessThan(3000)
      expect(r!.pending).toBe(0)
      expect(r!.maxWindow).toBeLessThanOrEqual(PACED.maxWindowMs)
    }
  })

  it('after a bulk push to a fast store that serves one request at a time, a parallel store at 100 changes/s is never paced', () => {
    for (const seed of [1, 2]) {
      const burst: Phase = { rate: 100_000, seconds: 0.1, store: { workers: 1, requestMs: 5, itemMs: 0.3 }, skus: 10_000, measured: false }
      const [, realistic] = simulate(PACED, [burst, load(100, UNLIMITED, 1000, 10)], seed)
      expect(realistic!.capacity).toBeNull()
      expect(realistic!.maxWindow).toBe(PACED.minWindowMs)
      expect(realistic!.p50).toBeLessThan(300)
    }
  })

  it('a store recovering from overload returns to small windows: one change a second goes at once', () => {
    for (const seed of [1, 2]) {
      const [, slow, idle] = simulate(PACED, [load(20, TWO_WORKERS, 100, 10), load(60, TWO_WORKERS, 100, 10), load(1, TWO_WORKERS, 100, 20)], seed)
      expect(slow!.maxWindow).toBeGreaterThan(PACED.minWindowMs)
      // Each change alone in its request, sent at once: the store's 95 ms and nothing else.
      expect(idle!.p50).toBe(TWO_WORKERS.requestMs + TWO_WORKERS.itemMs)
      expect(idle!.p99).toBeLessThan(400)
    }
  })

  it('under any arrival pattern and store, every change reaches the store and the window stays within its bound', () => {
    const store = fc.record({ workers: fc.integer({ min: 0, max: 4 }), requestMs: fc.integer({ min: 0, max: 200 }), itemMs: fc.integer({ min: 0, max: 50 }) })
    const phase = fc.record({ rate: fc.integer({ min: 1, max: 120 }), seconds: fc.integer({ min: 1, max: 5 }), store, skus: fc.integer({ min: 1, max: 300 }), jitter: fc.double({ min: 0, max: 1, noNaN: true }) })
    fc.assert(
      fc.property(settings, fc.array(phase, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 1_000_000 }), (s, phases, seed) => {
        const out = simulate(s, phases, seed, { drainMs: 120_000 })
        expect(out[out.length - 1]!.pending).toBe(0)
        for (const r of out) expect(r.maxWindow).toBeLessThanOrEqual(Math.max(s.minWindowMs, s.maxWindowMs))
      }),
      { numRuns: 60 },
    )
  })
})
