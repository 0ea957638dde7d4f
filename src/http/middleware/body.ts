/** @module http/middleware/body: body size limits, checked before any byte is parsed. */
import type { Context, MiddlewareHandler } from 'hono'
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

/** Deeper than any real payload; refusing it early keeps recursive code downstream safe. */
export const MAX_JSON_DEPTH = 32

/**
 * Nesting depth of a JSON text, counted without parsing (brackets inside strings are skipped).
 * Works on text or on raw bytes (UTF-8 never puts an ASCII byte inside a multi-byte character).
 */
export function jsonDepth(text: string | Uint8Array): number {
  const isText = typeof text === 'string'
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = isText ? text.charCodeAt(i) : text[i]!
    if (inString) {
      if (ch === 92) i++ // backslash: skip the escaped character
      else if (ch === 34) inString = false
    } else if (ch === 34) inString = true
    else if (ch === 123 || ch === 91) max = Math.max(max, ++depth)
    else if (ch === 125 || ch === 93) depth--
  }
  return max
}

/**
 * Refuse JSON nested deeper than MAX_JSON_DEPTH. Hono caches the body, so the validator parses the
 * same bytes afterwards. Paths under `skipPrefixes` (provider webhooks) check depth themselves,
 * after their signature, since nothing about an unverified body may be acted on.
 */
export function limitJsonDepth(skipPrefixes: ReadonlyArray<string> = []): MiddlewareHandler<AppEnv> {
  return async function jsonDepthLimit(c, next) {
    const type = c.req.header('content-type') ?? ''
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || !/^application\/json\b/i.test(type)) return next()
    if (skipPrefixes.some((p) => c.req.path.startsWith(p))) return next()
    // A signed request (#5) is read as bytes, so its HMAC covers exactly what was sent; others as
    // text, which the validator then parses from Hono's cache without another copy.
    const depth = c.req.header('x-signature') !== undefined ? jsonDepth(new Uint8Array(await c.req.arrayBuffer())) : jsonDepth(await c.req.text())
    if (depth > MAX_JSON_DEPTH) return depthProblem(c, depth)
    return next()
  }
}

export function depthProblem(c: Context, depth: number): Response {
  return problem(c, 'validation_failed', `The body is nested ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`, {
    errors: [{ pointer: '', message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` }],
  })
}
