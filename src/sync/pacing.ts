/**
 * @module sync/pacing: how hard to push one slow target (a store): the batch window and the
 * parallel requests, adapted to what the target's answers show.
 *
 * A store costs a fixed overhead per request plus a cost per item (a real WooCommerce 10 store
 * measured ~60 ms + 35 ms an item on 2 cores), and serves only so many requests at once (its PHP
 * workers). Small requests sent as fast as changes come keep those workers busy with overhead;
 * fewer, fuller requests cost it less per change. But a store that serves everything side by side
 * gains nothing from waiting, and its changes should go at once. So the pacer first learns the
 * store's **capacity** (how many of our requests it serves at once), and trades latency for fuller
 * batches only against a store whose capacity it has seen, in proportion to how much of it we use:
 *
 * - **Capacity from the wait a request would have had.** When a request goes out beside n others,
 *   we know when each of those should end (its send time plus what a request of its size takes
 *   alone). A store serving only n of ours at once makes the new one wait for the first of them to
 *   end; a store serving n + 1 does not. An answer later than alone by most of that predicted wait
 *   votes "capacity n"; one without it votes "more than n". Only a probe's answers (below) vote:
 *   requests sent together are where the predicted waits are surest (ordinary traffic, judged the
 *   same way, taught wrong capacities on a busy host). A capacity is learned where the
 *   "capacity n" votes outnumber the others at one n. Answers of a store that takes under
 *   50 ms, or whose predicted wait is under 25 ms, say nothing (a fast store needs no pacing, and
 *   a busy host's noise is of that size).
 * - **Probes.** Changes that come evenly may never put more of ours in flight than the store
 *   serves, so its limit would never show. Every few seconds a slow store kept busy by small
 *   requests gets a probe: the next requests are filled up to one more than the capacity (to the
 *   configured limit while it is unknown), one item each if need be; to learn, our requests first
 *   drain (up to 100 ms), so each answer's wait is the others' own time. A bulk push (full
 *   batches) is not probed: it already sends as few requests as there can be. A probe's answers
 *   teach or confirm the capacity; one nothing confirmed for 20 s is forgotten (and learned
 *   again), so a store that was slow once (a bulk push, a host under load) does not stay paced.
 *   Learning probes that find no limit back off (2 s doubling to 30 s), back to 2 s when a new
 *   busy spell begins. A known capacity is only confirmed by probes, never moved by them.
 * - **Use** is the smoothed number of our requests in flight over the capacity. A store of known
 *   capacity is *loaded* from 60 % use and stays so until 25 %. While loaded, a batch waits until its
 *   oldest item waited the **window**, which steers the use towards one half: 2 × response time /
 *   capacity, within [minWindowMs, maxWindowMs]. A store of unknown capacity is never loaded: the
 *   window is the linger (minWindowMs, only while requests are in flight; an idle store gets a
 *   change at once).
 * - **Parallel requests**: the capacity when known; otherwise they start at 2 and grow by one while
 *   ours are all busy most of the time or items wait, up to the store's configured limit.
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
  /** Requests of ours the store was seen to serve at once (null: not seen to queue any). */
  readonly capacity: number | null
  readonly in_flight: number
  readonly backlog: number
  /** Smoothed response time of the target's requests (ms); null before the first. */
  readonly latency_ms: number | null
  /** Smoothed requests in flight over the capacity (over the allowed requests while it is unknown), 0…1. */
  readonly busy: number
}

/** A ticket per request: what it was sent beside, to judge its answer. */
export type PacingTicket = number

interface Sent {
  readonly at: number
  /** What a request of its size takes alone (ms), if known. */
  readonly expected: number | null
  /** Our other requests in flight when it went out. */
  readonly others: number
  /** How long it would wait if the store served only `others` of ours at once (ms), if known. */
  readonly wait: number | null
  /** Sent by a probe: only then may a late answer vote "queued" (a busy host makes stray late answers). */
  readonly probe: boolean
}

