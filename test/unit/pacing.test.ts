/**
 * The store pacer (sync/pacing.ts), driven with made-up clocks and answers, and pushed against
 * modelled stores in virtual time (./pacing-sim.ts): whatever happens, the window stays within its
 * bounds and the requests within [1, max]; a store that queues our requests is learned and gets
 * fuller requests; a store that serves as many as we send never gets a wider window; a store that
 * recovers returns to the small window; the last figure each SKU gets is its newest.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Pacer, type PacingSettings } from '../../src/sync/pacing.js'
import { percentile, simulate, type StoreModel } from './pacing-sim.js'

const settings = fc.record({ minWindowMs: fc.integer({ min: 0, max: 200 }), maxWindowMs: fc.integer({ min: 0, max: 3000 }), maxConcurrency: fc.integer({ min: 1, max: 16 }) })
/** One step: time passes, a request goes out or one of those in flight (`which`) comes back. */
const step = fc.record({
  dt: fc.integer({ min: 0, max: 3000 }),
  send: fc.boolean(),
  which: fc.nat(),
  items: fc.integer({ min: 1, max: 100 }),
  waiting: fc.boolean(),
})
type Step = { dt: number; send: boolean; which: number; items: number; waiting: boolean }

/** Plays steps against a pacer (a request comes back only if one is out, in any order). */
function play(p: Pacer, steps: ReadonlyArray<Step>, t0 = 0, check?: (p: Pacer, now: number) => void): { now: number; out: number[] } {
  let now = t0
  const out: number[] = []
  for (const s of steps) {
    now += s.dt
    if (s.send || out.length === 0) out.push(p.sent(now))
    else p.done(out.splice(s.which % out.length, 1)[0]!, now, { items: s.items, waiting: s.waiting })
    check?.(p, now)
  }
  return { now, out }
}

const CAPACITY_STORE: StoreModel = { workers: 2, requestMs: 60, itemMs: 35, jitter: 0.2 }
const UNLIMITED_STORE: StoreModel = { workers: Infinity, requestMs: 90, itemMs: 20, jitter: 0.2 }
const PACED: PacingSettings = { minWindowMs: 40, maxWindowMs: 600, maxConcurrency: 4 }
/** The same hub with a window that cannot grow (its bound at the linger). */
const FIXED: PacingSettings = { ...PACED, maxWindowMs: PACED.minWindowMs }

