/** @module store/api-key-repo: API keys, stored only as hashes (plus the sealed signing secret). */
import type { ApiKey, Scope } from '../domain/api-key.js'
import type { Executor } from './db.js'

/** PostgreSQL: notified by a trigger whenever a key changes in a way that can refuse it (migration 0014). */
export const API_KEY_CHANNEL = 'stockbridge_api_keys'

interface ApiKeyRow {
  id: string
  name: string
  key_hash: string
  key_prefix: string
  scopes: string
  created_at: number | string
  revoked_at: number | string | null
  last_used_at: number | string | null
  warehouses: string | null
  expires_at: number | string | null
  require_signature: number
  signing_secret: string | null
  rotated_from: string | null
}

/** A key with its sealed signing secret, for the verifier only; listings never carry it. */
export interface StoredApiKey {
  readonly key: ApiKey
  readonly sealedSigningSecret: string | null
}

const nullableNumber = (v: number | string | null) => (v === null ? null : Number(v))

function toApiKey(r: ApiKeyRow): ApiKey {
  return {
    id: r.id,
    name: r.name,
    prefix: r.key_prefix,
    scopes: r.scopes.split(',').filter(Boolean) as Scope[],
    warehouses: r.warehouses === null ? null : r.warehouses.split(',').filter(Boolean).map(Number),
    requireSignature: Number(r.require_signature) === 1,
    expiresAt: nullableNumber(r.expires_at),
    rotatedFrom: r.rotated_from,
    createdAt: Number(r.created_at),
    revokedAt: nullableNumber(r.revoked_at),
    lastUsedAt: nullableNumber(r.last_used_at),
  }
}

export async function insertApiKey(ex: Executor, k: ApiKey, keyHash: string, sealedSigningSecret: string): Promise<void> {
  await ex
    .insertInto('api_key')
    .values({
      id: k.id,
      name: k.name,
      key_hash: keyHash,
      key_prefix: k.prefix,
      scopes: k.scopes.join(','),
      created_at: k.createdAt,
      revoked_at: null,
      last_used_at: null,
      warehouses: k.warehouses === null ? null : k.warehouses.join(','),
      expires_at: k.expiresAt,
      require_signature: k.requireSignature ? 1 : 0,
      signing_secret: sealedSigningSecret,
      rotated_from: k.rotatedFrom,
    })
    .execute()
}

export async function findApiKeyByHash(ex: Executor, keyHash: string): Promise<StoredApiKey | undefined> {
  const row = await ex.selectFrom('api_key').selectAll().where('key_hash', '=', keyHash).executeTakeFirst()
  return row ? { key: toApiKey(row), sealedSigningSecret: row.signing_secret } : undefined
}

export async function findApiKey(ex: Executor, id: string): Promise<ApiKey | undefined> {
  const row = await ex.selectFrom('api_key').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toApiKey(row) : undefined
}

export async function listApiKeys(ex: Executor): Promise<ApiKey[]> {
  const rows = await ex.selectFrom('api_key').selectAll().orderBy('created_at').orderBy('id').execute()
  return rows.map(toApiKey)
}

export async function revokeApiKey(ex: Executor, id: string, now: number): Promise<boolean> {
  const res = await ex.updateTable('api_key').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** Bring a key's expiry forward (never later than it already is). */
export async function expireApiKeyBy(ex: Executor, id: string, at: number): Promise<void> {
  await ex
    .updateTable('api_key')
    .set({ expires_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .execute()
}

/** Record a use; a first admin key's kept secret is dropped at its first use. */
export async function touchApiKey(ex: Executor, id: string, now: number): Promise<void> {
  await ex.updateTable('api_key').set({ last_used_at: now }).where('id', '=', id).execute()
  await deletePendingFirstKey(ex, id)
}

export async function countApiKeys(ex: Executor): Promise<number> {
  const row = await ex.selectFrom('api_key').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Keep the first admin key's sealed secret until the key is first used (see service/api-keys). */
export async function insertPendingFirstKey(ex: Executor, keyId: string, sealedSecret: string, now: number): Promise<void> {
  await ex.insertInto('pending_first_key').values({ key_id: keyId, sealed_secret: sealedSecret, created_at: now }).execute()
}

export async function listPendingFirstKeys(ex: Executor): Promise<Array<{ keyId: string; sealedSecret: string }>> {
  const rows = await ex.selectFrom('pending_first_key').select(['key_id', 'sealed_secret']).orderBy('created_at').execute()
  return rows.map((r) => ({ keyId: r.key_id, sealedSecret: r.sealed_secret }))
}

export async function deletePendingFirstKey(ex: Executor, keyId: string): Promise<void> {
  await ex.deleteFrom('pending_first_key').where('key_id', '=', keyId).execute()
}
