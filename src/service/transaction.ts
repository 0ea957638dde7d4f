/** @module service/transaction: one transaction per use-case, retried when the database asks for it. */
import type { Transaction } from 'kysely'
import { backoffMs, type BackoffPolicy } from '../domain/backoff.js'
import { isRetryableTransactionError } from '../store/errors.js'
import type { Database } from '../store/schema.js'
import type { ServiceDeps } from './deps.js'

/**
 * A deadlock or serialization failure means PostgreSQL rolled the transaction back and it did
 * nothing, so it runs again: at most this many attempts in all, then the error surfaces (the HTTP
 * layer answers it as 503 service_unavailable with Retry-After, see store/errors.ts).
 */
export const MAX_TRANSACTION_ATTEMPTS = 5

// Full jitter below 10, 20, 40, 80 ms: spread out enough that the two sides of a deadlock do not
// collide again in lockstep, short enough that four retries add well under a quarter second.
const RETRY_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 10, capMs: 100 })

/** Run `work` in a transaction; bounded retries with jittered backoff on serialization failures and deadlocks. */
export async function inTransaction<T>(deps: ServiceDeps, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.store.transact(work)
    } catch (e) {
      if (!isRetryableTransactionError(e)) throw e
      const code = (e as { code?: unknown }).code
      if (attempt >= MAX_TRANSACTION_ATTEMPTS) {
        deps.log.warn({ attempts: attempt, code }, 'transaction still conflicting after the last retry; giving up')
        throw e
      }
      deps.log.debug({ attempt, code }, 'retrying transaction')
      await new Promise((r) => setTimeout(r, backoffMs(attempt, Math.random, RETRY_BACKOFF)))
    }
  }
}
