/**
 * @module sync/pacing: how hard to push one slow target (a store): the batch window and the
 * parallel requests, adapted to what the target's answers show.
 *
 * A store costs a fixed overhead per request plus a cost per item (a real WooCommerce 10 store
 * measured ~60 ms + 35 ms an item on 2 cores). Small requests sent as fast as changes come keep
 * its workers busy with overhead and make it queue; fewer, fuller requests cost it less per change.
 * The pacer trades latency it can afford for fuller batches, only while the target is the slow side:
 *
 * - **Its own cost**: for each request size (items) the fastest answer seen, which is what the
 *   store takes for that size when it does not queue (the floor rises slowly, so a store that got
 *   slower for good is not compared with its best day forever, and fast once no answer came
 *   near it for 3 s); sizes not seen yet are judged from the nearest seen ones (an overestimate:
 *   it errs towards "no queueing").
 * - **It queues** when an answer took ≥ 1.4× its own cost for that size (and at least 30 ms more),
 *   and 1.3× the mean of what the answers sent beside fewer of ours that came back meanwhile
 *   took (none: it cannot tell): a store that serves only so many at once answers the requests beside more of
 *   ours later, while a loaded machine (the hub's own, or the network) slows every answer of the
 *   moment alike and must not read as the store queueing.
 * - **Its parallel capacity** is known only once it queued: an answer that queued beside k of
 *   ours says it serves at most k at once (and steps the concurrency down by one). A store
 *   that never queued (it serves as many requests at once as we send) has no known capacity and
 *   is never loaded, however busy our requests keep it: it is not the slow side.
 * - **Loaded** when its known capacity is at least half used by our requests (over about 3 s; the
 *   work is each answer's own cost, not the time it queued). Not loaded again once that use falls
 *   to ≤ 20 % (hysteresis: the fuller batches of a loaded store use it less, and that must not flip
 *   it back to small ones). A capacity not confirmed by a queued answer for a minute is forgotten.
 *   Answers slow for other reasons (other clients, a loaded machine) do not load it: they cannot
 *   be told apart from the hub's own host being busy, where fuller batches would only add latency.
 * - **Window**: while loaded, a batch waits until its oldest item has waited `window`, which moves
 *   towards `maxWindowMs − the store's response time` (so waiting plus answering stays within the
 *   bound); while not loaded it falls back to `minWindowMs` (the configured linger), which applies
 *   only while other requests are in flight (an idle store gets a change at once). Always within
 *   [minWindowMs, maxWindowMs].
 * - **Concurrency** starts at 2 (at most the store's) and grows by one while items wait for a free
 *   request, or our requests in flight average ≥ 75 % of those allowed (one more shows whether the
 *   store serves more at once), and the store does not queue; it shrinks by one when a request
 *   sent beside others queued (they only queue at the store). "Does not queue" is judged against
 *   those answers too, so a loaded machine does not pin it at one.
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
  /** Share of time at least one request was in flight, smoothed (0…1). */
  readonly busy: number
  /** Share of the store's known parallel capacity our requests use, smoothed (0…1); null while it never queued. */
  readonly store_load: number | null
}

/** Loaded from this share of the store's known capacity used; no longer at or below the second. */
const ENTER_LOAD = 0.5
const LEAVE_LOAD = 0.2
/** An answer that took this × the store's own cost for its size (and QUEUED_MS more) queued. */
const QUEUEING = 1.4
const QUEUED_MS = 30
/** ...and this × slower than answers sent beside fewer of ours that came back meanwhile. */
const SLOWER_THAN_FEWER = 1.3
/** Levels of requests beside others told apart. */
const MAX_LEVEL = 16
/** No queueing at or below this × its own cost. */
const NO_QUEUEING = 1.15
/** Our requests in flight on average at least this share of those allowed: try one more. */
const PROBE_FLYING = 0.75
/** A capacity not confirmed by a queued answer for this long is forgotten. */
const FORGET_CAPACITY_MS = 60_000
/** Shares sampled over at least this long. */
const SAMPLE_MS = 250
/** A floor no answer came near for this long rises fast. */
const STALE_FLOOR_MS = 3000
/** Request sizes with a floor of their own (a batch holds at most 100 items). */
const MAX_ITEMS = 100

