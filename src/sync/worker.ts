/**
 * @module sync/worker: delivers due events to their targets.
 *
 * Claims due delivery slots under a lease, delivers them, records each outcome. Retries use
 * capped exponential backoff with full jitter; after the last attempt a delivery becomes a dead
 * letter. Wakes the moment a commit signals (in-process, or NOTIFY from another node), and polls
 * slowly as a safety net and for retries coming due.
 *
 * Deliveries are pipelined: the worker keeps claiming and dispatching while earlier requests are
 * in flight, each target fed through its own lanes (`Destination.limits()`: a store's parallel
 * batch requests of up to 100 items, a subscription's parallel POSTs of one event) under a global
 * bound, so a slow or hanging target never holds back another, and a fast stream of changes to
 * one store is carried by all of its lanes. A target with no free lane is left out of the next
 * claim (its slots wait in the table, where newer events keep coalescing into them). A slot is
 * held by one delivery at a time: claimed rows stay leased until their outcome is recorded, and
 * the lease is renewed while a request outlives it.
 */
import { backoffMs, DEFAULT_BACKOFF, type BackoffPolicy } from '../domain/backoff.js'
import type { OutboxEvent } from '../domain/events.js'
import type { ServiceDeps } from '../service/deps.js'
import {
  claimDeliveries,
  completeDelivery,
  deadLetterDelivery,
  recordAttempts,
  releaseDelivery,
  renewLeases,
  retryDelivery,
  type AttemptRecord,
  type DeliverySlot,
} from '../store/delivery-repo.js'
import { findEventsBySeq } from '../store/outbox-repo.js'
import { classifyError, type DeliveryOutcome } from './classify.js'
import { DEFAULT_LIMITS, type DeliveryLimits, type Destination, type DestinationResolver } from './destination.js'
import { waitForWork } from './idle.js'
import { deadLettersTotal, deliveriesTotal, storePushLatency, targetKindOf } from '../observability/metrics.js'
import { Pacer } from './pacing.js'

export interface WorkerOptions {
  readonly workerId: string
  /** Slots claimed at most at once. */
  readonly batchSize?: number
  readonly leaseMs?: number
  /** Attempts before a delivery becomes a dead letter. */
  readonly maxAttempts?: number
  readonly pollMs?: number
  readonly backoff?: BackoffPolicy
  readonly random?: () => number
  /** Deliveries (`deliver` calls) in flight at once over all targets. */
  readonly concurrency?: number
  /** Slots claimed and not yet recorded at most (in flight or waiting for a lane of their target). */
  readonly maxHeld?: number
}

export interface TargetStats {
  ok: number
  retried: number
  dead: number
}

/** What became of one claimed slot: a destination's outcome, its target/event gone, or handed back unsent. */
type Outcome = DeliveryOutcome | 'gone' | 'unsent'
interface Result {
  readonly slot: DeliverySlot
  readonly event: OutboxEvent | undefined
  readonly outcome: Outcome
  readonly ms: number
}
interface Item {
  readonly slot: DeliverySlot
  readonly event: OutboxEvent
  /** When it was queued on its lane (performance.now()): the window counts from the oldest. */
  readonly at: number
}
/** One target's lanes on this worker. */
interface Lane {
  readonly targetId: string
  dest: Destination
  limits: DeliveryLimits
  running: number
  /** Claimed, waiting for a free lane (in claim order: oldest due first). */
  readonly queue: Item[]
  /** Set while a small batch waits for more events (limits.lingerMs), with when it started waiting. */
  linger: { readonly since: number; readonly timer: NodeJS.Timeout } | null
  /** The target's pacer when its limits ask for pacing (kept across idle spells in #pacers). */
  pacer: Pacer | null
  /** Items waited for a free request since the last delivery came back (the pacer's saturation signal). */
  starved: boolean
  /** Every request was busy when the worker last claimed (since the last dispatch). */
  full: boolean
}

const keyOf = (s: { targetId: string; sku: string }) => `${s.targetId}\u0000${s.sku}`
/** A slot's due time on the performance.now() scale (never in the future). */
const sinceOf = (s: DeliverySlot, now: number, clockNow: number) => (s.dueSince === undefined ? now : now - Math.max(0, clockNow - s.dueSince))
/** Items older than their window by this much waited for a free request, not for more items. */
const STARVED_SLACK_MS = 100
const NO_OUTCOME: DeliveryOutcome = { kind: 'retry', status: null, error: 'the destination gave no outcome', retryAfterMs: 0 }

