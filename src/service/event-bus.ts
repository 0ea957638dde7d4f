/**
 * @module service/event-bus: in-process wake-ups after commits, and the cached list of delivery
 * targets each event fans out to. Cross-node wake-ups travel through the database (LISTEN/NOTIFY).
 */
import { matchesFilter, type EventFilter } from '../domain/events.js'
import type { Executor } from '../store/db.js'
import { listSubscriptions } from '../store/subscription-repo.js'

export interface DeliveryTarget extends EventFilter {
  readonly id: string
}

/** Supplies the targets that exist (webhook subscriptions today; stores later). */
export type TargetSource = (ex: Executor) => Promise<ReadonlyArray<DeliveryTarget>>

export const subscriptionTargets: TargetSource = async (ex) => (await listSubscriptions(ex)).filter((s) => s.isActive)

/**
 * What a wake-up is about. Live streams want every commit; the delivery worker and the job runner
 * only commits that left them work (waking them on every commit cost ~8% of a write's CPU).
 */
export type WakeChannel = 'events' | 'deliveries' | 'jobs'

export class EventBus {
  readonly #listeners = new Map<WakeChannel, Set<() => void>>()
  readonly #expected = new Set<WakeChannel>()
  readonly #sources: TargetSource[]
  readonly #ttlMs: number
  #targets: ReadonlyArray<DeliveryTarget> | null = null
  #loadedAt = 0

  /** `ttlMs` bounds how long another node's new subscription may go unseen here. */
  constructor(sources: ReadonlyArray<TargetSource> = [subscriptionTargets], ttlMs = 1000) {
    this.#sources = [...sources]
    this.#ttlMs = ttlMs
  }

  /** Inside a transaction: the commit will leave work on this channel. */
  expect(channel: WakeChannel): void {
    this.#expected.add(channel)
  }

  /**
   * Called after every committed write: live streams wake at once, and so do the channels some
   * transaction said to expect. `everything` is for wake-ups from other nodes, whose work is unknown.
   */
  notify(everything = false): void {
    this.#wake('events')
    for (const ch of everything ? (['deliveries', 'jobs'] as const) : [...this.#expected]) if (ch !== 'events') this.#wake(ch)
    this.#expected.clear()
  }

  #wake(channel: WakeChannel): void {
    for (const l of this.#listeners.get(channel) ?? []) l()
  }

  subscribe(listener: () => void, channel: WakeChannel = 'events'): () => void {
    const set = this.#listeners.get(channel) ?? new Set()
    set.add(listener)
    this.#listeners.set(channel, set)
    return () => set.delete(listener)
  }

  /** Targets this event must reach. Read through the writer's transaction when the cache is old. */
  async targetsFor(ex: Executor, e: { type: string; sku: string; warehouseId: number }, now: number): Promise<string[]> {
    if (this.#targets === null || now - this.#loadedAt > this.#ttlMs || now < this.#loadedAt) {
      const all: DeliveryTarget[] = []
      for (const source of this.#sources) all.push(...(await source(ex)))
      this.#targets = all
      this.#loadedAt = now
    }
    return this.#targets.filter((t) => matchesFilter(t, e)).map((t) => t.id)
  }

  /** Forget cached targets (after a subscription changed on this node). */
  invalidateTargets(): void {
    this.#targets = null
  }
}
