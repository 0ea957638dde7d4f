/** @module store/api-key-repo: API keys, stored only as hashes. */
import type { ApiKey, Scope } from '../domain/api-key.js'
import type { Executor } from './db.js'

interface ApiKeyRow {
  id: string
  name: string
  key_hash: string
  key_prefix: string
  scopes: string
  created_at: number | string
  revoked_at: number | string | null
  last_used_at: number | string | null
}

function toApiKey(r: ApiKeyRow): ApiKey {
  return {
    id: r.id,
    name: r.name,
    prefix: r.key_prefix,
    scopes: r.scopes.split(',').filter(Boolean) as Scope[],
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  }
}

export async function insertApiKey(ex: Executor, k: ApiKey, keyHash: string): Promise<void> {
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
    })
    .execute()
}

export async function findApiKeyByHash(ex: Executor, keyHash: string): Promise<ApiKey | undefined> {
  const row = await ex.selectFrom('api_key').selectAll().where('key_hash', '=', keyHash).executeTakeFirst()
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

export async function touchApiKey(ex: Executor, id: string, now: number): Promise<void> {
  await ex.updateTable('api_key').set({ last_used_at: now }).where('id', '=', id).execute()
}

export async function countApiKeys(ex: Executor): Promise<number> {
  const row = await ex.selectFrom('api_key').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}
