/** @module sync/destination: where events go. A destination delivers one target's due events. */
import type { OutboxEvent } from '../domain/events.js'
import type { DeliveryOutcome } from './classify.js'
import type { PacingSnapshot } from './pacing.js'

/** How the worker may feed one target: deliveries at once, and events in each. */
export interface DeliveryLimits {
  /** `deliver` calls in flight at once for this target (a store's parallel requests). */
  readonly concurrency: number
  /** Events in one `deliver` call at most (100: one store batch request; 1: one webhook POST). */
  readonly maxBatch: number
  /** When a backlog is spread over free lanes, no call gets fewer than this (unless fewer wait). */
  readonly minBatch: number
  /**
   * While other calls for this target are in flight, a call with fewer than `minBatch` events waits
   * up to this long for more (0: never waits). Each call to a store costs a fixed overhead (~90 ms)
   * on top of its per-item time; sending every change alone as it comes keeps every lane busy with
   * one-item requests while the backlog piles up for one long request, which doubles the latency.
   */
  readonly lingerMs?: number
  /**
   * Adapt the window and the parallel requests to the target's answers (sync/pacing.ts): the
   * window stays within [lingerMs, maxWindowMs] and the requests at most `concurrency`.
   */
  readonly pacing?: { readonly maxWindowMs: number }
}

/** What the worker assumes of a destination that states no limits: one call at a time, any size. */
export const DEFAULT_LIMITS: DeliveryLimits = Object.freeze({ concurrency: 1, maxBatch: Number.MAX_SAFE_INTEGER, minBatch: 1 })

export interface Destination {
  /**
   * Deliver each event; one outcome per event, in the same order. Never throws. The worker calls
   * it up to `limits().concurrency` times at once for one target, never with two events of the
   * same SKU in flight at once.
   */
  deliver(events: ReadonlyArray<OutboxEvent>, signal: AbortSignal): Promise<DeliveryOutcome[]>
  /** This target's bounds (read each time the worker claims work for it). Default DEFAULT_LIMITS. */
  limits?(): DeliveryLimits | Promise<DeliveryLimits>
  /** What steers a paced target now (`limits().pacing`): told after each delivery and when it goes idle. */
  observe?(pacing: PacingSnapshot): void
}

/** Finds the destination of a target id (a subscription, later a store); undefined when it is gone. */
export type DestinationResolver = (targetId: string) => Promise<Destination | undefined>
