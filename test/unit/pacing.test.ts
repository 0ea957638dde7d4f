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

  it('a store that queues our parallel requests (its capacity known) and is kept busy by them gets a wider window than the linger', () => {
    const s: PacingSettings = { minWindowMs: 40, maxWindowMs: 600, maxConcurrency: 4 }
    const p = new Pacer(s, 0)
    let now = 0
    // Alone a request of 4 items takes 200 ms; two at once queue (one worker): the second takes 400 ms.
    p.sent(now)
    p.done((now += 200), { items: 4, ms: 200, alongside: 0, waiting: false })
    p.sent(now)
    p.sent(now)
    p.done((now += 200), { items: 4, ms: 200, alongside: 1, waiting: true })
    p.done((now += 200), { items: 4, ms: 400, alongside: 1, waiting: true })
    expect(p.storeCapacity).toBe(1)
    // Then back to back, one at a time: its one worker always busy.
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
    expect(p.snapshot(now).store_load).toBeGreaterThan(0.5)
  })

  it('requests back to back with items waiting are no load while the store never queued (it serves as many at once as we send)', () => {
    const s: PacingSettings = { minWindowMs: 40, maxWindowMs: 600, maxConcurrency: 4 }
    const p = new Pacer(s, 0)
    let now = 0
    for (let i = 0; i < 40; i++) {
      p.sent(now)
      now += 200
      p.done(now, { items: 4, ms: 200, alongside: 0, waiting: true })
    }
    expect(p.loaded).toBe(false)
    expect(p.windowMs).toBe(s.minWindowMs)
    expect(p.snapshot(now)).toMatchObject({ loaded: false, store_load: null, busy: 1 })
    // Items waited and one at a time did not queue: more parallel requests, even from one.
    expect(p.concurrency).toBe(4)
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
    // Two at once take no longer, and items waited: one more.
    p.sent(now)
    p.sent(now)
    p.done((now += 100), { items: 4, ms: 100, alongside: 0, waiting: false })
    p.done(now, { items: 4, ms: 100, alongside: 1, waiting: true })
    expect(p.concurrency).toBe(3)
    // Three at once: the one sent beside two others takes twice as long while they came back in
    // their usual time: the store queued it (it serves two at once).
    p.sent(now)
    p.sent(now)
    p.sent(now)
    p.done((now += 100), { items: 4, ms: 100, alongside: 0, waiting: false })
    p.done(now, { items: 4, ms: 100, alongside: 1, waiting: false })
    p.done((now += 100), { items: 4, ms: 200, alongside: 2, waiting: true })
    expect(p.concurrency).toBe(2)
    expect(p.storeCapacity).toBe(2)
    // A larger request than any seen is judged against the nearest size scaled up: 16 items in
    // 250 ms is no queueing (4 items took 100 ms), in 800 ms while one sent alone came back in
    // 250 ms it is.
    p.sent(now)
    p.sent(now)
    p.done((now += 250), { items: 16, ms: 250, alongside: 0, waiting: false })
    p.done(now, { items: 16, ms: 250, alongside: 1, waiting: true })
    expect(p.concurrency).toBe(3)
    p.sent(now)
    p.sent(now)
    p.done((now += 250), { items: 16, ms: 250, alongside: 0, waiting: false })
    p.done((now += 550), { items: 16, ms: 800, alongside: 1, waiting: true })
    expect(p.concurrency).toBe(2)
    expect(p.storeCapacity).toBe(1)
  })

  it('answers all slower alike (a loaded machine) are not the store queueing', () => {
    const p = new Pacer({ minWindowMs: 40, maxWindowMs: 1000, maxConcurrency: 4 }, 0)
    let now = 0
    p.sent(now)
    p.done((now += 100), { items: 4, ms: 100, alongside: 0, waiting: false })
    // Then everything takes three times as long, beside others or not.
    for (let i = 0; i < 20; i++) {
      p.sent(now)
      p.sent(now)
      p.done((now += 300), { items: 4, ms: 300, alongside: 0, waiting: true })
      p.done(now, { items: 4, ms: 300, alongside: 1, waiting: true })
    }
    expect(p.storeCapacity).toBeNull()
    expect(p.loaded).toBe(false)
    expect(p.concurrency).toBeGreaterThanOrEqual(2)
  })
})

/**
 * A store served through a pacer, in simulated milliseconds: changes arrive at `rate` a second (at
 * random, as sales do: exponential gaps from a seeded generator); the
 * hub sends as the worker does (a loaded store gets everything that waited its window in one request,
 * else the backlog spread over the free requests, 4 at least; at most 100 a request, the pacer's
 * concurrency at once); the store serves `workers` requests at once (Infinity: as many as come), each
 * taking `requestMs + itemMs × items` of a worker (times `jitter`), the rest waiting in line.
 */
