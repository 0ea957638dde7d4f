/** @module service/api-keys: creating, listing, revoking and checking API keys. */
import { DomainError } from '../domain/errors.js'
import type { ApiKey, Scope } from '../domain/api-key.js'
import * as repo from '../store/api-key-repo.js'
import { generateKeySecret, hashKeySecret, looksLikeKeySecret } from '../security/api-key-secret.js'
import type { ServiceDeps } from './deps.js'

export interface CreatedApiKey {
  readonly apiKey: ApiKey
  /** The secret itself: shown once, never stored. */
  readonly secret: string
}

export async function createApiKey(deps: ServiceDeps, name: string, scopes: ReadonlyArray<Scope>): Promise<CreatedApiKey> {
  const secret = generateKeySecret()
  const apiKey: ApiKey = {
    id: deps.ids.next('key'),
    name,
    prefix: secret.slice(0, 10),
    scopes: [...scopes],
    createdAt: deps.clock.now(),
    revokedAt: null,
    lastUsedAt: null,
  }
  await repo.insertApiKey(deps.store.db, apiKey, hashKeySecret(secret))
  return { apiKey, secret }
}

export function listApiKeys(deps: ServiceDeps): Promise<ApiKey[]> {
  return repo.listApiKeys(deps.store.db)
}

export async function revokeApiKey(deps: ServiceDeps, id: string): Promise<void> {
  if (await repo.revokeApiKey(deps.store.db, id, deps.clock.now())) return
  // Revoking twice is harmless; revoking a key that never existed is a mistake worth reporting.
  if (!(await repo.listApiKeys(deps.store.db)).some((k) => k.id === id)) {
    throw new DomainError('api_key_not_found', `No API key has id ${id}`, { key_id: id })
  }
}

/**
 * Verifies presented secrets, caching answers briefly so a busy client costs no query per
 * request. A revocation reaches every node within `ttlMs`; on the revoking node it is immediate.
 */
export class ApiKeyVerifier {
  readonly #deps: ServiceDeps
  readonly #ttlMs: number
  readonly #cache = new Map<string, { key: ApiKey | null; until: number }>()
  readonly #touched = new Map<string, number>()

  constructor(deps: ServiceDeps, ttlMs = 2000) {
    this.#deps = deps
    this.#ttlMs = ttlMs
  }

  async verify(secret: string): Promise<ApiKey | null> {
    if (!looksLikeKeySecret(secret)) return null
    const hash = hashKeySecret(secret)
    const now = this.#deps.clock.now()
    const cached = this.#cache.get(hash)
    let key = cached && cached.until > now ? cached.key : undefined
    if (key === undefined) {
      key = (await repo.findApiKeyByHash(this.#deps.store.db, hash)) ?? null
      if (this.#cache.size > 10_000) this.#cache.clear()
      this.#cache.set(hash, { key, until: now + this.#ttlMs })
    }
    if (key === null || key.revokedAt !== null) return null
    this.#noteUse(key.id, now)
    return key
  }

  /** Forget cached answers (after a revocation on this node). */
  invalidate(): void {
    this.#cache.clear()
  }

  // last_used_at is written at most once a minute per key: it is for operators, not accounting.
  #noteUse(id: string, now: number): void {
    const last = this.#touched.get(id) ?? 0
    if (now - last < 60_000) return
    this.#touched.set(id, now)
    repo.touchApiKey(this.#deps.store.db, id, now).catch((e: unknown) => this.#deps.log.warn({ err: e, key_id: id }, 'could not record key use'))
  }
}
