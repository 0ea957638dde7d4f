/** @module domain/backoff: when to try a failed delivery again. */

export interface BackoffPolicy {
  readonly baseMs: number
  readonly capMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 1000, capMs: 60 * 60 * 1000 })

/** The ceiling for the given attempt (1-based): base·2^(attempt−1), capped. Monotone in attempt. */
export function backoffCeilingMs(attempt: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exp = Math.min(Math.max(0, attempt - 1), 30)
  return Math.min(p.capMs, p.baseMs * 2 ** exp)
}

/**
 * Full jitter (a uniform draw below the ceiling) spreads retries of many failed deliveries so they
 * do not return in lockstep. `rng` returns [0, 1); a Retry-After from the target is a floor.
 */
export function backoffMs(attempt: number, rng: () => number, p: BackoffPolicy = DEFAULT_BACKOFF, retryAfterMs = 0): number {
  return Math.max(Math.floor(rng() * backoffCeilingMs(attempt, p)), retryAfterMs)
}
