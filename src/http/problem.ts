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
  return function onError(err: Error, c: Context): Response | Promise<Response> {
    if (err instanceof ValidationError) return problem(c, err.code, err.message, { errors: err.errors })
    if (err instanceof DomainError) return problem(c, err.code, err.message, err.details)
    if (err instanceof HTTPException) {
      const code = HTTP_EXCEPTION_CODES[err.status]
      if (code === 'malformed_json') return malformedJson(c)
      if (code === 'unsupported_media_type') {
        const sent = (c.req.header('content-type') ?? '').split(';')[0]!.trim().slice(0, 80)
        return problem(c, code, `The body must be sent as Content-Type: application/json${sent ? ` (this request sent ${sent})` : ' (this request sent none)'}`, { expected: 'application/json' }, { accept: 'application/json' })
      }
      if (code) return problem(c, code, err.message || ERROR_CATALOG[code].title)
    }
    if (isUnavailable(err)) {
      log.warn({ err, request_id: c.get('requestId') }, 'database unavailable')
      return problem(c, 'service_unavailable', 'The database is unreachable; retry shortly', {}, { 'retry-after': '1' })
    }
    log.error({ err, request_id: c.get('requestId'), path: c.req.path }, 'unhandled error')
    return problem(c, 'internal_error', 'An unexpected error occurred; quote the request id when reporting it')
  }
}

/**
 * Malformed JSON, with where it broke: the parser's own account (position, or "unexpected end"),
 * read again from the cached body only on this error path (#12).
 */
async function malformedJson(c: Context): Promise<Response> {
  let where = ''
  try {
    const text = await c.req.text()
    if (text.trim() === '') where = ': the body is empty'
    else JSON.parse(text)
  } catch (e) {
    if (e instanceof SyntaxError) where = `: ${e.message.replace(/^JSON\.parse: /, '').slice(0, 200)}`
  }
  return problem(c, 'malformed_json', `The request body is not valid JSON${where}`)
}

interface ZodIssueLike {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
  readonly code?: string
  readonly keys?: ReadonlyArray<string>
  readonly expected?: string
  readonly received?: string
  readonly origin?: string
  readonly minimum?: number | bigint
  readonly maximum?: number | bigint
  readonly inclusive?: boolean
  readonly values?: ReadonlyArray<unknown>
  readonly format?: string
}

const EXPECTED: Readonly<Record<string, string>> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
  bigint: 'a whole number',
}

/**
 * One message a person can act on, per issue (#12): "is required" rather than "expected number,
 * received undefined"; bounds in words. Messages the schemas and the domain wrote themselves
 * (custom refinements, regexes with a message) pass through unchanged.
 */
function messageOf(issue: ZodIssueLike): string {
  const n = (v: number | bigint | undefined) => String(v)
  switch (issue.code) {
    case 'invalid_type':
      if (/received undefined$/.test(issue.message)) return 'is required'
      if (issue.received === 'NaN' || /received NaN$/.test(issue.message)) return 'must be a number'
      return `must be ${EXPECTED[issue.expected ?? ''] ?? issue.expected ?? 'of another type'}`
    case 'too_small':
      if (issue.origin === 'string') return Number(issue.minimum) <= 1 ? 'must not be empty' : `must be at least ${n(issue.minimum)} characters long`
      if (issue.origin === 'array' || issue.origin === 'set') return `must hold at least ${n(issue.minimum)} item${Number(issue.minimum) === 1 ? '' : 's'}`
      return issue.inclusive === false ? `must be greater than ${n(issue.minimum)}` : `must be at least ${n(issue.minimum)}`
    case 'too_big':
      if (issue.origin === 'string') return `is too long: at most ${n(issue.maximum)} characters`
      if (issue.origin === 'array' || issue.origin === 'set') return `must hold at most ${n(issue.maximum)} items`
      return issue.inclusive === false ? `must be less than ${n(issue.maximum)}` : `must be at most ${n(issue.maximum)}`
    case 'invalid_value':
      return issue.values && issue.values.length > 0 ? `must be one of ${issue.values.map((v) => String(v)).join(', ')}` : issue.message
    case 'invalid_format':
      if (issue.format === 'datetime') return 'must be an ISO 8601 date and time with a time zone, such as 2026-11-25T10:00:00Z'
      return issue.message.startsWith('Invalid') ? `is not a valid ${issue.format ?? 'value'}` : issue.message
    default:
      return issue.message
  }
}

/** Zod issues as JSON-pointer field errors (unknown keys point at the key itself), one per field. */
export function fieldErrorsOf(issues: ReadonlyArray<ZodIssueLike>, prefix = ''): FieldError[] {
  const out: FieldError[] = []
  const seen = new Set<string>()
  const add = (pointer: string, message: string) => {
    // The first problem of a field is the one to fix; a second ("too small" after "not a whole number") is noise.
    if (seen.has(pointer)) return
    seen.add(pointer)
    out.push({ pointer, message })
  }
  for (const issue of issues) {
    const base = prefix + issue.path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      for (const k of issue.keys) add(`${base}/${k.slice(0, 60)}`, 'is not a known field')
    } else {
      add(base, messageOf(issue))
    }
  }
  return out
}
