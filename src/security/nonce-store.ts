/**
 * @module security/nonce-store: remembering request nonces so a signed request cannot be replayed.
 * A nonce is kept until its request's timestamp falls out of the accepted window; after that the
 * timestamp check alone refuses a replay. Three homes, chosen by NONCE_STORE (README, Security):
 * Redis (shared by every node, when REDIS_URL is set), the database (shared by every node on the
 * same database; the default without Redis), or this process's memory (one node only).
 */
import type { Redis } from 'ioredis'

export interface NonceStore {
  /** True when the nonce is new for this key (and is now remembered); false when it was seen. */
  claim(keyId: string, nonce: string, expiresAtMs: number, nowMs: number): Promise<boolean>
}

export class MemoryNonceStore implements NonceStore {
  readonly #seen = new Map<string, number>()
  #nextPruneAt = 0

  async claim(keyId: string, nonce: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    if (nowMs >= this.#nextPruneAt) {
      for (const [k, exp] of this.#seen) if (exp <= nowMs) this.#seen.delete(k)
      this.#nextPruneAt = nowMs + 10_000
    }
    const k = `${keyId}\u0000${nonce}`
    const exp = this.#seen.get(k)
    if (exp !== undefined && exp > nowMs) return false
    this.#seen.set(k, expiresAtMs)
    return true
  }
}

export class RedisNonceStore implements NonceStore {
  readonly #redis: Redis
  readonly #prefix: string

  constructor(redis: Redis, prefix = 'stockbridge:nonce:') {
    this.#redis = redis
    this.#prefix = prefix
  }

  async claim(keyId: string, nonce: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    const ttl = Math.max(1000, expiresAtMs - nowMs)
    // SET NX is atomic: of two nodes receiving the same request at once, exactly one gets OK.
    return (await this.#redis.set(`${this.#prefix}${keyId}:${nonce}`, '1', 'PX', ttl, 'NX')) === 'OK'
  }
}
