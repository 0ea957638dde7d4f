/** @module store/errors: driver errors, classified once, by table. */

const UNIQUE_VIOLATION_CODES = new Set([
  '23505', // PostgreSQL unique_violation
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
])

/**
 * The transaction was rolled back by the database to break a conflict and did nothing, so it may
 * simply run again: PostgreSQL serialization_failure and deadlock_detected. SQLite serialises
 * writers through one connection and never raises these.
 */
const RETRYABLE_TRANSACTION_CODES = new Set(['40001', '40P01'])

/** The database cannot be reached, or cannot take the work right now: a 503 and a retry, not a 500. */
const UNAVAILABLE_CODES = new Set([
  // Node sockets: nothing listening, connection cut, network gone, name not resolvable.
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // PostgreSQL: admin_shutdown (pg_terminate_backend, fast shutdown), crash_shutdown,
  // cannot_connect_now (starting up or in recovery), idle_session_timeout.
  '57P01',
  '57P02',
  '57P03',
  '57P05',
  // query_canceled: our statement_timeout fired; lock_not_available: lock_timeout fired.
  '57014',
  '55P03',
  // too_many_connections (the server's max_connections, not our pool).
  '53300',
  // Still failing after the bounded retries of service/transaction.ts: the database is too busy.
  ...RETRYABLE_TRANSACTION_CODES,
  // SQLite: another process holds the write lock past busy_timeout.
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
])

/** PostgreSQL SQLSTATE classes that are wholly about availability: 08 connection_exception. */
const UNAVAILABLE_CLASSES = ['08']

/**
 * node-postgres raises these without a code: its pool's connect timeout, a connection that died
 * under a query, a client used after its connection failed.
 */
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|not queryable|connect ECONNREFUSED|database is locked/i

/** An error and every error inside it (`cause` chains, AggregateError from dual-stack connects). */
function* causes(e: unknown, depth = 0): Generator<unknown> {
  if (depth > 5 || e === null || e === undefined) return
  yield e
  if (typeof e !== 'object') return
  if (e instanceof AggregateError) for (const inner of e.errors) yield* causes(inner, depth + 1)
  if ('cause' in e) yield* causes((e as { cause: unknown }).cause, depth + 1)
}

function codeOf(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = (e as { code: unknown }).code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}

export function isUniqueViolation(e: unknown): boolean {
  const code = codeOf(e)
  return code !== undefined && UNIQUE_VIOLATION_CODES.has(code)
}

/** The database rolled the transaction back to resolve a conflict; running it again is safe. */
export function isRetryableTransactionError(e: unknown): boolean {
  const code = codeOf(e)
  return code !== undefined && RETRYABLE_TRANSACTION_CODES.has(code)
}

/** The database is unreachable or too busy: worth a 503 and a retry, not a 500. */
export function isUnavailable(e: unknown): boolean {
  for (const c of causes(e)) {
    const code = codeOf(c)
    if (code !== undefined && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_CLASSES.some((k) => code.startsWith(k)))) return true
    if (c instanceof Error && UNAVAILABLE_MESSAGES.test(c.message)) return true
  }
  return false
}
