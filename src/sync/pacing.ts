/**
 * @module sync/pacing: how hard to push one slow target (a store): the batch window and the
 * parallel requests, adapted to what the target's answers show.
 *
 * A store costs a fixed overhead per request plus a cost per item (a real WooCommerce 10 store
 * measured ~60 ms + 35 ms an item) and serves a few requests at once (its PHP workers); the rest
 * wait in its queue. Small requests sent as fast as changes come keep its workers busy with
 * overhead and make it queue; fewer, fuller requests cost it less per change. A store that serves
 * as many requests at once as we send never queues them, and a wider window only costs latency
 * there. So the pacer first learns whether the store queues, and widens the window only then:
 *
 * - **The store's capacity** (requests of ours it serves at once) is learned from the order of the
 *   answers, not from their size: a request sent beside k of ours that finishes before any of them,
 *   or sooner after the first of them than its own cost, ran beside them (the store serves more
 *   than k at once); one that would have waited a while for the first of them had the store held
 *   it (≥ 25 % of its size's usual time) and took about that much longer than usual (≥ 75 % of
 *   it) waited for a worker: on a store serving side by side its time does not depend on when the
 *   others end, so a noisy machine does not read as queueing. A verdict needs a majority of several such answers
 *   at that level (one slow answer on a loaded machine decides nothing); answers of a size never
 *   seen uncontended are not judged at all (an extrapolated cost read as queueing once made a
 *   pacer spiral towards ever bigger batches). Capacity k learned, the parallel requests drop to
 *   k (never below 2: one request is answered while the next gathers) and grow past it only as a
 *   probe, once every PROBE_EVERY_MS while changes wait; answers beside k that no longer queue
 *   (twice as many votes: forgetting costs more than learning late) forget it.
 * - **Loaded**: the store is known to queue and our requests occupy at least half of its capacity
 *   (mean requests in flight / capacity, smoothed over about a second), or changes wait for a free
 *   request. Not loaded again once the occupancy falls to ≤ 20 % with nothing waiting (hysteresis),
 *   or when the capacity is forgotten.
 * - **Window**: while loaded, a batch waits until its oldest change has waited `window`; the window
 *   grows (×1.25) while the occupancy is above 45 % and shrinks (×0.8) below 30 %, so the store
 *   stays about half busy with fuller requests, capped at `maxWindowMs − the store's response time`
 *   (waiting plus answering stays within the bound). While not loaded it is `minWindowMs` (the
 *   configured linger), which applies only while other requests are in flight: an idle store gets a
 *   change at once. Always within [minWindowMs, maxWindowMs].
 * - **Rounds**: a loaded store's next batch waits for the requests out to come back (`holdsFor`, at
 *   most 3 bounds) and then goes split over its workers, so a SKU changed while in flight waits
 *   one round, not two staggered requests.
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

/** What steers the pacer now (for `stores show` and /metrics). */
export interface PacingSnapshot {
  readonly window_ms: number
  readonly loaded: boolean
  readonly concurrency: number
  readonly max_concurrency: number
  readonly in_flight: number
  readonly backlog: number
  /** Smoothed response time of the target's requests (ms); null before the first. */
  readonly latency_ms: number | null
  /** Requests of ours the store serves at once before it queues them, as learned; null while it never queued one. */
  readonly store_capacity: number | null
  /** Occupancy: mean requests of ours in flight over the store's capacity (the allowed requests while it is unknown), smoothed (0…1). */
  readonly busy: number
}

const ENTER_BUSY = 0.5
const LEAVE_BUSY = 0.2
const GROW_ABOVE = 0.45
const SHRINK_BELOW = 0.3
/**
 * An answer that would have waited for the first of its peers at least this share of its size's
 * usual time (had the store held it), and took at least WAITED of that wait longer than usual, did
 * wait: on a store that serves them side by side its time does not depend on when the others end.
 */
