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

/**
 * JSON with every object's keys sorted (undefined members left out), so the same request hashes
 * the same whatever its key order. Written as string appends over sorted keys: a 10,000-item
 * bulk body (a job's chunk is hashed too) allocated an entries array, a filtered copy and a
 * mapped copy per item before.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    let out = '['
    // As Array.prototype.join: an undefined element (JSON.stringify gives undefined) leaves an empty slot.
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + (canonicalJson(value[i]) ?? '')
    return out + ']'
  }
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>
    // Array.prototype.sort's default order (UTF-16 code units) is that of `<` on strings.
    const keys = Object.keys(o).sort()
    let out = '{'
    let first = true
    for (const k of keys) {
      const v = o[k]
      if (v === undefined) continue
      out += (first ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v)
      first = false
    }
    return out + '}'
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
