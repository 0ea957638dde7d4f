/** @module store/idempotency-repo: the first result of each idempotent request, kept to answer repeats. */
import type { Executor } from './db.js'

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
