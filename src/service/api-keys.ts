/** @module service/api-keys: creating, rotating, listing, revoking and checking API keys. */
import { DomainError, invalid } from '../domain/errors.js'
import { isKeyActive, type ApiKey, type Scope } from '../domain/api-key.js'
import * as repo from '../store/api-key-repo.js'
import { findWarehouse } from '../store/warehouse-repo.js'
import { generateKeySecret, hashKeySecret, looksLikeKeySecret } from '../security/api-key-secret.js'
import { generateSigningSecret } from '../security/request-signature.js'
import { openSecret, sealSecret } from '../security/secret-box.js'
import type { ServiceDeps } from './deps.js'

export interface CreatedApiKey {
  readonly apiKey: ApiKey
  /** The secret itself: shown once, never stored. */
  readonly secret: string
  /** The HMAC secret for signed requests: shown once; stored sealed (see security/secret-box). */
  readonly signingSecret: string
}

export interface ApiKeyOptions {
  /** Warehouses the key may move stock in; null or absent: all. */
  readonly warehouses?: ReadonlyArray<number> | null
  readonly requireSignature?: boolean
  /** Lifetime from now; null or absent: no expiry. */
  readonly expiresInMs?: number | null
  /** KEY_ENCRYPTION_KEY, to seal the signing secret at rest. */
  readonly sealKey?: Buffer | null
}

async function assertWarehousesExist(deps: ServiceDeps, ids: ReadonlyArray<number>): Promise<void> {
  for (const id of ids) {
    if (!(await findWarehouse(deps.store.db, id))) throw new DomainError('warehouse_not_found', `No warehouse has id ${id}`, { warehouse_id: id })
  }
}

async function insertNewKey(deps: ServiceDeps, name: string, scopes: ReadonlyArray<Scope>, opts: ApiKeyOptions, rotatedFrom: string | null): Promise<CreatedApiKey> {
  const warehouses = opts.warehouses && opts.warehouses.length > 0 ? [...new Set(opts.warehouses)].sort((a, b) => a - b) : null
  if (warehouses) await assertWarehousesExist(deps, warehouses)
  const secret = generateKeySecret()
  const signingSecret = generateSigningSecret()
  const now = deps.clock.now()
  const apiKey: ApiKey = {
    id: deps.ids.next('key'),
    name,
    prefix: secret.slice(0, 10),
    scopes: [...scopes],
    warehouses,
    requireSignature: opts.requireSignature ?? false,
    expiresAt: opts.expiresInMs ? now + opts.expiresInMs : null,
    rotatedFrom,
    createdAt: now,
    revokedAt: null,
    lastUsedAt: null,
  }
  await repo.insertApiKey(deps.store.db, apiKey, hashKeySecret(secret), sealSecret(signingSecret, opts.sealKey ?? null))
  return { apiKey, secret, signingSecret }
}

/**
 * Make a key.
 * @example createApiKey(deps, 'warehouse A', ['read', 'write'], { warehouses: [1], requireSignature: true, expiresInMs: 90 * 86_400_000 })
 */
export function createApiKey(deps: ServiceDeps, name: string, scopes: ReadonlyArray<Scope>, opts: ApiKeyOptions = {}): Promise<CreatedApiKey> {
  return insertNewKey(deps, name, scopes, opts, null)
}

/**
 * Rotation: a new key with the old one's name, scopes, warehouses and signature rule, while the
 * old key keeps working until it is revoked, or until `expireOldInMs` from now when given, so
 * clients can move over without a gap.
 */
export async function rotateApiKey(deps: ServiceDeps, id: string, opts: ApiKeyOptions & { readonly expireOldInMs?: number | null } = {}): Promise<CreatedApiKey> {
  const old = await repo.findApiKey(deps.store.db, id)
  if (!old) throw new DomainError('api_key_not_found', `No API key has id ${id}`, { key_id: id })
  if (!isKeyActive(old, deps.clock.now())) throw invalid('/id', `key ${id} is revoked or expired; create a new key instead of rotating it`)
  const created = await insertNewKey(
    deps,
    old.name,
    old.scopes,
    { warehouses: old.warehouses, requireSignature: old.requireSignature, expiresInMs: opts.expiresInMs ?? null, sealKey: opts.sealKey ?? null },
    old.id,
  )
  if (opts.expireOldInMs) await repo.expireApiKeyBy(deps.store.db, old.id, deps.clock.now() + opts.expireOldInMs)
  return created
}

/** The command that makes a new admin key, for hints when the first one is lost. */
export const ADMIN_KEY_COMMAND = 'npm run cli -- keys create --name admin --scopes admin'

/**
 * The first start's admin key. Its secret is also kept (sealed with KEY_ENCRYPTION_KEY when set)
 * until the key is first used, so a start that fails or whose output scrolled away does not lose
 * it: each start shows it again (firstKeyToShow) until then.
 */
export async function createFirstAdminKey(deps: ServiceDeps, sealKey: Buffer | null): Promise<CreatedApiKey> {
  const created = await createApiKey(deps, 'admin (first start)', ['admin'], { sealKey })
  await repo.insertPendingFirstKey(deps.store.db, created.apiKey.id, sealSecret(created.secret, sealKey), deps.clock.now())
  return created
}

/**
 * The kept first admin key when it has never been used and still works; a used, revoked or
 * expired one's kept secret is deleted instead. Null when there is none to show.
 */
