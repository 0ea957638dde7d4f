/** @module service/transaction: one transaction per use-case, retried when the database asks for it. */
import type { Transaction } from 'kysely'
import type { Database } from '../store/schema.js'
import type { ServiceDeps } from './deps.js'

// PostgreSQL serialization_failure and deadlock_detected: the transaction did nothing and may be
// run again. SQLite serialises writers through one connection and never raises these.
const RETRYABLE_CODES = new Set(['40001', '40P01'])
const MAX_ATTEMPTS = 5

function isRetryable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && RETRYABLE_CODES.has(String((e as { code?: unknown }).code))
}

/** Run `work` in a transaction; bounded retries with jitter on serialization failures and deadlocks. */
export async function inTransaction<T>(deps: ServiceDeps, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.store.db.transaction().execute(work)
    } catch (e) {
      if (!isRetryable(e) || attempt >= MAX_ATTEMPTS) throw e
      deps.log.debug({ attempt, code: (e as { code?: unknown }).code }, 'retrying transaction')
      await new Promise((r) => setTimeout(r, Math.random() * 5 * 2 ** attempt))
    }
  }
}
