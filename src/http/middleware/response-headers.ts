/**
 * @module http/middleware/response-headers: the request id and the security headers every answer
 * carries (Hono's secureHeaders defaults, with a CSP that also fits /docs).
 *
 * Written here rather than with Hono's requestId and secureHeaders because of where the headers
 * go: behind a real server they are set once on Node's response (node-server merges them into its
 * writeHead), not through WHATWG Headers on every answer, which profiling put at about a tenth of
 * a stock read. In-process requests (tests) get the same headers through Hono.
 */
import { ServerResponse } from 'node:http'
import type { HttpBindings } from '@hono/node-server'
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env.js'
import { headerOf } from '../request-context.js'

export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"],
  ['cross-origin-opener-policy', 'same-origin'],
  ['cross-origin-resource-policy', 'same-origin'],
  ['origin-agent-cluster', '?1'],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=15552000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-dns-prefetch-control', 'off'],
  ['x-download-options', 'noopen'],
  ['x-frame-options', 'SAMEORIGIN'],
  ['x-permitted-cross-domain-policies', 'none'],
  ['x-xss-protection', '0'],
]

/** A caller's X-Request-Id is echoed only when short and of safe characters; otherwise a new UUID. */
const SAFE_REQUEST_ID = /^[\w\-=]{1,100}$/

export function stampResponses(): MiddlewareHandler<AppEnv> {
  return async function responseHeaders(c, next) {
    const given = headerOf(c, 'x-request-id')
    const id = given !== undefined && SAFE_REQUEST_ID.test(given) ? given : crypto.randomUUID()
    c.set('requestId', id)
    const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing
    if (outgoing instanceof ServerResponse) {
      for (const [name, value] of SECURITY_HEADERS) outgoing.setHeader(name, value)
      outgoing.setHeader('x-request-id', id)
      return next()
    }
    await next()
    // Set after the handler, so answers it built itself (not through c) carry them too; a header
    // the handler chose (the admin UI's stricter CSP) wins, as it does behind a real server.
    for (const [name, value] of SECURITY_HEADERS) if (!c.res.headers.has(name)) c.res.headers.set(name, value)
    c.res.headers.set('x-request-id', id)
  }
}
