/**
 * The store pacer (sync/pacing.ts), driven with made-up clocks and answers: whatever happens, the
 * window stays within its bounds and the requests within [1, max]; a loaded store gets a wider
 * window; a store that recovers (fast answers, our requests no longer keeping it busy) returns to
 * the small window.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Pacer, type PacingSettings } from '../../src/sync/pacing.js'

const settings = fc.record({ minWindowMs: fc.integer({ min: 0, max: 200 }), maxWindowMs: fc.integer({ min: 0, max: 3000 }), maxConcurrency: fc.integer({ min: 1, max: 16 }) })
/** One step: time passes, a request goes out or one comes back (with its size, time, and whether items waited). */
const step = fc.record({
  dt: fc.integer({ min: 0, max: 3000 }),
  send: fc.boolean(),
  items: fc.integer({ min: 1, max: 100 }),
  ms: fc.integer({ min: 0, max: 10_000 }),
  waiting: fc.boolean(),
})

/** Plays steps against a pacer, keeping its requests in flight consistent (a request comes back only if one is out). */
function play(p: Pacer, steps: ReadonlyArray<{ dt: number; send: boolean; items: number; ms: number; waiting: boolean }>, t0 = 0, check?: (p: Pacer) => void): number {
  let now = t0
  let inFlight = 0
  for (const s of steps) {
    now += s.dt
    if (s.send || inFlight === 0) {
      p.sent(now)
      inFlight++
    } else {
      inFlight--
      p.done(now, { items: s.items, ms: s.ms, alongside: inFlight, waiting: s.waiting })
    }
    check?.(p)
  }
  return now
}

describe('store pacer', () => {
  it('the window never leaves [minWindowMs, maxWindowMs]; requests stay within [1, maxConcurrency]; the wait asked never exceeds the bound', () => {
    fc.assert(
      fc.property(settings, fc.array(step, { maxLength: 300 }), (s, steps) => {
        const p = new Pacer(s, 0)
        const bound = Math.max(s.minWindowMs, s.maxWindowMs)
        play(p, steps, 0, (x) => {
          expect(x.windowMs).toBeGreaterThanOrEqual(s.minWindowMs)
          expect(x.windowMs).toBeLessThanOrEqual(bound)
          expect(x.concurrency).toBeGreaterThanOrEqual(1)
          expect(x.concurrency).toBeLessThanOrEqual(s.maxConcurrency)
          for (const n of [0, 1, 5]) expect(x.waitFor(n)).toBeLessThanOrEqual(bound)
          const snap = x.snapshot(0)
          expect(snap.window_ms).toBeLessThanOrEqual(bound)
        })
      }),
      { numRuns: 300 },
    )
  })

  it('a loaded store (our requests back to back, items waiting) gets a wider window than the linger', () => {
    const s: PacingSettings = { minWindowMs: 40, maxWindowMs: 600, maxConcurrency: 4 }
    const p = new Pacer(s, 0)
    let now = 0
    for (let i = 0; i < 40; i++) {
      p.sent(now)
      now += 200
      p.done(now, { items: 4, ms: 200, alongside: 0, waiting: true })
    }
    expect(p.loaded).toBe(true)
    expect(p.windowMs).toBeGreaterThan(s.minWindowMs)
    // Waiting plus answering stays within the bound.
    expect(p.windowMs).toBeLessThanOrEqual(s.maxWindowMs - 200 + 1)
    expect(p.snapshot(now)).toMatchObject({ loaded: true, in_flight: 0, latency_ms: 200 })
  })

  it('a store recovering from any slow spell returns to the small window once its answers are fast and sparse', () => {
    fc.assert(
      fc.property(settings, fc.array(step, { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 50 }), (s, slow, fastCount) => {
        const p = new Pacer(s, 0)
        let now = play(p, slow)
        // Whatever was still in flight comes back.
        for (let i = 0; i < 300 && p.snapshot(now).in_flight > 0; i++) p.done((now += 10), { items: 1, ms: 5, alongside: 0, waiting: false })
        // Recovered: changes now and then, answered in 5 ms, nothing waiting.
        for (let i = 0; i < fastCount; i++) {
          now += 1000
          p.sent(now)
          now += 5
          p.done(now, { items: 1, ms: 5, alongside: 0, waiting: false })
        }
        now += 2500
        const snap = p.snapshot(now)
        expect(p.loaded).toBe(false)
        expect(p.windowMs).toBe(s.minWindowMs)
        expect(snap.window_ms).toBe(0) // idle: the next change goes at once
        expect(p.waitFor(1)).toBe(s.minWindowMs)
      }),
      { numRuns: 300 },
    )
  })

  it('parallel requests grow while items wait and the store does not queue, and shrink when parallel requests only queue', () => {
    const p = new Pacer({ minWindowMs: 0, maxWindowMs: 1000, maxConcurrency: 4 }, 0)
    let now = 0
    expect(p.concurrency).toBe(2)
    // Alone, a request of 4 items takes 100 ms.
    p.sent(now)
    p.done((now += 100), { items: 4, ms: 100, alongside: 0, waiting: false })
    expect(p.concurrency).toBe(2)
    p.sent(now)
    p.sent(now)
    p.done((now += 100), { items: 4, ms: 100, alongside: 1, waiting: true })
    expect(p.concurrency).toBe(3)
    // Beside others it now takes twice as long: the store queues them.
    p.done((now += 200), { items: 4, ms: 200, alongside: 1, waiting: true })
    expect(p.concurrency).toBe(2)
    // A larger request than any seen alone is judged against the nearest size scaled up: 16 items
    // in 250 ms is no queueing (4 items took 100 ms alone), in 800 ms it is.
    p.sent(now)
    p.sent(now)
    p.done((now += 250), { items: 16, ms: 250, alongside: 1, waiting: true })
    expect(p.concurrency).toBe(3)
    p.done((now += 800), { items: 16, ms: 800, alongside: 0 + 1, waiting: true })
    expect(p.concurrency).toBe(2)
  })
})
