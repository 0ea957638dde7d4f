/** @module http/middleware/body: body size limits, checked before any byte is parsed. */
import { IncomingMessage } from 'node:http'
import type { HttpBindings } from '@hono/node-server'
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { AppEnv, HttpLimits } from '../env.js'
import { problem } from '../problem.js'
import { headerOf } from '../request-context.js'

/**
 * One limit per route family. Behind a real server the body is read here, straight from Node's
 * request stream, and handed to Hono's body cache: node-server would otherwise build a WHATWG
 * Request and ReadableStream per request and Hono's bodyLimit a second Request around it, which
 * cost a write more CPU than the movement itself. In-process requests (tests) use Hono's bodyLimit.
 * Either way the bytes are counted as they arrive, so a lying Content-Length does not get past.
 */
export function limitBodies(limits: HttpLimits, bulkPaths: ReadonlyArray<string>): MiddlewareHandler<AppEnv> {
  const tooLarge = (c: Context, maxSize: number) => problem(c, 'payload_too_large', `The body exceeds this route's limit of ${maxSize} bytes`, { limit_bytes: maxSize })
  const make = (maxSize: number) => bodyLimit({ maxSize, onError: (c) => tooLarge(c, maxSize) })
  const small = make(limits.bodyBytes)
  const bulk = make(limits.bulkBodyBytes)
  return async function bodySizeLimit(c, next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
    const isBulk = bulkPaths.includes(c.req.path)
    const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming
    if (!(incoming instanceof IncomingMessage)) return (isBulk ? bulk : small)(c, next)
    const maxSize = isBulk ? limits.bulkBodyBytes : limits.bodyBytes
    const declared = Number(incoming.headers['content-length'])
    if (declared > maxSize) return tooLarge(c, maxSize)
    const body = await readBody(incoming, maxSize)
    if (body === null) return tooLarge(c, maxSize)
    cacheBody(c, body)
    return next()
  }
}

/** The whole body, or null once it passes `maxSize` (the rest is left for Node to discard). */
function readBody(incoming: IncomingMessage, maxSize: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = () => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxSize) {
        done()
        incoming.resume()
        resolve(null)
      } else chunks.push(chunk)
    }
    const onEnd = () => {
      done()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    }
    const onError = (e: Error) => {
      done()
      reject(e)
    }
    const onAborted = () => onError(new Error('The client closed the connection before the body arrived'))
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted)
  })
}

/**
 * Put the bytes where Hono's c.req.text() / json() / arrayBuffer() look first (HonoRequest's
 * public bodyCache), decoded as a WHATWG Request would (UTF-8, a leading BOM dropped). The raw
 * Request, should anything still build it, gets the same bytes (node-server reads `rawBody`).
 */
function cacheBody(c: Context, body: Buffer): void {
  ;(c.env as { incoming: IncomingMessage & { rawBody?: Buffer } }).incoming.rawBody = body
  const cache = c.req.bodyCache as Record<string, Promise<unknown>>
  cache.text = Promise.resolve(utf8.decode(body))
  let bytes: Promise<ArrayBuffer> | undefined
  Object.defineProperty(cache, 'arrayBuffer', {
    enumerable: true,
    get: () => (bytes ??= Promise.resolve(body.buffer.slice(body.byteOffset, body.byteOffset + body.length) as ArrayBuffer)),
  })
}
const utf8 = new TextDecoder()

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
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
    const type = c.req.header('content-type') ?? ''
    if (!/^application\/json\b/i.test(type)) return next()
    if (skipPrefixes.some((p) => c.req.path.startsWith(p))) return next()
    // A signed request (#5) is read as bytes, so its HMAC covers exactly what was sent; others as
    // text, which the validator then parses from Hono's cache without another copy.
    const depth = headerOf(c, 'x-signature') !== undefined ? jsonDepth(new Uint8Array(await c.req.arrayBuffer())) : jsonDepth(await c.req.text())
    if (depth > MAX_JSON_DEPTH) return depthProblem(c, depth)
    return next()
  }
}

export function depthProblem(c: Context, depth: number): Response {
  return problem(c, 'validation_failed', `The body is nested ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`, {
    errors: [{ pointer: '', message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` }],
  })
}
