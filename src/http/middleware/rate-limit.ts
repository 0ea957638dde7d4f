/**
 * @module http/middleware/rate-limit: token buckets per caller (#5). Authenticated requests draw
 * on their key's (or token subject's) read budget (GET, HEAD) or write budget (everything else);
 * requests without a valid credential (docs, webhooks, failed logins) draw on their client IP's
 * budget. Every limited response carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
 * (draft-ietf-httpapi-ratelimit-headers) and a 429 adds Retry-After.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { BucketPolicy, TakeResult } from '../../security/rate-limit.js'
import type { Logger } from '../../service/deps.js'
import type { AppEnv } from '../env.js'
import { problem } from '../problem.js'
import type { RateLimits } from '../security.js'

/**
 * The client's address: the socket's, or with `hops` trusted proxies in front, the address the
 * outermost trusted proxy saw (X-Forwarded-For counted from the right; entries further left are
 * the client's own claims and are never trusted).
 */
export function clientIpOf(c: Context, hops: number): string {
  if (hops > 0) {
    const chain = (c.req.header('x-forwarded-for') ?? '').split(',').map((s) => s.trim()).filter(Boolean)
    const ip = chain[chain.length - hops]
    if (ip && /^[0-9A-Fa-f:.]{2,45}$/.test(ip)) return ip
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'unknown' // in-process requests (app.request) have no socket
  }
}

function headersOf(r: TakeResult, policy: BucketPolicy): Record<string, string> {
  return {
    'ratelimit-limit': String(r.limit),
    'ratelimit-remaining': String(r.remaining),
    'ratelimit-reset': String(r.resetSeconds),
    'ratelimit-policy': `${policy.capacity};w=${Math.max(1, Math.round((policy.capacity / policy.perMinute) * 60))}`,
  }
}

async function take(limits: RateLimits, bucket: string, policy: BucketPolicy, log: Logger): Promise<TakeResult | null> {
  try {
    return await limits.store.take(bucket, policy)
  } catch (e) {
    log.warn({ err: e }, `rate-limit store unavailable; failing ${limits.onStoreError}`)
    if (limits.onStoreError === 'open') return null
    return { allowed: false, remaining: 0, limit: policy.capacity, retryAfterSeconds: 1, resetSeconds: 1 }
  }
}

/** Draw one token; a refusal as a 429 problem, or null with the headers to add to the answer. */
async function spend(c: Context, limits: RateLimits, bucket: string, policy: BucketPolicy, log: Logger, what: string): Promise<{ refusal: Response | null; headers: Record<string, string> }> {
  const r = await take(limits, bucket, policy, log)
  if (r === null) return { refusal: null, headers: {} }
  const headers = headersOf(r, policy)
  if (r.allowed) return { refusal: null, headers }
  const refusal = problem(c, 'rate_limited', `Too many ${what} requests: at most ${policy.perMinute} a minute with bursts of ${policy.capacity}; retry in ${r.retryAfterSeconds} s`, { retry_after_seconds: r.retryAfterSeconds }, { ...headers, 'retry-after': String(r.retryAfterSeconds) })
  return { refusal, headers }
}

function withHeaders(c: Context, headers: Record<string, string>): void {
  for (const [k, v] of Object.entries(headers)) c.header(k, v)
}

/** After authentication: the caller's read or write budget. */
export function limitByPrincipal(limits: RateLimits, log: Logger): MiddlewareHandler<AppEnv> {
  return async function principalRateLimit(c, next) {
    const isRead = c.req.method === 'GET' || c.req.method === 'HEAD'
    const policy = isRead ? limits.read : limits.write
    if (policy === null) return next()
    const { refusal, headers } = await spend(c, limits, `${isRead ? 'read' : 'write'}:${c.get('principal').actor}`, policy, log, isRead ? 'read' : 'write')
    if (refusal) return refusal
    await next()
    withHeaders(c, headers)
  }
}

/** Routes without a credential: the client IP's budget. */
export function limitByClientIp(limits: RateLimits, trustProxyHops: number, log: Logger): MiddlewareHandler<AppEnv> {
  return async function clientIpRateLimit(c, next) {
    if (limits.anon === null) return next()
    const { refusal, headers } = await spend(c, limits, `anon:${clientIpOf(c, trustProxyHops)}`, limits.anon, log, 'unauthenticated')
    if (refusal) return refusal
    await next()
    withHeaders(c, headers)
  }
}

/** For refused credentials: the attempt costs a token of the client IP's budget; past it, 429. */
export function limitRefusedAttempts(limits: RateLimits, trustProxyHops: number, log: Logger): (c: Context<AppEnv>) => Promise<Response | null> {
  return async function refusedAttemptLimit(c) {
    if (limits.anon === null) return null
    const { refusal } = await spend(c, limits, `anon:${clientIpOf(c, trustProxyHops)}`, limits.anon, log, 'unauthenticated')
    return refusal
  }
}
