/** @module security/redis: one Redis connection for shared rate limits and nonces. */
import { Redis } from 'ioredis'

/**
 * Connect, waiting up to `waitMs` for the first connection. Commands fail at once while Redis is
 * unreachable (no offline queue): callers decide whether that fails open (rate limits) or closed
 * (nonces). ioredis keeps reconnecting in the background.
 */
export async function connectRedis(url: string, waitMs = 3000): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 1000 })
  redis.on('error', () => {}) // reported by the commands that fail; without a listener ioredis logs to stderr
  await Promise.race([redis.connect().catch(() => {}), new Promise((r) => setTimeout(r, waitMs).unref())])
  return redis
}

/** The URL with any password masked: what may be logged. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
}
