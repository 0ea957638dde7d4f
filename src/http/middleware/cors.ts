/**
 * @module http/middleware/cors: browsers may call the API only from the origins in CORS_ORIGINS
 * (#5). With none configured no CORS header is ever sent, so browsers refuse cross-origin calls.
 */
import type { MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'
import type { AppEnv } from '../env.js'

export function allowConfiguredOrigins(origins: ReadonlyArray<string>): MiddlewareHandler<AppEnv> | null {
  if (origins.length === 0) return null
  return cors({
    origin: (origin) => (origins.includes(origin) ? origin : null),
    allowMethods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    allowHeaders: ['Content-Type', 'X-API-Key', 'Authorization', 'Idempotency-Key', 'X-Timestamp', 'X-Nonce', 'X-Signature', 'Last-Event-ID', 'X-Request-Id'],
    exposeHeaders: ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy', 'Retry-After', 'Idempotent-Replayed', 'Location', 'X-Request-Id'],
    maxAge: 600,
  })
}
