/**
 * @module http/security: what the HTTP layer needs for authentication beyond API keys (#5), built
 * from the configuration by the composition root, with safe defaults for whatever is absent
 * (no JWT, nonces in the database, no rate limits, no webhook providers, no CORS).
 */
import type { Config } from '../config.js'
import { JwtVerifier } from '../security/jwt.js'
import { MemoryNonceStore, RedisNonceStore, type NonceStore } from '../security/nonce-store.js'
import type { WebhookProvider } from '../security/provider-signature.js'
import { MemoryRateLimitStore, RedisRateLimitStore, type BucketPolicy, type RateLimitStore } from '../security/rate-limit.js'
import { connectRedis, redactRedisUrl } from '../security/redis.js'
import { DEFAULT_SIGNATURE_TOLERANCE_SECONDS } from '../security/request-signature.js'
import type { ServiceDeps } from '../service/deps.js'
import { DatabaseNonceStore } from '../service/request-nonces.js'

export interface RateLimits {
  readonly store: RateLimitStore
  readonly read: BucketPolicy | null
  readonly write: BucketPolicy | null
  readonly anon: BucketPolicy | null
  /** What happens when the store fails (Redis down): `open` lets the request through, logged. */
  readonly onStoreError: 'open' | 'closed'
}

export interface SecurityDeps {
  readonly jwt: JwtVerifier | null
  readonly nonces: NonceStore
  readonly signatureToleranceSeconds: number
  readonly rateLimits: RateLimits | null
  readonly webhooks: Readonly<Record<string, WebhookProvider>>
  readonly corsOrigins: ReadonlyArray<string>
  readonly trustProxyHops: number
  /** KEY_ENCRYPTION_KEY: seals provider secrets stored by the API (#14); null: stored `plain:`. */
  readonly keyEncryptionKey: Buffer | null
  /** Release connections (Redis). */
  close(): Promise<void>
}

/** Fill in the defaults for whatever a caller (a test, say) left out. */
export function resolveSecurity(deps: ServiceDeps, given: Partial<SecurityDeps> = {}): SecurityDeps {
  return {
    jwt: given.jwt ?? null,
    nonces: given.nonces ?? new DatabaseNonceStore(deps),
    signatureToleranceSeconds: given.signatureToleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
    rateLimits: given.rateLimits ?? null,
    webhooks: given.webhooks ?? {},
    corsOrigins: given.corsOrigins ?? [],
    trustProxyHops: given.trustProxyHops ?? 0,
    keyEncryptionKey: given.keyEncryptionKey ?? null,
    close: given.close ?? (async () => {}),
  }
}

/** Build from configuration: connects to Redis when REDIS_URL is set and a store uses it. */
export async function createSecurityDeps(config: Config, deps: ServiceDeps): Promise<SecurityDeps> {
  const s = config.security
  const needsRedis = s.redisUrl !== null && (s.nonceStore === 'redis' || s.rateLimits.store === 'redis')
  const redis = needsRedis ? await connectRedis(s.redisUrl!) : null
  if (redis && redis.status !== 'ready') deps.log.warn({ redis: redactRedisUrl(s.redisUrl!) }, 'Redis is not reachable yet; signed requests are refused (503) and rate limits are not enforced until it is')
  const nonces: NonceStore = s.nonceStore === 'redis' && redis ? new RedisNonceStore(redis) : s.nonceStore === 'memory' ? new MemoryNonceStore() : new DatabaseNonceStore(deps)
  const { read, write, anon } = s.rateLimits
  const limited = read !== null || write !== null || anon !== null
  const store: RateLimitStore | null = !limited ? null : s.rateLimits.store === 'redis' && redis ? new RedisRateLimitStore(redis) : new MemoryRateLimitStore(() => deps.clock.now())
  return {
    jwt: s.jwt ? new JwtVerifier(s.jwt) : null,
    nonces,
    signatureToleranceSeconds: s.signatureToleranceSeconds,
    rateLimits: store ? { store, read, write, anon, onStoreError: 'open' } : null,
    webhooks: s.webhooks,
    corsOrigins: s.corsOrigins,
    trustProxyHops: s.trustProxyHops,
    keyEncryptionKey: s.keyEncryptionKey,
    async close() {
      await store?.close()
      redis?.disconnect()
    },
  }
}
