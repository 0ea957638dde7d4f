/** @module store/idempotency-repo: the first result of each idempotent request, kept to answer repeats. */
import { sql } from 'kysely'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'

export interface IdempotencyRecord {
  readonly requestHash: string
  readonly response: string
}

export async function findIdempotencyRecord(ex: Executor, scope: string, key: string): Promise<IdempotencyRecord | undefined> {
  const row = await ex
    .selectFrom('idempotency_record')
    .select(['request_hash', 'response'])
    .where('scope', '=', scope)
    .where('key', '=', key)
    .executeTakeFirst()
  return row ? { requestHash: row.request_hash, response: row.response } : undefined
}

/** Inserted in the same transaction as the change it records; a unique violation means a racing twin won. */
export async function insertIdempotencyRecord(ex: Executor, scope: string, key: string, requestHash: string, response: string, now: number): Promise<void> {
  await ex.insertInto('idempotency_record').values({ scope, key, request_hash: requestHash, response, created_at: now }).execute()
}

export async function deleteIdempotencyRecordsBefore(ex: Executor, cutoff: number): Promise<number> {
  const res = await ex.deleteFrom('idempotency_record').where('created_at', '<', cutoff).executeTakeFirst()
  return Number(res.numDeletedRows)
}

/**
 * Make twin requests with one key wait for each other (PostgreSQL: a transaction-scoped advisory
 * lock on the key's hash), so the second sees the first's committed result and replays it instead
 * of doing the work again. SQLite runs one writer at a time, so there is nothing to do.
 */
export async function lockIdempotencyKey(ex: Executor, caps: DialectCaps, scope: string, key: string): Promise<void> {
  if (caps.rowLocks) await sql`select pg_advisory_xact_lock(hashtextextended(${`${scope}|${key}`}, 0))`.execute(ex)
}
