/**
 * @module sync/worker: delivers due events to their targets.
 *
 * Claims due delivery slots under a lease, delivers them, records each outcome. Retries use
 * capped exponential backoff with full jitter; after the last attempt a delivery becomes a dead
 * letter. Wakes the moment a commit signals (in-process, or NOTIFY from another node), and polls
 * slowly as a safety net and for retries coming due.
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
  retryDelivery,
  type AttemptRecord,
  type DeliverySlot,
} from '../store/delivery-repo.js'
import { findEventsBySeq } from '../store/outbox-repo.js'
import type { DeliveryOutcome } from './classify.js'
import type { DestinationResolver } from './destination.js'
import { waitForWork } from './idle.js'

export interface WorkerOptions {
  readonly workerId: string
  readonly batchSize?: number
  readonly leaseMs?: number
  /** Attempts before a delivery becomes a dead letter. */
  readonly maxAttempts?: number
  readonly pollMs?: number
  readonly backoff?: BackoffPolicy
  readonly random?: () => number
}

export interface TargetStats {
  ok: number
  retried: number
  dead: number
}

export class DeliveryWorker {
  readonly #deps: ServiceDeps
  readonly #resolve: DestinationResolver
  readonly #o: Required<WorkerOptions>
  readonly #stats = new Map<string, TargetStats>()
  readonly #abort = new AbortController()
  #wake: (() => void) | null = null
  #woken = false
  #loop: Promise<void> | null = null
  #unsubscribe: (() => void) | null = null

  constructor(deps: ServiceDeps, resolve: DestinationResolver, o: WorkerOptions) {
    this.#deps = deps
    this.#resolve = resolve
    this.#o = { batchSize: 100, leaseMs: 30_000, maxAttempts: 10, pollMs: 1000, backoff: DEFAULT_BACKOFF, random: Math.random, ...o }
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

  /** Claim one batch, deliver it, record the outcomes. Returns how many slots it handled. */
  async runOnce(): Promise<number> {
    const { store, clock } = this.#deps
    const slots = await claimDeliveries(store.db, store.caps, this.#o.workerId, clock.now(), this.#o.leaseMs, this.#o.batchSize)
    if (slots.length === 0) return 0
    const events = await findEventsBySeq(store.db, [...new Set(slots.map((s) => s.eventSeq))])
    const byTarget = new Map<string, DeliverySlot[]>()
    for (const s of slots) byTarget.set(s.targetId, [...(byTarget.get(s.targetId) ?? []), s])

    const results: Array<{ slot: DeliverySlot; event: OutboxEvent | undefined; outcome: DeliveryOutcome | 'gone'; ms: number }> = []
    await Promise.all(
      [...byTarget].map(async ([targetId, targetSlots]) => {
        const destination = await this.#resolve(targetId)
        const deliverable = targetSlots.filter((s) => events.has(s.eventSeq))
        for (const s of targetSlots) if (!events.has(s.eventSeq) || !destination) results.push({ slot: s, event: events.get(s.eventSeq), outcome: 'gone', ms: 0 })
        if (!destination || deliverable.length === 0) return
        const started = performance.now()
        const outcomes = await destination.deliver(deliverable.map((s) => events.get(s.eventSeq)!), this.#abort.signal)
        const ms = (performance.now() - started) / deliverable.length
        deliverable.forEach((slot, i) => results.push({ slot, event: events.get(slot.eventSeq), outcome: outcomes[i]!, ms }))
      }),
    )
    await this.#record(results)
    return slots.length
  }

  async #record(results: ReadonlyArray<{ slot: DeliverySlot; event: OutboxEvent | undefined; outcome: DeliveryOutcome | 'gone'; ms: number }>): Promise<void> {
    const { store, clock, ids } = this.#deps
    const now = clock.now()
    const attempts: AttemptRecord[] = []
    await store.db.transaction().execute(async (trx) => {
      for (const { slot, event, outcome, ms } of results) {
        if (outcome === 'gone') {
          // The target was removed or the event pruned: nothing left to deliver.
          await completeDelivery(trx, slot, this.#o.workerId, now)
          continue
        }
        const base = { targetId: slot.targetId, eventId: event?.id ?? '', sku: slot.sku, durationMs: ms, attemptedAt: now }
        if (outcome.kind === 'ok') {
          await completeDelivery(trx, slot, this.#o.workerId, now)
          attempts.push({ ...base, outcome: 'ok', statusCode: outcome.status, error: null })
          this.#count(slot.targetId, 'ok')
        } else if (outcome.kind === 'retry' && outcome.status === null && this.#abort.signal.aborted) {
          // Aborted by stop(), not failed by the target: the attempt does not count.
          await releaseDelivery(trx, slot, this.#o.workerId, now)
          attempts.push({ ...base, outcome: 'retry', statusCode: null, error: `aborted: worker stopping (${outcome.error})` })
        } else if (outcome.kind === 'retry' && slot.attempts < this.#o.maxAttempts) {
          const delay = backoffMs(slot.attempts, this.#o.random, this.#o.backoff, outcome.retryAfterMs)
          await retryDelivery(trx, slot, this.#o.workerId, now + delay, outcome.error, outcome.status)
          attempts.push({ ...base, outcome: 'retry', statusCode: outcome.status, error: outcome.error })
          this.#count(slot.targetId, 'retried')
        } else {
          await deadLetterDelivery(trx, slot, this.#o.workerId, ids.next('dlq'), now, outcome.error, outcome.status)
          attempts.push({ ...base, outcome: 'dead', statusCode: outcome.status, error: outcome.error })
          this.#count(slot.targetId, 'dead')
          this.#deps.log.warn({ target: slot.targetId, sku: slot.sku, attempts: slot.attempts, error: outcome.error }, 'delivery dead-lettered')
        }
      }
      await recordAttempts(trx, store.caps, attempts)
    })
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
        let handled = 0
        try {
          handled = await this.runOnce()
        } catch (e) {
          this.#deps.log.warn({ err: e }, 'delivery round failed')
        }
        if (handled > 0 || this.#abort.signal.aborted) continue
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

  /** Stop taking work; deliveries in flight are aborted and handed back, due at once, the attempt not counted. */
  async stop(): Promise<void> {
    this.#unsubscribe?.()
    this.#abort.abort()
    this.wake()
    await this.#loop
  }
}