export class Pacer {
  #s: PacingSettings
  #window: number
  #concurrency: number
  #loaded = false
  #latency: number | null = null
  /** The store's own cost by request size (index: items): the fastest answer, rising slowly. */
  readonly #floor: Array<number | undefined> = []
  /** When each size's floor was last set or confirmed by an answer near it. */
  readonly #floorAt: Array<number | undefined> = []
  /** The last answer's time over its own cost by how many of ours were in flight beside it, and when it came. */
  readonly #byLevel: Array<{ ratio: number; at: number } | undefined> = []
  /** Requests at once the store serves without queueing; null until it queued. */
  #capacity: number | null = null
  /** When an answer last queued. */
  #capacityAt = -Infinity
  /** When the concurrency last changed. */
  #changedAt = -Infinity
  #busy = 0
  #busyMs = 0
  #load = 0
  /** The store's own cost of the answers since the last sample (ms). */
  #workMs = 0
  /** Our requests in flight on average (their response times over the time), smoothed; and since the last sample (ms). */
  #flying = 0
  #flightMs = 0
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
  /** Requests at once the store serves without queueing, once it queued (null: unknown, as many as we send). */
  get storeCapacity(): number | null {
    return this.#capacity
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
    const ms = Math.max(0, o.ms)
    this.#latency = this.#latency === null ? ms : this.#latency * 0.7 + ms * 0.3
    const n = Math.min(MAX_ITEMS, Math.max(1, Math.round(o.items)))
    // Its own cost for this size (a first answer of a size is judged from the sizes seen); the
    // floor: any faster answer lowers it, an answer near it confirms it; it rises slowly, faster
    // from answers given alone, and fast once no answer confirmed it for a while (the store costs
    // more now than when it was set).
    const f = this.#floor[n]
    const est = f ?? this.#ownCost(n)
    const own = est === null || ms < est ? ms : est
    if (f === undefined || ms <= f * NO_QUEUEING) this.#floorAt[n] = now
    const rise = now - (this.#floorAt[n] ?? now) > STALE_FLOOR_MS ? 0.3 : o.alongside === 0 ? 0.05 : 0.005
    this.#floor[n] = f === undefined || ms < f ? own : f + (ms - f) * rise
    // What the store spent on it (its queueing is not work); the use of its capacity is sampled below.
    this.#workMs += Math.min(ms, own)
    this.#flightMs += ms
    this.#sample(now)
    const ratio = own > 0 ? ms / own : null
    // Answers beside fewer of ours that came back while this one was out: how slow the machine and
    // the network made any answer meanwhile.
    const fewer = this.#fewer(now - ms, o.alongside)
    let queued = false
    let unqueued = false
    if (ratio !== null) {
      this.#byLevel[Math.min(o.alongside, MAX_LEVEL)] = { ratio, at: now }
      queued = ratio >= QUEUEING && ms - own! >= QUEUED_MS && fewer !== null && ratio >= SLOWER_THAN_FEWER * fewer
      unqueued = ratio <= NO_QUEUEING * Math.max(1, fewer ?? 1)
    }

    // One step at a time: answers to requests sent before the last change say nothing of the new level.
    if (now - ms >= this.#changedAt) {
      const before = this.#concurrency
      if (queued) this.#concurrency = Math.max(1, this.#concurrency - 1)
      // Items waited for a free request, or our requests nearly fill the parallel ones allowed
      // (one more shows whether the store serves more at once): one more while it does not queue
      // (an answer sent alone queued behind none of ours).
      else if ((o.waiting || this.#flying >= PROBE_FLYING * this.#concurrency) && (o.alongside === 0 || unqueued)) this.#concurrency = Math.min(this.#s.maxConcurrency, this.#concurrency + 1)
      if (this.#concurrency !== before) this.#changedAt = now
    }
    // Queued beside `alongside` others (only such an answer can): it serves fewer at once.
    if (queued) {
      this.#capacity = Math.min(this.#capacity ?? Infinity, o.alongside)
      this.#capacityAt = now
    }
    // Not seen queueing for long: forget its capacity (it may serve more at once now); if it still
    // cannot, the next spell of small batches shows it again.
    if (this.#capacity !== null && now - this.#capacityAt > FORGET_CAPACITY_MS) this.#capacity = null

    if (!this.#loaded && this.#load >= ENTER_LOAD) this.#loaded = true
    else if (this.#loaded && this.#load <= LEAVE_LOAD) {
      // No longer loaded: back to the linger at once (a wide window costs latency and buys nothing now).
      this.#loaded = false
      this.#window = this.#s.minWindowMs
    }
    const { minWindowMs, maxWindowMs } = this.#s
    const target = this.#loaded ? maxWindowMs - this.#latency : minWindowMs
    // Halve the distance to the target, and land on it once within a millisecond (halving alone never
    // reaches it, so a recovered store would keep a fraction of a window).
    const next = this.#window + (target - this.#window) * 0.5
    this.#window = Math.min(maxWindowMs, Math.max(minWindowMs, Math.abs(target - next) < 1 ? target : next))
  }

  /**
   * The mean time-over-own-cost of the answers sent beside fewer than `alongside` of ours that
   * came back since `since` (null: none). A store that serves only so many at once answers the
   * requests beside more of ours later; a loaded machine (the hub's own, or the network) slows
   * every answer of the moment alike, which must not read as the store queueing. The mean, not
   * the lowest: the lowest of a few noisy answers reads ordinary noise as queueing.
   */
  #fewer(since: number, alongside: number): number | null {
    let sum = 0
    let n = 0
    for (let l = Math.min(alongside, MAX_LEVEL + 1) - 1; l >= 0; l--) {
      const r = this.#byLevel[l]
      if (r !== undefined && r.at >= since) {
        sum += r.ratio
        n++
      }
    }
    return n === 0 ? null : sum / n
  }

  /**
   * What a request of `n` items costs the store when it does not queue: its own floor, else a line
   * between the nearest sizes seen below and above, else the nearest below scaled up in proportion
   * to the items or the nearest above as it is (overestimates, as part of a request's cost is fixed:
   * they err towards "no queueing"); null before any answer.
   */
  #ownCost(n: number): number | null {
    const own = this.#floor[n]
    if (own !== undefined) return own
    let lo = n - 1
    while (lo >= 1 && this.#floor[lo] === undefined) lo--
    let hi = n + 1
    while (hi <= MAX_ITEMS && this.#floor[hi] === undefined) hi++
    const below = lo >= 1 ? this.#floor[lo]! : undefined
    const above = hi <= MAX_ITEMS ? this.#floor[hi]! : undefined
    if (below !== undefined && above !== undefined) return Math.max(below, below + ((above - below) * (n - lo)) / (hi - lo))
    if (below !== undefined) return below * (n / lo)
    return above ?? null
  }

  /** Fold the time since the last sample into the smoothed busy share and the use of the store's capacity. */
  #sample(now: number): void {
    const span = now - this.#sampleAt
    if (span < SAMPLE_MS) return
    let busyMs = this.#busyMs
    if (this.#inFlight > 0) {
      busyMs += now - this.#busySince
      this.#busySince = now
    }
    const share = Math.min(1, Math.max(0, busyMs / span))
    const flying = this.#flightMs / span
    const load = this.#capacity === null ? 0 : Math.min(1, Math.max(0, this.#workMs / (span * this.#capacity)))
    // Smoothed over about a second: a span that long (an idle store) replaces the share outright.
    const weight = Math.min(1, span / 1000)
    this.#busy = this.#busy * (1 - weight) + share * weight
    // The store's use over about three seconds: a loaded store's fuller batches come seldom.
    const slow = Math.min(1, span / 3000)
    this.#load = this.#load * (1 - slow) + load * slow
    this.#flying = this.#flying * (1 - weight) + flying * weight
    this.#busyMs = 0
    this.#workMs = 0
    this.#flightMs = 0
    this.#sampleAt = now
    if (this.#loaded && this.#load <= LEAVE_LOAD && this.#inFlight === 0) {
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
      store_load: this.#capacity === null ? null : Math.round(this.#load * 100) / 100,
    }
  }
}
