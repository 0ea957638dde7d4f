/**
 * @module domain/pull-schedule: when a warehouse's pull source runs next, and the mapping a source
 * gets when it names none. Pure: the clock and randomness come in as arguments.
 */
import { CronExpressionParser } from 'cron-parser'

/** The seed's `External_API_Client::sync_from_warehouse` format: `{"inventory_items":[{"sku","quantity"}]}`. */
export const DEFAULT_PULL_MAPPING = 'inventory_items.{ "sku": sku, "quantity": quantity }'

/** Failed pulls wait interval × 2^(failures−1), at most this, before the next attempt. */
const MAX_BACKOFF_MS = 6 * 3_600_000

export interface PullSchedule {
  readonly intervalSeconds: number | null
  readonly cron: string | null
}

/** When a source runs next after `now`: its cron expression, else its interval; null: manual only. */
export function nextDue(s: PullSchedule, now: number): number | null {
  if (s.cron) return CronExpressionParser.parse(s.cron, { currentDate: new Date(now), tz: 'UTC' }).next().getTime()
  if (s.intervalSeconds) return now + s.intervalSeconds * 1000
  return null
}

/** After `failures` consecutive failures: the normal next time pushed out by a growing delay. */
export function nextAfterFailure(s: PullSchedule, now: number, failures: number, rng: () => number = Math.random): number | null {
  const normal = nextDue(s, now)
  if (normal === null) return null
  const period = Math.max(normal - now, 30_000)
  const delay = Math.min(MAX_BACKOFF_MS, period * 2 ** Math.min(failures - 1, 20))
  // A little jitter so sources that failed together (one outage) do not return in lockstep.
  const at = now + delay + Math.floor(rng() * Math.min(delay / 10, 60_000))
  return s.cron ? nextDue(s, at - 1) : at
}