const WAIT_WORTH = 0.25
const WAITED = 0.75
/** An answer that came back sooner than this share of its size's fastest after the first of its peers finished had started beside them. */
const PARALLEL = 0.85
/** Votes (queued 1, parallel 0) per level, smoothed: a verdict needs VERDICT_VOTES and a clear majority. */
const VOTE_WEIGHT = 0.3
const VERDICT_VOTES = 3
const QUEUES_AT = 0.6
const NO_QUEUE_AT = 0.2
/** With the capacity known, one request past it at most this often (the store may have more workers now) … */
const PROBE_EVERY_MS = 30_000
/** … and back to the capacity if the probe brought no verdict by then. */
const PROBE_FOR_MS = 3_000
/** Occupancy sampled over at least this long. */
const SAMPLE_MS = 250
const LEVELS = 16
/** A loaded store's next round waits for the one out at most this many window bounds (a hanging request holds no change for ever). */
const HOLD_BOUND = 3

/** Size classes (items) with their own uncontended response time: ~1.35× apart, so a class's cost varies little. */
const BUCKET_TOPS = [1, 2, 3, 5, 7, 10, 14, 19, 27, 38, 53, 74, Infinity]
const bucketOf = (items: number) => BUCKET_TOPS.findIndex((top) => items <= top)

/** A request of ours in flight: when it went, the others in flight then, and when the first of them came back. */
interface Flight {
  readonly at: number
  readonly others: ReadonlySet<number>
  firstOtherDone: number | null
}

export class Pacer {
  #s: PacingSettings
  #window: number
  #concurrency: number
  #loaded = false
  #latency: number | null = null
  /** Fastest uncontended response per size class (creeps up slowly, so a store that got slower for good is not held to its best day). */
  readonly #floor: Array<number | undefined> = []
  /** Usual uncontended response per size class (smoothed). */
  readonly #usual: Array<number | undefined> = []
  /** Votes per level (answers sent beside that many of ours): smoothed share that queued, and how many since the last verdict. */
  readonly #votes: Array<{ share: number; n: number }> = []
  #capacity: number | null = null
  #probeAt = -Infinity
  /** When the concurrency last changed. */
  #changedAt = -Infinity
  /** When the window last moved (once per occupancy sample: the occupancy lags the window by about a second). */
  #windowAt = -Infinity
  #busy = 0
  /** Requests in flight × ms since the last sample, and since when it was last added up. */
  #flightArea = 0
  #areaAt: number
  #sampleAt: number
  readonly #flights = new Map<number, Flight>()
  #ticket = 0
  #backlog = 0

  constructor(settings: PacingSettings, now: number) {
    this.#s = Pacer.#bounded(settings)
    this.#window = this.#s.minWindowMs
    this.#concurrency = this.#least()
    this.#sampleAt = now
    this.#areaAt = now
  }