function simulate(p: Pacer, o: { rate: number; ms: number; t0?: number; seed?: number; workers: number; requestMs: number; itemMs: number; jitter?: (now: number) => number }, check?: (p: Pacer) => void) {
  const queue: number[] = []
  const flying: Array<{ sentAt: number; items: number; alongside: number; doneAt: number }> = []
  const line: Array<(now: number) => void> = []
  let serving = 0
  let waiting = false
  let workMs = 0
  let changes = 0
  let requests = 0
  const t0 = o.t0 ?? 0
  let x = o.seed ?? 1
  const random = () => (((x = (Math.imul(x, 1103515245) + 12345) | 0) >>> 8) + 0.5) / 2 ** 24
  let nextArrival = t0
  for (let now = t0; now < t0 + o.ms; now++) {
    while (nextArrival <= now) {
      queue.push(now)
      changes++
      nextArrival += (-Math.log(random()) * 1000) / o.rate
    }
    for (const r of flying.filter((f) => f.doneAt <= now)) {
      flying.splice(flying.indexOf(r), 1)
      serving--
      line.shift()?.(now)
      p.done(now, { items: r.items, ms: now - r.sentAt, alongside: r.alongside, waiting })
      waiting = false
      check?.(p)
    }
    while (queue.length > 0 && flying.length < p.concurrency) {
      const wait = p.waitFor(flying.length)
      const age = now - queue[0]!
      const enough = queue.length >= (p.loaded ? 100 : 4)
      if (!(wait <= 0 || age >= wait || enough)) break
      const free = p.concurrency - flying.length
      const size = Math.min(100, Math.max(4, Math.ceil(queue.length / (p.loaded ? 1 : free))))
      const items = queue.splice(0, size).length
      const r = { sentAt: now, items, alongside: flying.length, doneAt: Infinity }
      const cost = (o.requestMs + o.itemMs * items) * (o.jitter?.(now) ?? 1)
      workMs += cost
      requests++
      const start = (at: number) => {
        serving++
        r.doneAt = at + Math.max(1, Math.round(cost))
      }
      if (serving < o.workers) start(now)
      else line.push(start)
      flying.push(r)
      p.sent(now)
      check?.(p)
    }
    if (queue.length > 0 && flying.length >= p.concurrency && now - queue[0]! >= p.waitFor(flying.length)) waiting = true
  }
  return { workPerChange: workMs / Math.max(1, changes), requests, end: t0 + o.ms }
}

describe('store pacer against a simulated store', () => {
  const paced: PacingSettings = { minWindowMs: 40, maxWindowMs: 600, maxConcurrency: 4 }

  it('a fast store that serves as many requests at once as we send never grows the window, at any rate and cost', () => {
    fc.assert(
      fc.property(
        fc.record({ rate: fc.integer({ min: 1, max: 300 }), requestMs: fc.integer({ min: 1, max: 200 }), itemMs: fc.integer({ min: 0, max: 40 }), maxConcurrency: fc.integer({ min: 1, max: 8 }), seed: fc.integer() }),
        ({ rate, requestMs, itemMs, maxConcurrency, seed }) => {
          let x = seed | 1
          const random = () => (((x = (Math.imul(x, 1103515245) + 12345) | 0) >>> 8) + 0.5) / 2 ** 24
          // A machine loaded by others: every answer up to 2.5× slower alike (the load swelling and
          // ebbing over 20 s), each up to 10 % more; never queued.
          const jitter = (now: number) => (1 + 0.75 * (1 - Math.cos((2 * Math.PI * now) / 20_000))) * (1 + random() / 10)
          const p = new Pacer({ ...paced, maxConcurrency }, 0)
          simulate(p, { rate, ms: 6000, workers: Infinity, requestMs, itemMs, jitter }, (q) => {
            expect(q.loaded).toBe(false)
            expect(q.windowMs).toBe(paced.minWindowMs)
          })
        },
      ),
      { numRuns: 200 },
    )
  })

  it('a store that queues (2 workers, 60 ms + 35 ms an item) at 20 changes/s grows the window and costs it less worker time per change than a fixed linger', () => {
    const store = { rate: 20, ms: 20_000, workers: 2, requestMs: 60, itemMs: 35 }
    const p = new Pacer(paced, 0)
    const grown = simulate(p, store)
    expect(p.loaded).toBe(true)
    expect(p.storeCapacity).toBe(2)
    expect(p.windowMs).toBeGreaterThan(paced.minWindowMs)
    const fixed = simulate(new Pacer({ ...paced, maxWindowMs: paced.minWindowMs }, 0), store)
    // Simulated: a fifth less over the whole run, the spell before it learned the store's capacity included.
    expect(grown.workPerChange).toBeLessThanOrEqual(0.8 * fixed.workPerChange)
  })

  it('a store that queued returns to the linger once the load falls', () => {
    const p = new Pacer(paced, 0)
    const { end } = simulate(p, { rate: 30, ms: 10_000, workers: 2, requestMs: 60, itemMs: 35 })
    expect(p.loaded).toBe(true)
    simulate(p, { rate: 1, ms: 10_000, t0: end, workers: 2, requestMs: 60, itemMs: 35 })
    expect(p.loaded).toBe(false)
    expect(p.windowMs).toBe(paced.minWindowMs)
  })
})
