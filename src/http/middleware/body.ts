/** @module http/middleware/body: body size limits, checked before any byte is parsed. */
import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { AppEnv, HttpLimits } from '../env.js'
import { problem } from '../problem.js'

/** One limit per route family; Hono's bodyLimit also counts streamed bytes when Content-Length lies. */
export function limitBodies(limits: HttpLimits, bulkPaths: ReadonlyArray<string>): MiddlewareHandler<AppEnv> {
  const make = (maxSize: number) =>
    bodyLimit({ maxSize, onError: (c) => problem(c, 'payload_too_large', `The body exceeds this route's limit of ${maxSize} bytes`, { limit_bytes: maxSize }) })
  const small = make(limits.bodyBytes)
  const bulk = make(limits.bulkBodyBytes)
  return function bodySizeLimit(c, next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
    return (bulkPaths.includes(c.req.path) ? bulk : small)(c, next)
  }
}
