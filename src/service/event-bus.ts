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

export class EventBus {
  readonly #listeners = new Set<() => void>()
  readonly #sources: TargetSource[]
  readonly #ttlMs: number
  #targets: ReadonlyArray<DeliveryTarget> | null = null
  #loadedAt = 0

  /** `ttlMs` bounds how long another node's new subscription may go unseen here. */
  constructor(sources: ReadonlyArray<TargetSource> = [subscriptionTargets], ttlMs = 1000) {
    this.#sources = [...sources]
    this.#ttlMs = ttlMs
  }

  /** Called after every committed write; listeners (delivery worker, SSE streams) wake at once. */
  notify(): void {
    for (const l of this.#listeners) l()
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
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
