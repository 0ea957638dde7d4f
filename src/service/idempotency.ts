/** @module service/idempotency: a repeated request returns its first result and changes nothing. */
import { idempotentReplaysTotal } from '../observability/metrics.js'
import { createHash } from 'node:crypto'
import type { Transaction } from 'kysely'
import { DomainError } from '../domain/errors.js'
import type { Database } from '../store/schema.js'
import { findIdempotencyRecord, insertIdempotencyRecord, lockIdempotencyKey } from '../store/idempotency-repo.js'
import { isUniqueViolation } from '../store/errors.js'
import type { ServiceDeps } from './deps.js'
import { inTransaction } from './transaction.js'

export interface IdempotencyClaim {
  /** Keys live in a scope: the caller's key id for Idempotency-Key headers, `ref` for natural keys. */
  readonly scope: string
  readonly key: string
  /** Hash of what was asked; the same key with another request is refused. */
  readonly requestHash: string
}

export interface Replayable<T> {
  readonly value: T
  /** True when this is the stored answer to an earlier identical request. */
  readonly replayed: boolean
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** Hash of an operation and its input, independent of key order. */
export function hashRequest(operation: string, input: unknown): string {
  return createHash('sha256').update(operation).update('\u0000').update(canonicalJson(input)).digest('hex')
}

function replay<T>(claim: IdempotencyClaim, stored: { requestHash: string; response: string }): Replayable<T> {
  if (stored.requestHash !== claim.requestHash) {
    throw new DomainError('idempotency_key_reused', 'This idempotency key was already used with a different request', {
      idempotency_key: claim.key.slice(0, 200),
    })
  }
  return { value: JSON.parse(stored.response) as T, replayed: true }
}

/**
 * Run `work` in a transaction that also records its result under the claim. Only successful
 * results are recorded: a refused request (say, insufficient stock) may be retried with its key.
 */
export async function runIdempotent<T>(
  deps: ServiceDeps,
  claim: IdempotencyClaim | null,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<Replayable<T>> {
  if (claim === null) {
    const value = await inTransaction(deps, work)
    deps.events.notify()
    return { value, replayed: false }
  }
  try {
    const result = await inTransaction(deps, async (trx) => {
      await lockIdempotencyKey(trx, deps.store.caps, claim.scope, claim.key)
      const stored = await findIdempotencyRecord(trx, claim.scope, claim.key)
      if (stored) return replay<T>(claim, stored)
      const value = await work(trx)
      await insertIdempotencyRecord(trx, claim.scope, claim.key, claim.requestHash, JSON.stringify(value), deps.clock.now())
      return { value, replayed: false }
    })
    if (!result.replayed) deps.events.notify()
    else idempotentReplaysTotal.inc()
    return result
  } catch (e) {
    // A twin request committed first (PostgreSQL: our insert waited for it, then collided).
    if (!isUniqueViolation(e)) throw e
    const stored = await findIdempotencyRecord(deps.store.db, claim.scope, claim.key)
    if (!stored) throw e
    idempotentReplaysTotal.inc()
    return replay<T>(claim, stored)
  }
}