const ENTER_USE = 0.6
const LEAVE_USE = 0.25
/** An answer later than alone by this share of its predicted wait queued; by at most LATE_NO, it did not. */
const LATE_YES = 0.6
const LATE_NO = 0.3
/** Predicted waits shorter than this say nothing; nor do stores faster than SLOW_MS. */
const MIN_WAIT_MS = 25
const SLOW_MS = 50
const VOTES = 2
/** A queued answer is also later than alone by this share of its own time (the estimate's error grows with it). */
const LATE_OWN = 0.2
/** The fit is used once the sizes answered alone vary this much (items², weighted): one and two items suffice. */
const FIT_SPREAD = 0.05
/** Weight of earlier answers in the fit, per answer sent alone. */
const FIT_DECAY = 0.97
const VOTE_TTL_MS = 10_000
const CAPACITY_TTL_MS = 20_000
/** Probes of a slow store: while its capacity is unknown, and to confirm a known one. */
const PROBE_UNKNOWN_MS = 2_000
const PROBE_UNKNOWN_MAX_MS = 30_000
/** A learning probe waits this long at most for our requests to drain. */
const PROBE_DRAIN_MS = 100
const PROBE_KNOWN_MS = 5_000
/** Probes only while our requests fill this share of the room (capacity, or allowed requests). */
const PROBE_USE = 0.25
/** A probe gathers items for at most this long, then goes with what it has. */
const PROBE_GATHER_MS = 300
/** Use sampled over at least this long, smoothed over about a second. */
const SAMPLE_MS = 250
/** Share of time all allowed requests were busy above which one more is allowed (capacity unknown). */
const FULL_SHARE = 0.5

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
  readonly #base: Array<{ ms: number; at: number } | undefined> = []
  /** The same answers as a fit ms ≈ a + b × items, exponentially weighted (sums of w, x, x², y, xy). */
  readonly #fit = { w: 0, x: 0, xx: 0, y: 0, xy: 0 }
  #capacity: { n: number; confirmed: number } | null = null
  /** Recent verdicts: `n` others beside, queued or served beside. */
  #votes: Array<{ n: number; queued: boolean; at: number }> = []
  /** When the last probe ended (or the pacer began); the probe under way, if any. */
  #probedAt: number
  #probe: { width: number; since: number; drain: boolean; sending: boolean } | null = null
  /** Interval of probes while the capacity is unknown (grows while they find none). */
  #unknownEvery = PROBE_UNKNOWN_MS
  /** Whether our requests kept the store busy when last looked (a new busy spell resets the back-off). */
  #wasBusy = false
  readonly #tickets = new Map<number, Sent>()
  #nextTicket = 1
  #changedAt = -Infinity
  // Time-weighted requests in flight, and time all allowed were busy, since the last sample.
  #use = 0
  #full = 0
  #inFlightMs = 0
  #fullMs = 0
  #lastChange: number
  #sampleAt: number
  #backlog = 0
  /** Smoothed items per request sent. */
  #items = 0

  constructor(settings: PacingSettings, now: number) {
    this.#s = Pacer.#bounded(settings)
    this.#window = this.#s.minWindowMs
    // Two to start with: one request is answered while the next gathers (the store still decides).
    this.#concurrency = Math.min(2, this.#s.maxConcurrency)
    this.#sampleAt = now
    this.#lastChange = now
    // The first probe a second after the first requests, not a whole interval.
    this.#probedAt = now - PROBE_UNKNOWN_MS + 1000
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
    if (this.#capacity !== null && this.#capacity.n >= this.#s.maxConcurrency) this.#forget()
  }

  get settings(): PacingSettings {
    return this.#s
  }
  /** Requests allowed in flight now: the capacity when known, else the adapted figure; a probe's width while one is under way. */
  get concurrency(): number {
    if (this.#probe) return this.#probe.width
    return Math.max(1, Math.min(this.#s.maxConcurrency, this.#capacity?.n ?? this.#concurrency))
  }
  get windowMs(): number {
    return this.#window
  }
  get loaded(): boolean {
    return this.#loaded
  }
  /** The store's learned capacity (requests of ours at once), null while unknown. */
  get capacity(): number | null {
    return this.#capacity?.n ?? null
  }

  /** How long the oldest item of a batch should have waited before it is sent (0: at once). */
  waitFor(inFlight: number): number {
    if (this.#loaded) return this.#window
    return inFlight > 0 ? this.#s.minWindowMs : 0
  }

  /**
   * A probe, when one is due, for a target with `inFlight` requests of ours and `queued` items
   * waiting: the requests allowed now (`width`), whether to send the next one now (else hold until
   * `until`, or until an answer or a claim changes things) and with how many items. While the
   * capacity is unknown a probe waits for our requests to drain, then sends `width` at once: each
   * one's wait is then known (the others' own time), the clearest answer there is. A confirming
   * probe fills up beside what is in flight. Null: no probe now.
   */
  probe(now: number, inFlight: number, queued: number, fullBatch = Infinity): { width: number; send: boolean; until: number; size: number } | null {
    if (this.#probe === null) {
      // A bulk push sends full batches: as few requests as there can be, which a probe would only add to.
      if (this.#items >= fullBatch / 2 || queued > fullBatch) return null
      this.#advance(now)
      // A new busy spell (the load changed) gets a prompt learning probe, whatever the back-off
      // earlier spells earned (a store that served one load side by side may queue the next).
      const busy = this.#use >= PROBE_USE
      if (busy && !this.#wasBusy && this.#capacity === null) {
        this.#unknownEvery = PROBE_UNKNOWN_MS
        this.#probedAt = Math.min(this.#probedAt, now - PROBE_UNKNOWN_MS + 1000)
      }
      this.#wasBusy = busy
      const slow = this.#latency !== null && this.#latency >= SLOW_MS
      const every = this.#capacity === null ? this.#unknownEvery : PROBE_KNOWN_MS
      const width = Math.min(this.#s.maxConcurrency, this.#capacity === null ? this.#s.maxConcurrency : this.#capacity.n + 1)
      // Only a store our requests keep busy: an idle one has nothing to learn from, and a change waits for nothing.
      if (!slow || this.#use < PROBE_USE || width <= Math.max(1, inFlight) || now - this.#probedAt < every) return null
      this.#probe = { width, since: now, drain: this.#capacity === null, sending: false }
    }
    const p = this.#probe
    if (inFlight >= p.width || now - p.since > 4 * PROBE_GATHER_MS) {
      this.#endProbe(now)
      return null
    }
    const free = p.width - inFlight
    const until = p.since + PROBE_GATHER_MS
    const ready = p.sending || (queued >= free && (!p.drain || inFlight === 0 || now >= p.since + PROBE_DRAIN_MS))
    return { width: p.width, send: ready || now >= until, until, size: Math.max(1, Math.ceil(queued / free)) }
  }

  #endProbe(now: number): void {
    // A store probed while its capacity is unknown and found none is probed less and less often (a
    // store that serves everything side by side pays for each probe's gathering): back to the
    // first interval when a capacity is learned or forgotten.
    if (this.#probe?.drain) this.#unknownEvery = Math.min(PROBE_UNKNOWN_MAX_MS, this.#unknownEvery * 2)
    this.#probe = null
    this.#probedAt = now
  }

  /** Items claimed and not yet sent (for the snapshot). */
  backlog(n: number): void {
    this.#backlog = n
  }

  /** A request of `items` goes out; its ticket comes back with its answer. */
  sent(now: number, items = 1): PacingTicket {
    this.#advance(now)
    this.#items = this.#items * 0.8 + items * 0.2
    const expected = this.#expected(items)
    // The predicted wait: until the first of the others should end.
    let wait: number | null = null
    for (const t of this.#tickets.values()) {
      if (t.expected === null) {
        wait = null
        break
      }
      const left = Math.max(0, t.at + t.expected - now)
      wait = wait === null ? left : Math.min(wait, left)
    }
    const others = this.#tickets.size
    const ticket = this.#nextTicket++
    this.#tickets.set(ticket, { at: now, expected, others, wait, probe: this.#probe !== null })
    if (this.#probe) this.#probe.sending = true
    if (this.#probe && others + 1 >= this.#probe.width) this.#endProbe(now)
    return ticket
  }

  /**
   * A request came back: its ticket, `items` sent, `ms` its response time, `waiting` whether items
   * waited for a free request meanwhile.
   */
  done(now: number, o: { ticket: PacingTicket; items: number; ms: number; waiting: boolean }): void {
    const t = this.#tickets.get(o.ticket)
    this.#advance(now)
    if (!t) return
    this.#tickets.delete(o.ticket)
    this.#latency = this.#latency === null ? o.ms : this.#latency * 0.7 + o.ms * 0.3
    if (t.others === 0) this.#learnBase(now, o.items, o.ms)
    else if (t.probe && t.expected !== null && t.expected >= SLOW_MS && t.wait !== null && t.wait >= MIN_WAIT_MS) {
      const late = o.ms - t.expected
      const queued = late >= LATE_YES * t.wait && late >= LATE_OWN * t.expected
      // A known capacity is only confirmed: a probe sent beside requests already out judges their
      // remaining time by the cost fit, too roughly to move the capacity (it is forgotten instead
      // when 20 s bring no confirmation, and learned again with our requests drained).
      if (this.#capacity !== null) {
        if (queued && t.others === this.#capacity.n) this.#capacity.confirmed = now
      } else if (queued) this.#vote(now, t.others, true)
      else if (late <= LATE_NO * t.wait) this.#vote(now, t.others, false)
    }
    if (this.#capacity !== null && now - this.#capacity.confirmed > CAPACITY_TTL_MS) this.#forget()

    // Unknown capacity: one more request while ours are all busy most of the time, or items wait.
    if (this.#capacity === null && now - o.ms >= this.#changedAt && this.#concurrency < this.#s.maxConcurrency && (o.waiting || this.#full >= FULL_SHARE)) {
      this.#concurrency++
      this.#changedAt = now
    }
    this.#steer(o.waiting)
  }

  #learnBase(now: number, items: number, ms: number): void {
    const f = this.#fit
    for (const k of ['w', 'x', 'xx', 'y', 'xy'] as const) f[k] *= FIT_DECAY
    f.w += 1
    f.x += items
    f.xx += items * items
    f.y += ms
    f.xy += items * ms
    const b = bucketOf(Math.max(1, items))
    const base = this.#base[b]
    // The floor creeps up, fast when no answer came near it for a while: a store that got slower
    // for good is not compared with its best day.
    if (base === undefined || ms < base.ms) this.#base[b] = { ms, at: now }
    else this.#base[b] = { ms: base.ms + (ms - base.ms) * (now - base.at > 3000 ? 0.5 : 0.05), at: ms <= base.ms * 1.2 ? now : base.at }
  }

  #vote(now: number, n: number, queued: boolean): void {
    this.#votes = this.#votes.filter((v) => now - v.at <= VOTE_TTL_MS)
    this.#votes.push({ n, queued, at: now })
    const at = (k: number, q: boolean) => this.#votes.filter((v) => v.n === k && v.queued === q).length
    const cap = this.#capacity
    if (queued) {
      // It serves at most n of ours (we had n beside this one).
      if (cap !== null && n >= cap.n) {
        if (n === cap.n) cap.confirmed = now
        return
      }
      // The smallest n with more "queued" than "served beside" answers, and two "queued" at or above it:
      // a busy host's noise makes a stray late answer, not a majority at one n.
      const candidates = [...new Set(this.#votes.filter((v) => v.queued && v.n <= n).map((v) => v.n))].sort((a, b) => a - b)
      for (const c of candidates) {
        if (at(c, true) <= at(c, false)) continue
        if (this.#votes.filter((v) => v.queued && v.n >= c).length < VOTES) continue
        this.#capacity = { n: c, confirmed: now }
        this.#unknownEvery = PROBE_UNKNOWN_MS
        this.#concurrency = Math.min(this.#s.maxConcurrency, c)
        this.#votes = this.#votes.filter((v) => v.queued || v.n < c)
        return
      }
    }
  }

  #forget(): void {
    this.#unknownEvery = PROBE_UNKNOWN_MS
    if (this.#capacity !== null) this.#concurrency = Math.min(this.#s.maxConcurrency, Math.max(2, this.#capacity.n))
    this.#capacity = null
    this.#votes = []
    this.#loaded = false
    this.#window = this.#s.minWindowMs
  }

  /** Loaded or not, and the window: towards half the capacity in use. */
  #steer(waiting: boolean): void {
    const { minWindowMs, maxWindowMs } = this.#s
    const cap = this.#capacity
    if (cap === null) {
      this.#loaded = false
      this.#window = minWindowMs
      return
    }
    if (!this.#loaded && (this.#use >= ENTER_USE || waiting)) this.#loaded = true
    else if (this.#loaded && this.#use <= LEAVE_USE && !waiting) this.#loaded = false
    // Loaded: wait long enough to keep half the store free, and at least as long as waiting plus
    // answering stays within the bound (the latency a loaded store gives up for fuller batches).
    const latency = this.#latency ?? 0
    const target = this.#loaded ? Math.max((2 * latency) / cap.n, maxWindowMs - latency) : minWindowMs
    // Halve the distance to the target, and land on it once within a millisecond.
    const next = this.#window + (target - this.#window) * 0.5
    this.#window = Math.min(maxWindowMs, Math.max(minWindowMs, Math.abs(target - next) < 1 ? target : next))
  }

  /** What a request of `items` takes alone (ms), or null while nothing tells. */
  #expected(items: number): number | null {
    // A request's cost is a fixed part plus a part per item: fitted once sizes vary enough, it judges
    // a large request better than its size class's floor (a class spans ±15 % of its items).
    const f = this.#fit
    const spread = f.w * f.xx - f.x * f.x
    if (f.w >= 3 && spread > 0 && spread / (f.w * f.w) >= FIT_SPREAD) {
      const slope = (f.w * f.xy - f.x * f.y) / spread
      const fixed = (f.y - slope * f.x) / f.w
      if (slope >= 0 && fixed >= 0) return fixed + slope * items
    }
    // Until then only a size class seen alone is known: scaling another's would misjudge the
    // others' remaining time, and with it the wait a probe's answer is judged by.
    return this.#base[bucketOf(Math.max(1, items))]?.ms ?? null
  }

  /** Account the time since the last change of requests in flight; fold it into the smoothed use. */
  #advance(now: number): void {
    const dt = Math.max(0, now - this.#lastChange)
    const inFlight = this.#tickets.size
    this.#inFlightMs += inFlight * dt
    if (inFlight > 0 && inFlight >= this.concurrency) this.#fullMs += dt
    this.#lastChange = Math.max(this.#lastChange, now)
    const span = now - this.#sampleAt
    if (span < SAMPLE_MS) return
    const room = this.#capacity?.n ?? this.#concurrency
    const use = Math.min(1, this.#inFlightMs / span / room)
    const full = Math.min(1, this.#fullMs / span)
    // Smoothed over about a second: a span that long (an idle store) replaces the figure outright.
    const weight = Math.min(1, span / 1000)
    this.#use = this.#use * (1 - weight) + use * weight
    this.#full = this.#full * (1 - weight) + full * weight
    this.#inFlightMs = 0
    this.#fullMs = 0
    this.#sampleAt = now
    if (this.#loaded && this.#use <= LEAVE_USE && inFlight === 0) {
      this.#loaded = false
      this.#window = this.#s.minWindowMs
    }
    if (this.#capacity !== null && now - this.#capacity.confirmed > CAPACITY_TTL_MS && inFlight === 0) this.#forget()
  }

  snapshot(now: number): PacingSnapshot {
    this.#advance(now)
    return {
      window_ms: Math.round(this.#loaded ? this.#window : this.waitFor(this.#tickets.size)),
      loaded: this.#loaded,
      concurrency: this.concurrency,
      max_concurrency: this.#s.maxConcurrency,
      capacity: this.capacity,
      in_flight: this.#tickets.size,
      backlog: this.#backlog,
      latency_ms: this.#latency === null ? null : Math.round(this.#latency),
      busy: Math.round(this.#use * 100) / 100,
    }
  }
}
