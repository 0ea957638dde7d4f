/** @module store/errors: driver errors, classified once. */

const UNIQUE_VIOLATION_CODES = new Set([
  '23505', // PostgreSQL unique_violation
  'SQLITE_CONSTRAINT_UNIQUE',
  'SQLITE_CONSTRAINT_PRIMARYKEY',
])

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', 'SQLITE_BUSY'])

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

/** The database is unreachable or too busy: worth a 503 and a retry, not a 500. */
export function isUnavailable(e: unknown): boolean {
  const code = codeOf(e)
  if (code !== undefined && CONNECTION_ERROR_CODES.has(code)) return true
  return e instanceof Error && /Connection terminated|connect ECONNREFUSED|database is locked/i.test(e.message)
}