export async function firstKeyToShow(deps: ServiceDeps, sealKey: Buffer | null): Promise<{ apiKey: ApiKey; secret: string } | null> {
  let shown: { apiKey: ApiKey; secret: string } | null = null
  for (const p of await repo.listPendingFirstKeys(deps.store.db)) {
    const k = await repo.findApiKey(deps.store.db, p.keyId)
    if (!k || k.lastUsedAt !== null || !isKeyActive(k, deps.clock.now())) {
      await repo.deletePendingFirstKey(deps.store.db, p.keyId)
      continue
    }
    try {
      shown ??= { apiKey: k, secret: openSecret(p.sealedSecret, sealKey) }
    } catch (e) {
      deps.log.warn({ err: e, key_id: k.id }, 'cannot open the kept first admin key (KEY_ENCRYPTION_KEY changed?)')
    }
  }
  return shown
}

export function listApiKeys(deps: ServiceDeps): Promise<ApiKey[]> {
  return repo.listApiKeys(deps.store.db)
}

export async function revokeApiKey(deps: ServiceDeps, id: string): Promise<void> {
  if (await repo.revokeApiKey(deps.store.db, id, deps.clock.now())) return
  // Revoking twice is harmless; revoking a key that never existed is a mistake worth reporting.
  if (!(await repo.findApiKey(deps.store.db, id))) {
    throw new DomainError('api_key_not_found', `No API key has id ${id}`, { key_id: id })
  }
}

/** A presented key that checked out, with what signed requests need. */
export interface VerifiedApiKey {
  readonly key: ApiKey
  /** The signing secret, or null when it cannot be read (a key from before #5, or a missing KEY_ENCRYPTION_KEY). */
  readonly signingSecret: string | null
}

/**
 * Verifies presented secrets, caching answers so a busy client costs no query per request.
 *
 * Every change that can refuse a key (revocation, a rotation's early expiry, deletion) drops the
 * cached answers on every node at once (migration 0014): on SQLite the key change count in the
 * file is read (a few microseconds) before a cached answer is trusted, so the next request after
 * the change's commit, on any process, sees it; on PostgreSQL the change's NOTIFY calls
 * `invalidate()` through the node's listener (server.ts), within a round trip of the commit. The
 * TTL stays as a safety net for notifications lost while the listener reconnects. Expiry is
 * checked on every call against the clock, so a cached key still stops at its expiry.
 */
export class ApiKeyVerifier {
  readonly #deps: ServiceDeps
  readonly #ttlMs: number
  readonly #sealKey: Buffer | null
  readonly #cache = new Map<string, { found: VerifiedApiKey | null; until: number }>()
  readonly #touched = new Map<string, number>()
  /** Moves on every invalidation: an answer read from before one is not kept. */
  #generation = 0
  /** SQLite: the key change count the cached answers were read under. */
  #revision: number | null = null

  constructor(deps: ServiceDeps, ttlMs = 2000, sealKey: Buffer | null = null) {
    this.#deps = deps
    this.#ttlMs = ttlMs
    this.#sealKey = sealKey
  }

  /** The key behind a presented secret when it exists, is not revoked and has not expired. */
  async verify(secret: string): Promise<ApiKey | null> {
    return (await this.verifyWithSecret(secret))?.key ?? null
  }

  async verifyWithSecret(secret: string): Promise<VerifiedApiKey | null> {
    if (!looksLikeKeySecret(secret)) return null
    const hash = hashKeySecret(secret)
    const now = this.#deps.clock.now()
    const trusted = this.#cacheIsCurrent()
    const cached = trusted ? this.#cache.get(hash) : undefined
    let found = cached && cached.until > now ? cached.found : undefined
    if (found === undefined) {
      const generation = this.#generation
      const stored = await repo.findApiKeyByHash(this.#deps.store.db, hash)
      found = stored ? { key: stored.key, signingSecret: this.#open(stored) } : null
      if (trusted && generation === this.#generation) {
        if (this.#cache.size > 10_000) this.#cache.clear()
        this.#cache.set(hash, { found, until: now + this.#ttlMs })
      }
    }
    if (found === null || !isKeyActive(found.key, now)) return null
    this.#noteUse(found.key.id, now)
    return found
  }

  /** Forget cached answers: a key changed (this node's admin UI, or another node's NOTIFY). */
  invalidate(): void {
    this.#generation++
    this.#cache.clear()
  }

  /** SQLite: whether the cache may be used now, after dropping it if a key changed since it was filled. */
  #cacheIsCurrent(): boolean {
    const read = this.#deps.store.apiKeyRevision
    if (!read) return true
    const revision = read()
    if (revision === null) return false
    if (revision !== this.#revision) {
      this.invalidate()
      this.#revision = revision
    }
    return true
  }

  #open(stored: repo.StoredApiKey): string | null {
    if (stored.sealedSigningSecret === null) return null
    try {
      return openSecret(stored.sealedSigningSecret, this.#sealKey)
    } catch (e) {
      this.#deps.log.error({ err: e, key_id: stored.key.id }, 'cannot open the signing secret of an API key; signed requests with it will be refused')
      return null
    }
  }

  // last_used_at is written at most once a minute per key: it is for operators, not accounting.
  #noteUse(id: string, now: number): void {
    const last = this.#touched.get(id) ?? 0
    if (now - last < 60_000) return
    this.#touched.set(id, now)
    repo.touchApiKey(this.#deps.store.db, id, now).catch((e: unknown) => this.#deps.log.warn({ err: e, key_id: id }, 'could not record key use'))
  }
}
