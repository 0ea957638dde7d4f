/** @module store/request-nonce-repo: nonces of signed requests, shared by every node on the database. */
import type { Executor } from './db.js'

/**
 * Remember a nonce; true when it is new. An expired row for the same nonce is taken over (the
 * conditional upsert), so pruning can lag without refusing a legitimately reused old nonce.
 */
export async function claimRequestNonce(ex: Executor, keyId: string, nonce: string, expiresAt: number, now: number): Promise<boolean> {
  const res = await ex
    .insertInto('request_nonce')
    .values({ key_id: keyId, nonce, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['key_id', 'nonce']).doUpdateSet({ expires_at: expiresAt }).where('request_nonce.expires_at', '<=', now))
    .executeTakeFirst()
  return Number(res.numInsertedOrUpdatedRows ?? 0) === 1
}

export async function pruneRequestNonces(ex: Executor, now: number): Promise<number> {
  const res = await ex.deleteFrom('request_nonce').where('expires_at', '<=', now).executeTakeFirst()
  return Number(res.numDeletedRows)
}
