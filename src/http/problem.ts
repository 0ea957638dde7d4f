/**
 * @module http/problem: the one place errors become responses: RFC 9457 application/problem+json
 * with a stable `code`. Unknown errors become a bare 500 carrying only the request id.
 */
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { DomainError, ERROR_CATALOG, ValidationError, type ErrorCode, type FieldError } from '../domain/errors.js'
import { isUnavailable } from '../store/errors.js'
import type { Logger } from '../service/deps.js'

// A URN, not a URL: the type identifies the problem without promising a page behind it.
export const PROBLEM_TYPE_BASE = 'urn:stockbridge:problem:'

export function problemBody(c: Context, code: ErrorCode, detail: string, extensions: Readonly<Record<string, unknown>> = {}) {
  const { status, title } = ERROR_CATALOG[code]
  const body: Record<string, unknown> & { status: number } = {
    type: PROBLEM_TYPE_BASE + code.replaceAll('_', '-'),
    title,
    status,
    detail,
    instance: c.req.path,
    code,
    request_id: c.get('requestId') as string | undefined,
  }
  // Extensions add members; they never replace the standard ones (a detail named `code`, say).
  for (const [k, v] of Object.entries(extensions)) if (!(k in body)) body[k] = v
  return body
}

export function problem(c: Context, code: ErrorCode, detail: string, extensions: Readonly<Record<string, unknown>> = {}, headers: Record<string, string> = {}): Response {
  const body = problemBody(c, code, detail, extensions)
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  })
}

const HTTP_EXCEPTION_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'malformed_json',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'route_not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
}

/** Hono's onError: domain errors by their catalog entry, framework errors by status, the rest 500. */
export function errorHandler(log: Logger) {
  return function onError(err: Error, c: Context): Response {
    if (err instanceof ValidationError) return problem(c, err.code, err.message, { errors: err.errors })
    if (err instanceof DomainError) return problem(c, err.code, err.message, err.details)
    if (err instanceof HTTPException) {
      const code = HTTP_EXCEPTION_CODES[err.status]
      if (code) return problem(c, code, code === 'malformed_json' ? 'The request body is not valid JSON' : err.message || ERROR_CATALOG[code].title)
    }
    if (isUnavailable(err)) {
      log.warn({ err, request_id: c.get('requestId') }, 'database unavailable')
      return problem(c, 'service_unavailable', 'The database is unreachable; retry shortly', {}, { 'retry-after': '1' })
    }
    log.error({ err, request_id: c.get('requestId'), path: c.req.path }, 'unhandled error')
    return problem(c, 'internal_error', 'An unexpected error occurred; quote the request id when reporting it')
  }
}

/** Zod issues as JSON-pointer field errors (unknown keys point at the key itself). */
export function fieldErrorsOf(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string; keys?: ReadonlyArray<string> }>, prefix = ''): FieldError[] {
  const out: FieldError[] = []
  for (const issue of issues) {
    const base = prefix + issue.path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      for (const k of issue.keys) out.push({ pointer: `${base}/${k.slice(0, 60)}`, message: 'is not a known field' })
    } else {
      out.push({ pointer: base, message: issue.message })
    }
  }
  return out
}
