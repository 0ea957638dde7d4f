/**
 * @module sync/pacing: how hard to push one slow target (a store): the batch window and the
 * parallel requests, adapted to what the target's answers show.
 *
 * A store costs a fixed overhead per request plus a cost per item (a real WooCommerce 10 store
 * measured ~60 ms + 35 ms an item on 2 cores). Small requests sent as fast as changes come keep
 * its workers busy with overhead and make it queue; fewer, fuller requests cost it less per change.
 * The pacer trades latency it can afford for fuller batches, only while the target is loaded:
 *
 * - **Loaded** when our requests keep it busy (the share of time at least one request is in flight
 *   is ≥ 50 %), when claimed items wait for a free request, or when it answers slower than it did
 *   for a request of the same size with nothing else in flight (it queues). Not loaded again once
 *   that share falls to ≤ 20 % with nothing waiting (hysteresis, so it does not flap).
 * - **Window**: while loaded, a batch waits until its oldest item has waited `window`, which moves
 *   towards `maxWindowMs − the store's response time` (so waiting plus answering stays within the
 *   bound); while not loaded it falls back to `minWindowMs` (the configured linger), which applies
 *   only while other requests are in flight (an idle store gets a change at once). Always within
 *   [minWindowMs, maxWindowMs].
 * - **Concurrency** starts at 2 (at most the store's) and grows by one while items wait for a free request and the store
 *   does not queue (parallel requests help); it shrinks by one when a request sent beside others
 *   took ≥ 1.4× what a request of its size takes alone (they only queue at the store).
 *
 * Oldest first: items leave in the order they were claimed, so no SKU waits behind newer ones.
 * Pure bookkeeping, no timers: the worker asks and reports (sync/worker.ts).
 */

export interface PacingSettings {
  /** The window's floor, and the linger while requests are in flight when the target is not loaded. */
  readonly minWindowMs: number
  /** The window's bound: no batch waits longer for more items. */
  readonly maxWindowMs: number
  /** Requests in flight at most (the store's configured concurrency). */
  readonly maxConcurrency: number
}

/** What steers the pacer now (for `stores show`). */
export interface PacingSnapshot {
  readonly window_ms: number
  readonly loaded: boolean
  readonly concurrency: number
  readonly max_concurrency: number
  readonly in_flight: number
  readonly backlog: number
  /** Smoothed response time of the target's requests (ms); null before the first. */
  readonly latency_ms: number | null
  /** Share of time at least one request was in flight, smoothed (0…1). */
  readonly busy: number
}

const ENTER_BUSY = 0.5
const LEAVE_BUSY = 0.2
const QUEUEING = 1.4
const NO_QUEUEING = 1.15
/** Busy share sampled over at least this long. */
const SAMPLE_MS = 250

/** Size classes (items) with their own uncontended response time: ~1.35× apart, so a class's cost varies little. */
const BUCKET_TOPS = [1, 2, 3, 5, 7, 10, 14, 19, 27, 38, 53, 74, Infinity]
const bucketOf = (items: number) => BUCKET_TOPS.findIndex((top) => items <= top)

export class Pacer {
  #s: PacingSettings
  #window: number
  #concurrency: number
  #loaded = false
  #latency: number | null = null
  /** Uncontended response time per size class (requests sent with nothing else of ours in flight). */
  readonly #base: Array<number | undefined> = []
  /** When the concurrency last changed. */
  #changedAt = -Infinity
  #busy = 0
  #busyMs = 0
  #inFlight = 0
  #busySince = 0
  #sampleAt: number
  #backlog = 0

  constructor(settings: PacingSettings, now: number) {
    this.#s = Pacer.#bounded(settings)
    this.#window = this.#s.minWindowMs
    // Two to start with: one request is answered while the next gathers (the store still decides).
    this.#concurrency = Math.min(2, this.#s.maxConcurrency)
    this.#sampleAt = now
  }

