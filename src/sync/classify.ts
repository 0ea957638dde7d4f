/**
 * @module sync/classify: what a delivery failure means, decided once.
 * Retry: network errors, timeouts, 408, 425, 429 (honouring Retry-After) and 5xx.
 * Permanent: every other 4xx (the target refuses this request; retrying cannot help).
 */
export type DeliveryOutcome =
  | { readonly kind: 'ok'; readonly status: number }
  | { readonly kind: 'retry'; readonly status: number | null; readonly error: string; readonly retryAfterMs: number }
  | { readonly kind: 'permanent'; readonly status: number; readonly error: string }

const RETRYABLE_STATUSES = new Set([408, 425, 429])
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), capped at an hour. */
export function parseRetryAfter(value: string | null, nowMs: number): number {
  if (!value) return 0
  const seconds = Number(value)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - nowMs
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : 0
}

export function classifyResponse(status: number, retryAfter: string | null, nowMs: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return { kind: 'ok', status }
  if (status >= 500 || RETRYABLE_STATUSES.has(status)) return { kind: 'retry', status, error: `HTTP ${status}`, retryAfterMs: parseRetryAfter(retryAfter, nowMs) }
  return { kind: 'permanent', status, error: `HTTP ${status}` }
}

export function classifyError(e: unknown): DeliveryOutcome {
  const name = e instanceof Error ? e.name : ''
  const msg = e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e)
  return { kind: 'retry', status: null, error: name === 'TimeoutError' ? 'timed out' : msg.slice(0, 300), retryAfterMs: 0 }
}