export class DeliveryWorker {
  readonly #deps: ServiceDeps
  readonly #resolve: DestinationResolver
  readonly #o: Required<WorkerOptions>
  readonly #stats = new Map<string, TargetStats>()
  readonly #abort = new AbortController()
  /** Slots this worker claimed whose outcome is not recorded yet, by (target, SKU); `released` resolves when let go. */
  readonly #held = new Map<string, { slot: DeliverySlot; released: Promise<void>; release: () => void }>()
  readonly #lanes = new Map<string, Lane>()
  /** Paced targets' pacers, kept while their lanes come and go. */
  readonly #pacers = new Map<string, Pacer>()
  /** Each delivery's own abort controller: stop() aborts them; no signal is shared by every request. */
  readonly #aborts = new Set<AbortController>()
  /** Deliveries and recordings under way (stop() and runOnce() wait for them). */
  readonly #inflight = new Set<Promise<void>>()
  #running = 0
  #renewTimer: NodeJS.Timeout | null = null
  #renewing = false
  /** Outcomes waiting to be written: recordings that arrive while one is written share the next transaction. */
  #batch: { items: Result[]; done: Promise<void> } | null = null
  #writing: Promise<void> = Promise.resolve()
  #wake: (() => void) | null = null
  #woken = false
  #loop: Promise<void> | null = null
  #unsubscribe: (() => void) | null = null

  constructor(deps: ServiceDeps, resolve: DestinationResolver, o: WorkerOptions) {
    this.#deps = deps
    this.#resolve = resolve
    const batchSize = o.batchSize ?? 100
    this.#o = { batchSize, leaseMs: 30_000, maxAttempts: 10, pollMs: 1000, backoff: DEFAULT_BACKOFF, random: Math.random, concurrency: 64, maxHeld: Math.max(4 * batchSize, 1000), ...o }
  }

  /** Deliveries ok / retried / dead per target since start. */
  stats(): ReadonlyMap<string, Readonly<TargetStats>> {
    return this.#stats
  }

