/**
 * @module security/rate-limit: token buckets. Each bucket holds up to `capacity` tokens (the
 * burst) and refills continuously at `perMinute / 60` tokens a second; a request takes one.
 * Unlike the seed's table of request rows counted per minute, a bucket is O(1) state per
 * client: one map entry in memory, or one Redis hash updated atomically by a Lua script so that
 * every node behind a load balancer draws on the same budget.
 */
import type { Redis } from 'ioredis'

export interface BucketPolicy {
  /** Sustained rate. */
  readonly perMinute: number
  /** Most tokens a bucket holds: how many requests may arrive at once. */
  readonly capacity: number
}

export interface TakeResult {
  readonly allowed: boolean
  /** Whole tokens left after this request. */
  readonly remaining: number
  readonly limit: number
  /** Seconds until one token is available again (0 when allowed). */
  readonly retryAfterSeconds: number
  /** Seconds until the bucket is full again. */
  readonly resetSeconds: number
}

export interface RateLimitStore {
  take(bucket: string, policy: BucketPolicy): Promise<TakeResult>
  close(): Promise<void>
}

interface BucketState {
  tokens: number
  at: number
}

const perMs = (p: BucketPolicy) => p.perMinute / 60_000

function resultOf(policy: BucketPolicy, allowed: boolean, tokens: number): TakeResult {
  const rate = perMs(policy)
  return {
    allowed,
    remaining: Math.max(0, Math.floor(tokens)),
    limit: policy.capacity,
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / rate / 1000)),
    resetSeconds: Math.max(0, Math.ceil((policy.capacity - tokens) / rate / 1000)),
  }
}

/** The bucket arithmetic, pure: refill for the time elapsed, then take one token if there is one. */
export function takeToken(state: BucketState | undefined, policy: BucketPolicy, nowMs: number): { state: BucketState; allowed: boolean } {
  let tokens = state ? state.tokens : policy.capacity
  let at = state ? state.at : nowMs
  // A clock that steps backwards refills nothing (and takes nothing back).
  if (nowMs > at) {
    tokens = Math.min(policy.capacity, tokens + (nowMs - at) * perMs(policy))
    at = nowMs
  }
  const allowed = tokens >= 1
  if (allowed) tokens -= 1
  return { state: { tokens, at }, allowed }
}

/** One node's buckets. Idle buckets that have refilled are dropped when the map grows large. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #buckets = new Map<string, BucketState>()
  readonly #now: () => number
  readonly #maxBuckets: number

  constructor(now: () => number = Date.now, maxBuckets = 100_000) {
    this.#now = now
    this.#maxBuckets = maxBuckets
  }

  async take(bucket: string, policy: BucketPolicy): Promise<TakeResult> {
    const now = this.#now()
    if (this.#buckets.size >= this.#maxBuckets && !this.#buckets.has(bucket)) this.#evict(now, policy)
    const { state, allowed } = takeToken(this.#buckets.get(bucket), policy, now)
    this.#buckets.set(bucket, state)
    return resultOf(policy, allowed, state.tokens)
  }

  // A bucket that would be full by now carries no information: forgetting it changes nothing.
  #evict(now: number, policy: BucketPolicy): void {
    const fullAfterMs = policy.capacity / perMs(policy)
    for (const [k, s] of this.#buckets) if (now - s.at >= fullAfterMs) this.#buckets.delete(k)
    if (this.#buckets.size >= this.#maxBuckets) this.#buckets.clear()
  }

  async close(): Promise<void> {
    this.#buckets.clear()
  }
}

/**
 * The same bucket in Redis. The script reads the clock from Redis itself (TIME), so nodes with
 * drifting clocks still agree, and runs atomically, so two nodes never both spend the last token.
 * Returns {allowed, tokens-as-string} (Lua numbers would be truncated to integers in the reply).
 */
const TAKE_TOKEN_LUA = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate)
  at = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return {allowed, tostring(tokens)}
`

type TakeTokenCommand = (key: string, capacity: string, rate: string) => Promise<[number, string]>

export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: Redis
  readonly #prefix: string

  constructor(redis: Redis, prefix = 'stockbridge:rl:') {
    this.#redis = redis
    this.#prefix = prefix
    if (!('sbTakeToken' in redis)) redis.defineCommand('sbTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN_LUA })
  }

  async take(bucket: string, policy: BucketPolicy): Promise<TakeResult> {
    const run = (this.#redis as unknown as { sbTakeToken: TakeTokenCommand }).sbTakeToken
    const [allowed, tokens] = await run.call(this.#redis, this.#prefix + bucket, String(policy.capacity), String(perMs(policy)))
    return resultOf(policy, allowed === 1, Number(tokens))
  }

  async close(): Promise<void> {}
}