describe('store pacer', () => {
  it('the window never leaves [minWindowMs, maxWindowMs]; requests stay within [1, maxConcurrency]; no wait asked exceeds its bound', () => {
    fc.assert(
      fc.property(settings, fc.array(step, { maxLength: 300 }), (s, steps) => {
        const p = new Pacer(s, 0)
        const bound = Math.max(s.minWindowMs, s.maxWindowMs)
        play(p, steps, 0, (x, now) => {
          expect(x.windowMs).toBeGreaterThanOrEqual(s.minWindowMs)
          expect(x.windowMs).toBeLessThanOrEqual(bound)
          expect(x.concurrency).toBeGreaterThanOrEqual(1)
          expect(x.concurrency).toBeLessThanOrEqual(s.maxConcurrency)
          for (const n of [0, 1, 5]) {
            expect(x.waitFor(n)).toBeLessThanOrEqual(bound)
            for (const age of [0, bound, 10_000]) expect(x.holdsFor(n, age)).toBeLessThanOrEqual(3 * bound)
          }
          const snap = x.snapshot(now)
          expect(snap.window_ms).toBeLessThanOrEqual(bound)
          expect(snap.busy).toBeGreaterThanOrEqual(0)
          expect(snap.busy).toBeLessThanOrEqual(1)
        })
      }),
      { numRuns: 300 },
    )
  })

  it('a store recovering from any slow spell returns to the small window once its answers are fast and sparse', () => {
    fc.assert(
      fc.property(settings, fc.array(step, { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 50 }), (s, slow, fastCount) => {
        const p = new Pacer(s, 0)
        let { now, out } = play(p, slow)
        // Whatever was still in flight comes back.
        for (const t of out) p.done(t, (now += 10), { items: 1, waiting: false })
        // Recovered: changes now and then, answered in 5 ms, nothing waiting.
        for (let i = 0; i < fastCount; i++) {
          now += 1000
          const t = p.sent(now)
          p.done(t, (now += 5), { items: 1, waiting: false })
        }
        now += 2500
        const snap = p.snapshot(now)
        expect(p.loaded).toBe(false)
        expect(p.windowMs).toBe(s.minWindowMs)
        expect(snap.window_ms).toBe(0) // idle: the next change goes at once
        expect(p.waitFor(1)).toBe(s.minWindowMs)
        expect(p.holdsFor(1, 0)).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  it('answers that waited at the store for ours teach its capacity: parallel requests drop to it (never below 2), and the window may grow', () => {
    const p = new Pacer({ minWindowMs: 40, maxWindowMs: 600, maxConcurrency: 4 }, 0)
    let now = 0
    // Alone, one item takes 100 ms.
    for (let i = 0; i < 3; i++) p.done(p.sent(now), (now += 100), { items: 1, waiting: true })
    // Two at once, served side by side (both back after 100 ms): parallel requests help, so they grow.
    for (let i = 0; i < 3; i++) {
      const a = p.sent(now)
      const b = p.sent(now)
      p.done(a, (now += 100), { items: 1, waiting: true })
      p.done(b, now, { items: 1, waiting: true })
    }
    expect(p.concurrency).toBeGreaterThan(2)
    expect(p.capacity).toBeNull()
    // Three at once: the third comes back 100 ms after the first two, its own cost after theirs: it waited.
    for (let i = 0; i < 4; i++) {
      const a = p.sent(now)
      const b = p.sent(now)
      const c = p.sent(now)
      p.done(a, (now += 100), { items: 1, waiting: true })
      p.done(b, now, { items: 1, waiting: true })
      p.done(c, (now += 100), { items: 1, waiting: true })
    }
    expect(p.capacity).toBe(2)
    expect(p.concurrency).toBe(2)
    expect(p.snapshot(now)).toMatchObject({ store_capacity: 2, concurrency: 2 })
  })

  it('one slow answer on a loaded machine teaches nothing; answers of a size never seen uncontended are not judged', () => {
    const p = new Pacer({ minWindowMs: 40, maxWindowMs: 600, maxConcurrency: 4 }, 0)
    let now = 0
    p.done(p.sent(now), (now += 100), { items: 1, waiting: false })
    // Sent beside another, 3× slower than usual, once: no verdict.
    const a = p.sent(now)
    const b = p.sent(now)
    p.done(a, (now += 100), { items: 1, waiting: false })
    p.done(b, (now += 200), { items: 1, waiting: false })
    expect(p.capacity).toBeNull()
    // Bigger requests (never seen alone) that take long beside others: no verdict either.
    for (let i = 0; i < 10; i++) {
      const x = p.sent(now)
      const y = p.sent(now)
      p.done(x, (now += 100), { items: 1, waiting: false })
      p.done(y, (now += 2000), { items: 60, waiting: false })
    }
    expect(p.capacity).toBeNull()
    expect(p.loaded).toBe(false)
  })

  it('against a 2-worker store at 20 changes/s (random arrivals), it learns the capacity and cuts the store\'s work per change by ≥ 40 % against one change a request, and below a window that cannot grow', () => {
    for (const seed of [1, 2, 3]) {
      const load = { perSecond: 20, skus: 100, seconds: 30, seed, poisson: true }
      const paced = simulate(CAPACITY_STORE, load, PACED)
      const fixed = simulate(CAPACITY_STORE, load, FIXED)
      expect(paced.pacer.capacity).toBe(2)
      expect(Math.max(...paced.windows)).toBeGreaterThan(PACED.minWindowMs)
      expect(Math.max(...paced.windows)).toBeLessThanOrEqual(PACED.maxWindowMs)
      // Against the hub that sent each change alone (one request and one item each), and no worse than the fixed window.
      expect(paced.workerMs / paced.changes).toBeLessThanOrEqual(0.6 * (CAPACITY_STORE.requestMs + CAPACITY_STORE.itemMs) * (1 + CAPACITY_STORE.jitter! / 2))
      expect(paced.workerMs / paced.changes).toBeLessThan(fixed.workerMs / fixed.changes)
      expect(paced.newestWins).toBe(true)
    }
  })

  it('against a 2-worker store at 60 changes/s, rounds split over its workers keep every SKU right and the backlog within the SKUs changed', () => {
    for (const poisson of [false, true]) {
      const r = simulate(CAPACITY_STORE, { perSecond: 60, skus: 100, seconds: 20, seed: 5, poisson }, PACED)
      expect(r.newestWins).toBe(true)
      // It queues: learned below the 4 requests allowed (2 or, if a verdict beside 3 came first, 3).
      expect(r.pacer.capacity).not.toBeNull()
      expect(r.pacer.capacity!).toBeLessThan(PACED.maxConcurrency)
      expect(r.latencies.length).toBe(r.changes)
      // Fuller requests than one per change, and fewer changes waiting than SKUs.
      expect(r.items / r.requests).toBeGreaterThan(4)
      expect(r.maxBacklog).toBeLessThanOrEqual(100)
    }
  })

  it('against a store that serves as many requests as it gets (100 changes/s), nothing changes: no capacity, the window at the linger, all requests used', () => {
    for (const poisson of [false, true]) {
      const load = { perSecond: 100, skus: 1000, seconds: 10, seed: 9, poisson }
      const paced = simulate(UNLIMITED_STORE, load, PACED)
      const fixed = simulate(UNLIMITED_STORE, load, FIXED)
      expect(paced.pacer.capacity).toBeNull()
      expect(paced.pacer.loaded).toBe(false)
      expect(new Set(paced.windows)).toEqual(new Set([PACED.minWindowMs]))
      expect(paced.pacer.concurrency).toBe(PACED.maxConcurrency)
      expect(paced.requests).toBe(fixed.requests)
      expect(percentile(paced.latencies, 0.5)).toBe(percentile(fixed.latencies, 0.5))
    }
  })

  it('under any arrival pattern and store, the last figure each SKU gets is its newest and the window stays within its bound', () => {
    fc.assert(
      fc.property(
        fc.record({ workers: fc.constantFrom(1, 2, 3, Infinity), requestMs: fc.integer({ min: 1, max: 200 }), itemMs: fc.integer({ min: 0, max: 50 }), jitter: fc.double({ min: 0, max: 1, noNaN: true }) }),
        fc.record({ perSecond: fc.integer({ min: 1, max: 120 }), skus: fc.integer({ min: 1, max: 200 }), seconds: fc.integer({ min: 1, max: 5 }), seed: fc.nat(), poisson: fc.boolean() }),
        settings,
        (store, load, s) => {
          const r = simulate(store, load, s)
          expect(r.newestWins).toBe(true)
          expect(r.latencies.length).toBe(r.changes)
          for (const w of r.windows) expect(w).toBeLessThanOrEqual(Math.max(s.minWindowMs, s.maxWindowMs))
        },
      ),
      { numRuns: 60 },
    )
  })
})