  #count(target: string, what: keyof TargetStats): void {
    const s = this.#stats.get(target) ?? { ok: 0, retried: 0, dead: 0 }
    s[what]++
    this.#stats.set(target, s)
  }

  /**
   * Claim one batch, deliver it (through each target's lanes) and record the outcomes. Returns how
   * many slots it claimed. For tests and tools: the running worker (start()) pipelines instead.
   */
  async runOnce(): Promise<number> {
    const n = await this.#claim(this.#o.batchSize)
    await this.#settle()
    return n
  }

  /** Wait until nothing is in flight (deliveries dispatched later by completions included). */
  async #settle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight])
  }

  /** Targets that get nothing from the next claim: every lane busy, or claimed slots still waiting. */
  #busyTargets(): string[] {
    const out: string[] = []
    // A lane lingering over a small batch still takes claims: that is what it waits for.
    for (const l of this.#lanes.values()) {
      const full = l.running >= this.#laneCap(l)
      // Changes of a target whose every request is busy wait in the table: for a paced target, a sign it is saturated.
      if (full) l.full = true
      if (full || (l.queue.length > 0 && l.linger === null) || l.queue.length >= l.limits.maxBatch) out.push(l.targetId)
    }
    return out
  }

  /** Claim up to `limit` due slots (none of the busy targets), queue them on their lanes, dispatch. */
  async #claim(limit: number): Promise<number> {
    const { store, clock } = this.#deps
    const slots = await claimDeliveries(store.db, store.caps, this.#o.workerId, clock.now(), this.#o.leaseMs, limit, this.#busyTargets())
    if (slots.length === 0) return 0
    const fresh: DeliverySlot[] = []
    for (const s of slots) {
      const prev = this.#held.get(keyOf(s))
      if (!prev) {
        fresh.push(s)
        continue
      }
      // A slot this worker still holds: its outcome was just committed (the row freed for a newer
      // event) and this claim read the row before the hold was let go, or its lease lapsed. Either
      // way it waits until that delivery is done: never two deliveries of a (target, SKU) at once.
      this.#track(
        prev.released
          .then(() => this.#accept([s]))
          .catch((e: unknown) => this.#deps.log.warn({ err: e }, 'taking up a claimed delivery failed; it comes back when its lease runs out')),
      )
    }
    await this.#accept(fresh)
    return slots.length
  }

  /** Hold claimed slots, find their events and targets, queue them on their lanes, dispatch. */
  async #accept(slots: ReadonlyArray<DeliverySlot>): Promise<void> {
    if (slots.length === 0) return
    for (const s of slots) this.#hold(s)
    let events: Map<number, OutboxEvent>
    try {
      events = await findEventsBySeq(this.#deps.store.db, [...new Set(slots.map((s) => s.eventSeq))])
    } catch (e) {
      // Unknown what to send: the slots stay leased and come back when the lease runs out.
      for (const s of slots) this.#unhold(s)
      throw e
    }
    const byTarget = new Map<string, DeliverySlot[]>()
    for (const s of slots) {
      const list = byTarget.get(s.targetId)
      if (list) list.push(s)
      else byTarget.set(s.targetId, [s])
    }
    const gone: Result[] = []
    // The window counts from when a change became due, not from when this worker claimed it.
    const now = performance.now()
    const clockNow = this.#deps.clock.now()
    await Promise.all(
      [...byTarget].map(async ([targetId, targetSlots]) => {
        let dest: Destination | undefined
        let limits = DEFAULT_LIMITS
        try {
          dest = await this.#resolve(targetId)
          if (dest?.limits) limits = await dest.limits()
        } catch (e) {
          // Not known now: the slots stay leased and come back when the lease runs out.
          this.#deps.log.warn({ err: e, target: targetId }, 'resolving a delivery target failed; its slots come back when their lease runs out')
          for (const slot of targetSlots) this.#unhold(slot)
          return
        }
        const lane = this.#laneOf(targetId, dest, limits)
        for (const slot of targetSlots) {
          const event = events.get(slot.eventSeq)
          // The target was removed or the event pruned: nothing left to deliver.
          if (!lane || !event) gone.push({ slot, event, outcome: 'gone', ms: 0 })
          else lane.queue.push({ slot, event, at: sinceOf(slot, now, clockNow) })
        }
      }),
    )
    if (gone.length) this.#track(this.#finish(gone))
    this.#pump()
  }

  #laneOf(targetId: string, dest: Destination | undefined, limits: DeliveryLimits): Lane | undefined {
    const lane = this.#lanes.get(targetId)
    if (!dest) return undefined
    const bounded = {
      concurrency: Math.max(1, Math.floor(limits.concurrency)),
      maxBatch: Math.max(1, Math.floor(limits.maxBatch)),
      minBatch: Math.max(1, Math.floor(limits.minBatch)),
      lingerMs: Math.max(0, limits.lingerMs ?? 0),
      ...(limits.pacing ? { pacing: limits.pacing } : {}),
    }
    let pacer: Pacer | null = null
    if (bounded.pacing) {
      const settings = { minWindowMs: bounded.lingerMs, maxWindowMs: bounded.pacing.maxWindowMs, maxConcurrency: bounded.concurrency }
      pacer = this.#pacers.get(targetId) ?? null
      if (pacer) pacer.configure(settings)
      else this.#pacers.set(targetId, (pacer = new Pacer(settings, performance.now())))
    } else this.#pacers.delete(targetId)
    if (lane) {
      lane.dest = dest
      lane.limits = bounded
      lane.pacer = pacer
      return lane
    }
    const made: Lane = { targetId, dest, limits: bounded, running: 0, queue: [], linger: null, pacer, starved: false, full: false }
    this.#lanes.set(targetId, made)
    return made
  }

  /** Start deliveries on free lanes (a target's backlog spread over them); when stopping, hand queued slots back. */
  #pump(): void {
    for (const [id, lane] of this.#lanes) {
      if (this.#abort.signal.aborted) {
        if (lane.linger) clearTimeout(lane.linger.timer)
        lane.linger = null
        if (lane.queue.length) this.#track(this.#finish(lane.queue.splice(0).map(({ slot, event }) => ({ slot, event, outcome: 'unsent' as const, ms: 0 }))))
      }
      let cap = this.#laneCap(lane)
      while (lane.queue.length > 0 && !this.#abort.signal.aborted) {
        // A probe of the target's capacity (sync/pacing.ts) fills its requests up to one more than it is thought to serve.
        const probe = lane.pacer?.probe(performance.now(), lane.running, lane.queue.length, lane.limits.maxBatch) ?? null
        cap = probe ? Math.min(lane.limits.concurrency, probe.width) : this.#laneCap(lane)
        if (lane.running >= cap || this.#running >= this.#o.concurrency) break
        const free = Math.min(cap - lane.running, this.#o.concurrency - this.#running)
        let size: number
        if (probe) {
          if (!probe.send) {
            this.#holdUntil(lane, probe.until)
            break
          }
          size = Math.min(lane.limits.maxBatch, probe.size)
        } else {
          if (this.#lingers(lane)) break
          // A loaded paced target gets everything that waited its window in one request.
          const spread = lane.pacer?.loaded ? 1 : free
          size = Math.min(lane.limits.maxBatch, Math.max(lane.limits.minBatch, Math.ceil(lane.queue.length / spread)))
        }
        if (lane.pacer && (lane.full || lane.running >= cap - 1) && performance.now() - lane.queue[0]!.at > lane.pacer.waitFor(lane.running) + STARVED_SLACK_MS) lane.starved = true
        lane.full = false
        this.#track(this.#deliver(lane, lane.queue.splice(0, size)))
      }
      // Items ready to go but every request of the target busy: the target is the bottleneck.
      if (lane.queue.length > 0 && lane.running >= cap && lane.pacer && performance.now() - lane.queue[0]!.at >= lane.pacer.waitFor(lane.running)) lane.starved = true
      if (lane.pacer) lane.pacer.backlog(lane.queue.length)
      if (lane.queue.length === 0 && lane.running === 0 && lane.linger === null) {
        this.#lanes.delete(id)
        if (lane.pacer) lane.dest.observe?.(lane.pacer.snapshot(performance.now()))
      }
    }
  }

  /** Requests of the target at once: its pacer's concurrency when paced, else its limit. */
  #laneCap(lane: Lane): number {
    return lane.pacer ? Math.min(lane.limits.concurrency, lane.pacer.concurrency) : lane.limits.concurrency
  }

  /**
   * Whether a small batch should wait for more events: only while other deliveries of the target
   * are in flight (an idle target sends at once), and at most lingerMs from when it began waiting.
   * A paced target waits until its oldest item has waited the pacer's window (a full batch goes at once).
   */
  #lingers(lane: Lane): boolean {
    if (lane.pacer) return this.#windows(lane, lane.pacer)
    const { minBatch } = lane.limits
    const lingerMs = lane.limits.lingerMs ?? 0
    const now = performance.now()
    if (lingerMs > 0 && lane.queue.length < minBatch && lane.running > 0 && (lane.linger === null || now - lane.linger.since < lingerMs)) {
      if (lane.linger === null) {
        const timer = setTimeout(() => {
          // Time is up: the next pump sends what waits.
          if (lane.linger?.timer === timer) lane.linger = { since: -Infinity, timer }
          this.#pump()
        }, lingerMs)
        lane.linger = { since: now, timer }
      }
      return true
    }
    if (lane.linger) clearTimeout(lane.linger.timer)
    lane.linger = null
    return false
  }

  #windows(lane: Lane, pacer: Pacer): boolean {
    const wait = pacer.waitFor(lane.running)
    const age = performance.now() - lane.queue[0]!.at
    // Not loaded: the plain linger rule (a batch of minBatch goes at once); loaded: only a full one.
    const enough = lane.queue.length >= (pacer.loaded ? lane.limits.maxBatch : lane.limits.minBatch)
    if (wait <= 0 || age >= wait || enough) {
      if (lane.linger) clearTimeout(lane.linger.timer)
      lane.linger = null
      return false
    }
    if (lane.linger === null) {
      const timer = setTimeout(() => {
        if (lane.linger?.timer === timer) lane.linger = null
        this.#pump()
      }, Math.ceil(wait - age))
      lane.linger = { since: performance.now(), timer }
    }
    return true
  }

  /** A probe gathering items (or waiting for our requests to drain): look again at `until` at the latest. */
  #holdUntil(lane: Lane, until: number): void {
    if (lane.linger !== null) return
    const timer = setTimeout(
      () => {
        if (lane.linger?.timer === timer) lane.linger = null
        this.#pump()
      },
      Math.max(1, Math.ceil(until - performance.now())),
    )
    lane.linger = { since: performance.now(), timer }
  }

  #track(p: Promise<void>): void {
    this.#inflight.add(p)
    void p.then(() => this.#inflight.delete(p))
  }

  /** One delivery on one lane; never rejects. A finished delivery frees its lane at once. */
  async #deliver(lane: Lane, items: Item[]): Promise<void> {
    lane.running++
    this.#running++
    const started = performance.now()
    const ticket = lane.pacer?.sent(started, items.length)
    const abort = new AbortController()
    this.#aborts.add(abort)
    let outcomes: DeliveryOutcome[]
    try {
      outcomes = await lane.dest.deliver(
        items.map((i) => i.event),
        abort.signal,
      )
    } catch (e) {
      outcomes = items.map(() => classifyError(e))
    } finally {
      this.#aborts.delete(abort)
    }
    const took = performance.now() - started
    const ms = took / items.length
    if (lane.pacer) {
      lane.pacer.done(performance.now(), { ticket: ticket!, items: items.length, ms: took, waiting: lane.starved })
      lane.starved = false
      lane.dest.observe?.(lane.pacer.snapshot(performance.now()))
    }
    try {
      await this.#finish(items.map(({ slot, event }, i) => ({ slot, event, outcome: outcomes[i] ?? NO_OUTCOME, ms })))
    } finally {
      lane.running--
      this.#running--
      this.#pump()
      // A lane freed: the loop may claim for it.
      this.wake()
    }
  }

  /** Record outcomes, then let the slots go (a recording that fails leaves them leased: they come back when the lease runs out). */
  async #finish(results: Result[]): Promise<void> {
    try {
      await this.#record(results)
    } catch (e) {
      this.#deps.log.warn({ err: e, slots: results.length }, 'recording delivery outcomes failed; the slots come back when their lease runs out')
    } finally {
      for (const r of results) this.#unhold(r.slot)
    }
  }

  /** Group commit: outcomes arriving while a transaction is written go into the next one together. */
  #record(results: Result[]): Promise<void> {
    let batch = this.#batch
    if (!batch) {
      const items: Result[] = []
      const done = this.#writing.then(() => {
        if (this.#batch?.items === items) this.#batch = null
        return this.#write(items)
      })
      batch = { items, done }
      this.#batch = batch
      this.#writing = done.catch(() => undefined)
    }
    batch.items.push(...results)
    return batch.done
  }

  async #write(results: ReadonlyArray<Result>): Promise<void> {
    const { store, clock, ids } = this.#deps
    const now = clock.now()
    const attempts: AttemptRecord[] = []
    const counts: Array<[string, keyof TargetStats]> = []
    const dead: Result[] = []
    await store.db.transaction().execute(async (trx) => {
      for (const { slot, event, outcome, ms } of results) {
        if (outcome === 'gone') {
          await completeDelivery(trx, slot, this.#o.workerId, now)
          continue
        }
        if (outcome === 'unsent') {
          // Claimed but never sent: the worker is stopping. Due again at once, the attempt not counted.
          await releaseDelivery(trx, slot, this.#o.workerId, now)
          continue
        }
        const base = { targetId: slot.targetId, eventId: event?.id ?? '', sku: slot.sku, durationMs: ms, attemptedAt: now }
        if (outcome.kind === 'ok') {
          await completeDelivery(trx, slot, this.#o.workerId, now)
          attempts.push({ ...base, outcome: 'ok', statusCode: outcome.status, error: null })
          counts.push([slot.targetId, 'ok'])
        } else if (outcome.kind === 'retry' && outcome.status === null && this.#abort.signal.aborted) {
          // Aborted by stop(), not failed by the target: the attempt does not count.
          await releaseDelivery(trx, slot, this.#o.workerId, now)
          attempts.push({ ...base, outcome: 'retry', statusCode: null, error: `aborted: worker stopping (${outcome.error})` })
        } else if (outcome.kind === 'retry' && slot.attempts < this.#o.maxAttempts) {
          const delay = backoffMs(slot.attempts, this.#o.random, this.#o.backoff, outcome.retryAfterMs)
          await retryDelivery(trx, slot, this.#o.workerId, now + delay, outcome.error, outcome.status)
          attempts.push({ ...base, outcome: 'retry', statusCode: outcome.status, error: outcome.error })
          counts.push([slot.targetId, 'retried'])
        } else {
          await deadLetterDelivery(trx, slot, this.#o.workerId, ids.next('dlq'), now, outcome.error, outcome.status)
          attempts.push({ ...base, outcome: 'dead', statusCode: outcome.status, error: outcome.error })
          counts.push([slot.targetId, 'dead'])
          dead.push({ slot, event, outcome, ms })
        }
      }
      await recordAttempts(trx, store.caps, attempts)
    })
    // Counted once the transaction committed.
    for (const [target, what] of counts) {
      this.#count(target, what)
      const kind = targetKindOf(target)
      deliveriesTotal.inc({ target_kind: kind, result: what === 'retried' ? 'retry' : what })
      if (what === 'dead') deadLettersTotal.inc({ target_kind: kind })
    }
    // Commit → store acknowledged, per store (a handful of labels; never per SKU).
    for (const r of results) {
      if (typeof r.outcome === 'object' && r.outcome.kind === 'ok' && r.event && r.slot.targetId.startsWith('sto_')) storePushLatency.observe({ store: r.slot.targetId }, Math.max(0, now - r.event.createdAt) / 1000)
    }
    for (const { slot, outcome } of dead) {
      this.#deps.log.warn({ target: slot.targetId, sku: slot.sku, attempts: slot.attempts, error: typeof outcome === 'object' && 'error' in outcome ? outcome.error : undefined }, 'delivery dead-lettered')
    }
  }

  #hold(slot: DeliverySlot): void {
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    this.#held.set(keyOf(slot), { slot, released, release })
    if (!this.#renewTimer) {
      // Renew well before the lease runs out, so a long request keeps its slot.
      this.#renewTimer = setInterval(() => void this.#renew(), Math.max(10, Math.floor(this.#o.leaseMs / 3)))
      this.#renewTimer.unref()
    }
  }

  #unhold(slot: DeliverySlot): void {
    const h = this.#held.get(keyOf(slot))
    if (h?.slot === slot) {
      this.#held.delete(keyOf(slot))
      h.release()
    }
    if (this.#held.size === 0 && this.#renewTimer) {
      clearInterval(this.#renewTimer)
      this.#renewTimer = null
    }
  }

  /** Extend the lease of every slot still held (in flight, waiting for a lane, or being recorded). */
  async #renew(): Promise<void> {
    if (this.#renewing || this.#held.size === 0) return
    this.#renewing = true
    try {
      const byTarget = new Map<string, string[]>()
      for (const { slot: s } of this.#held.values()) {
        const list = byTarget.get(s.targetId)
        if (list) list.push(s.sku)
        else byTarget.set(s.targetId, [s.sku])
      }
      const until = this.#deps.clock.now() + this.#o.leaseMs
      for (const [targetId, skus] of byTarget) await renewLeases(this.#deps.store.db, this.#deps.store.caps, this.#o.workerId, targetId, skus, until)
    } catch (e) {
      this.#deps.log.warn({ err: e }, 'renewing delivery leases failed')
    } finally {
      this.#renewing = false
    }
  }

  /** Ask the loop to look for work now. */
  wake(): void {
    this.#woken = true
    this.#wake?.()
  }

  start(): void {
    if (this.#loop) return
    this.#unsubscribe = this.#deps.events.subscribe(() => this.wake(), 'deliveries')
    this.#loop = (async () => {
      while (!this.#abort.signal.aborted) {
        let claimed = 0
        // Claim only with room: a free delivery somewhere, and a bounded number of slots held.
        const room = Math.min(this.#o.batchSize, this.#o.maxHeld - this.#held.size)
        if (this.#running < this.#o.concurrency && room > 0) {
          // Consumed before the claim: a wake during it means look again.
          this.#woken = false
          try {
            claimed = await this.#claim(room)
          } catch (e) {
            this.#deps.log.warn({ err: e }, 'delivery claim failed')
          }
        }
        if (claimed > 0 || this.#abort.signal.aborted) continue
        await this.#idle()
      }
    })()
  }

  async #idle(): Promise<void> {
    if (this.#woken) {
      this.#woken = false
      return
    }
    await waitForWork(this.#o.pollMs, this.#abort.signal, (wake) => (this.#wake = wake))
    this.#wake = null
    this.#woken = false
  }

  /**
   * Stop taking work; deliveries in flight are aborted and handed back, due at once, the attempt
   * not counted; slots claimed but not yet sent are handed back too. Resolves once all is recorded.
   */
  async stop(): Promise<void> {
    this.#unsubscribe?.()
    this.#abort.abort()
    for (const a of this.#aborts) a.abort()
    this.wake()
    await this.#loop
    this.#pump()
    await this.#settle()
    if (this.#renewTimer) clearInterval(this.#renewTimer)
    this.#renewTimer = null
  }
}