  static #bounded(s: PacingSettings): PacingSettings {
    const minWindowMs = Math.max(0, s.minWindowMs)
    return { minWindowMs, maxWindowMs: Math.max(minWindowMs, s.maxWindowMs), maxConcurrency: Math.max(1, Math.floor(s.maxConcurrency)) }
  }

  /** Two requests at least (one is answered while the next gathers), unless the store allows one. */
  #least(): number {
    return Math.min(2, this.#s.maxConcurrency)
  }

  /** New settings (a store changed): bounds apply at once. */
  configure(settings: PacingSettings): void {
    this.#s = Pacer.#bounded(settings)
    this.#window = Math.min(this.#s.maxWindowMs, Math.max(this.#s.minWindowMs, this.#window))
    this.#concurrency = Math.max(this.#least(), Math.min(this.#concurrency, this.#s.maxConcurrency))
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
  /** The store's learned capacity (null: it never queued our requests). */
  get capacity(): number | null {
    return this.#capacity
  }

  /** How long the oldest item of a batch should have waited before it is sent (0: at once). */
  waitFor(inFlight: number): number {
    if (this.#loaded) return this.#window
    return inFlight > 0 ? this.#s.minWindowMs : 0
  }

  /**
   * How much longer a loaded store's next batch waits for the requests in flight to come back (0:
   * it need not). Rounds: a loaded store gets its batch split over its workers at once, then the
   * next when they are done, so a SKU changed while its request was out waits one round, not two
   * lanes' worth; never past the bound for the oldest change (`age`).
   */
  holdsFor(inFlight: number, age: number): number {
    if (!this.#loaded || inFlight === 0) return 0
    return Math.max(0, HOLD_BOUND * this.#s.maxWindowMs - age)
  }

  /** Items claimed and not yet sent (for the snapshot). */
  backlog(n: number): void {
    this.#backlog = n
  }

  /** A request goes out; its ticket comes back with `done`. */
  sent(now: number): number {
    this.#sample(now)
    this.#addArea(now)
    const id = ++this.#ticket
    this.#flights.set(id, { at: now, others: new Set(this.#flights.keys()), firstOtherDone: null })
    return id
  }

  /** A request came back: `items` it carried, `waiting` whether items waited for a free request meanwhile. */
  done(ticket: number, now: number, o: { items: number; waiting: boolean }): void {
    const f = this.#flights.get(ticket)
    this.#addArea(now)
    this.#flights.delete(ticket)
    for (const g of this.#flights.values()) if (g.firstOtherDone === null && g.others.has(ticket)) g.firstOtherDone = now
    this.#sample(now)
    if (!f) return
    const ms = Math.max(0, now - f.at)
    this.#latency = this.#latency === null ? ms : this.#latency * 0.7 + ms * 0.3
    this.#judge(f, now, ms, Math.max(1, o.items))
    this.#steer(now, ms, o.waiting)
  }

  /** Whether the answer waited at the store for one of ours sent before it; the size's own cost learned from uncontended answers. */
  #judge(f: Flight, now: number, ms: number, items: number): void {
    const b = bucketOf(items)
    const floor = this.#floor[b]
    const usual = this.#usual[b]
    let verdict: 'alone' | 'parallel' | 'queued' | null = null
    if (f.others.size === 0) verdict = 'alone'
    // It finished before every request in flight when it went, or sooner after the first of them
    // than the fastest it ever took: it was served beside them, not after one.
    else if (f.firstOtherDone === null || (floor !== undefined && now - f.firstOtherDone < PARALLEL * floor)) verdict = 'parallel'
    else if (usual !== undefined && f.firstOtherDone - f.at >= WAIT_WORTH * usual && ms >= usual + WAITED * (f.firstOtherDone - f.at)) verdict = 'queued'
    if (floor === undefined || ms < floor) this.#floor[b] = ms
    if (verdict === 'alone' || verdict === 'parallel') {
      if (floor !== undefined && ms > floor) this.#floor[b] = floor + (ms - floor) * 0.05
      this.#usual[b] = usual === undefined ? ms : usual * 0.8 + ms * 0.2
    }
    if (verdict !== 'parallel' && verdict !== 'queued') return
    const level = Math.min(LEVELS, f.others.size)
    const v = (this.#votes[level] ??= { share: 0.5, n: 0 })
    v.share = v.share * (1 - VOTE_WEIGHT) + (verdict === 'queued' ? VOTE_WEIGHT : 0)
    v.n++
    if (v.n < VERDICT_VOTES) return
    if (v.share >= QUEUES_AT) {
      // Beside `level` of ours it waited: the store serves at most that many at once.
      this.#capacity = this.#capacity === null ? level : Math.min(this.#capacity, level)
      this.#probeAt = now
      const next = Math.max(this.#least(), Math.min(this.#concurrency, this.#capacity))
      if (next !== this.#concurrency) this.#changedAt = now
      this.#concurrency = next
      this.#votes[level] = { share: 0.5, n: 0 }
    } else if (v.n >= 2 * VERDICT_VOTES && v.share <= NO_QUEUE_AT && this.#capacity !== null && level >= this.#capacity) {
      // Beside as many as its capacity it no longer queues: it has more workers now.
      this.#capacity = null
      this.#votes[level] = { share: 0.5, n: 0 }
    }
  }

  #steer(now: number, ms: number, waiting: boolean): void {
    const { minWindowMs, maxWindowMs, maxConcurrency } = this.#s
    const cap = this.#capacity
    // One step at a time: answers to requests sent before the last change say nothing of the new level.
    if (now - ms >= this.#changedAt) {
      if (waiting && this.#concurrency < maxConcurrency && (cap === null ? this.#servedBeside(this.#concurrency - 1) : this.#concurrency < cap || now - this.#probeAt >= PROBE_EVERY_MS)) {
        this.#concurrency++
        this.#changedAt = now
        if (cap !== null && this.#concurrency > cap) this.#probeAt = now
      } else if (cap !== null && this.#concurrency > Math.max(this.#least(), cap) && now - this.#probeAt >= PROBE_FOR_MS) {
        this.#concurrency = Math.max(this.#least(), cap)
        this.#changedAt = now
      }
    }

    if (cap === null) this.#unload()
    else if (!this.#loaded && (this.#busy >= ENTER_BUSY || waiting)) this.#loaded = true
    else if (this.#loaded && this.#busy <= LEAVE_BUSY && !waiting) this.#unload()
    if (!this.#loaded) return
    // Fuller requests while our requests keep the store more than half busy, smaller ones when it idles.
    const ceiling = Math.max(minWindowMs, maxWindowMs - (this.#latency ?? 0))
    let next = this.#window
    if (now - this.#windowAt >= SAMPLE_MS) {
      if (this.#busy > GROW_ABOVE) next = Math.max(next * 1.25, next + 10)
      else if (this.#busy < SHRINK_BELOW) next *= 0.8
      if (next !== this.#window) this.#windowAt = now
    }
    this.#window = Math.min(ceiling, Math.max(minWindowMs, next))
  }

  /**
   * Whether answers sent beside `level` of ours show no sign of queueing so far (no majority of
   * queued votes): one more request in flight is worth trying.
   */
  #servedBeside(level: number): boolean {
    const v = this.#votes[Math.min(LEVELS, level)]
    return level <= 0 || v === undefined || v.share < QUEUES_AT
  }

  /** Not loaded: back to the linger at once (halving towards it would leave a fraction of a window for as many answers as it takes). */
  #unload(): void {
    this.#loaded = false
    this.#window = this.#s.minWindowMs
  }

  #addArea(now: number): void {
    this.#flightArea += this.#flights.size * Math.max(0, now - this.#areaAt)
    this.#areaAt = Math.max(this.#areaAt, now)
  }

  /** Fold the requests in flight since the last sample into the smoothed occupancy. */
  #sample(now: number): void {
    const span = now - this.#sampleAt
    if (span < SAMPLE_MS) return
    this.#addArea(now)
    const share = Math.min(1, Math.max(0, this.#flightArea / span / (this.#capacity ?? this.#concurrency)))
    // Smoothed over about a second: a span that long (an idle store) replaces the share outright.
    const weight = Math.min(1, span / 1000)
    this.#busy = this.#busy * (1 - weight) + share * weight
    this.#flightArea = 0
    this.#sampleAt = now
    if (this.#loaded && this.#busy <= LEAVE_BUSY && this.#flights.size === 0) this.#unload()
  }

  snapshot(now: number): PacingSnapshot {
    this.#sample(now)
    return {
      window_ms: Math.round(this.#loaded ? this.#window : this.waitFor(this.#flights.size)),
      loaded: this.#loaded,
      concurrency: this.#concurrency,
      max_concurrency: this.#s.maxConcurrency,
      in_flight: this.#flights.size,
      backlog: this.#backlog,
      latency_ms: this.#latency === null ? null : Math.round(this.#latency),
      store_capacity: this.#capacity,
      busy: Math.round(this.#busy * 100) / 100,
    }
  }
}