  static #bounded(s: PacingSettings): PacingSettings {
    const minWindowMs = Math.max(0, s.minWindowMs)
    return { minWindowMs, maxWindowMs: Math.max(minWindowMs, s.maxWindowMs), maxConcurrency: Math.max(1, Math.floor(s.maxConcurrency)) }
  }

  /** New settings (a store changed): bounds apply at once. */
  configure(settings: PacingSettings): void {
    this.#s = Pacer.#bounded(settings)
    this.#window = Math.min(this.#s.maxWindowMs, Math.max(this.#s.minWindowMs, this.#window))
    this.#concurrency = Math.min(this.#concurrency, this.#s.maxConcurrency)
  }

  get settings(): PacingSettings {
    return this.#s
  }
  get concurrency(): number {
    return this.#concurrency
  }
  get windowMs(): number {
    return this.#window
  }
  get loaded(): boolean {
    return this.#loaded
  }

  /** How long the oldest item of a batch should have waited before it is sent (0: at once). */
  waitFor(inFlight: number): number {
    if (this.#loaded) return this.#window
    return inFlight > 0 ? this.#s.minWindowMs : 0
  }

  /** Items claimed and not yet sent (for the snapshot). */
  backlog(n: number): void {
    this.#backlog = n
  }

  /** A request goes out. */
  sent(now: number): void {
    this.#sample(now)
    if (this.#inFlight === 0) this.#busySince = now
    this.#inFlight++
  }

  /**
   * A request came back: `items` sent, `ms` its response time, `alongside` our other requests in
   * flight when it was sent, `waiting` whether items waited for a free request meanwhile.
   */
  done(now: number, o: { items: number; ms: number; alongside: number; waiting: boolean }): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1)
    if (this.#inFlight === 0) this.#busyMs += now - this.#busySince
    this.#sample(now)
    this.#latency = this.#latency === null ? o.ms : this.#latency * 0.7 + o.ms * 0.3
    const b = bucketOf(Math.max(1, o.items))
    const base = this.#base[b]
    let queueing: number | null = null
    if (o.alongside === 0) {
      // Alone: the target's own cost for this size. The floor creeps up slowly, so a store that got
      // slower for good is not compared with its best day forever.
      this.#base[b] = base === undefined || o.ms < base ? o.ms : base + (o.ms - base) * 0.05
    } else {
      const expected = this.#expected(b, o.items)
      if (expected !== null && expected > 0) queueing = o.ms / expected
    }
    // One step at a time: answers to requests sent before the last change say nothing of the new level.
    if (now - o.ms >= this.#changedAt) {
      const before = this.#concurrency
      if (queueing !== null && queueing >= QUEUEING) this.#concurrency = Math.max(1, this.#concurrency - 1)
      else if (o.waiting && (queueing === null || queueing <= NO_QUEUEING)) this.#concurrency = Math.min(this.#s.maxConcurrency, this.#concurrency + 1)
      if (this.#concurrency !== before) this.#changedAt = now
    }

    const { minWindowMs, maxWindowMs } = this.#s
    if (!this.#loaded && (this.#busy >= ENTER_BUSY || o.waiting || (queueing !== null && queueing >= QUEUEING))) this.#loaded = true
    else if (this.#loaded && this.#busy <= LEAVE_BUSY && !o.waiting) {
      // Leaving the loaded state returns to the linger at once, as an idle spell does in #sample:
      // halving towards it would leave a fraction of a window for as many answers as it takes.
      this.#loaded = false
      this.#window = minWindowMs
    }
    const target = this.#loaded ? maxWindowMs - this.#latency : minWindowMs
    // Halve the distance to the target, and land on it once within a millisecond (halving alone never
    // reaches it, so a recovered store would keep a fraction of a window).
    const next = this.#window + (target - this.#window) * 0.5
    this.#window = Math.min(maxWindowMs, Math.max(minWindowMs, Math.abs(target - next) < 1 ? target : next))
  }

  /**
   * What a request of `items` takes alone: its size class's own figure, else the nearest smaller
   * class's scaled up in proportion to the items (an overestimate, as part of a request's cost is
   * fixed: it errs towards "no queueing").
   */
  #expected(b: number, items: number): number | null {
    const own = this.#base[b]
    if (own !== undefined) return own
    for (let i = b - 1; i >= 0; i--) {
      const base = this.#base[i]
      if (base !== undefined) return base * (items / BUCKET_TOPS[i]!)
    }
    return null
  }

  /** Fold the busy time since the last sample into the smoothed busy share. */
  #sample(now: number): void {
    const span = now - this.#sampleAt
    if (span < SAMPLE_MS) return
    let busyMs = this.#busyMs
    if (this.#inFlight > 0) {
      busyMs += now - this.#busySince
      this.#busySince = now
    }
    const share = Math.min(1, Math.max(0, busyMs / span))
    // Smoothed over about a second: a span that long (an idle store) replaces the share outright.
    const weight = Math.min(1, span / 1000)
    this.#busy = this.#busy * (1 - weight) + share * weight
    this.#busyMs = 0
    this.#sampleAt = now
    if (this.#loaded && this.#busy <= LEAVE_BUSY && this.#inFlight === 0) {
      this.#loaded = false
      this.#window = this.#s.minWindowMs
    }
  }

  snapshot(now: number): PacingSnapshot {
    this.#sample(now)
    return {
      window_ms: Math.round(this.#loaded ? this.#window : this.waitFor(this.#inFlight)),
      loaded: this.#loaded,
      concurrency: this.#concurrency,
      max_concurrency: this.#s.maxConcurrency,
      in_flight: this.#inFlight,
      backlog: this.#backlog,
      latency_ms: this.#latency === null ? null : Math.round(this.#latency),
      busy: Math.round(this.#busy * 100) / 100,
    }
  }
}
