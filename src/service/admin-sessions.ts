/**
 * @module service/admin-sessions: the admin UI's sessions (#16). An API key is exchanged once for
 * a random session token; the browser keeps only the token (an HttpOnly cookie), the database only
 * its SHA-256, so every node of a PostgreSQL deployment can serve every session and a logout or a
 * revoked key ends it everywhere at once.
 */
import { randomBytes } from 'node:crypto'
import { isKeyActive, type ApiKey } from '../domain/api-key.js'
import { hashKeySecret } from '../security/api-key-secret.js'
import * as repo from '../store/admin-repo.js'
import { findApiKey } from '../store/api-key-repo.js'
import type { ApiKeyVerifier } from './api-keys.js'
import type { ServiceDeps } from './deps.js'

export interface SessionPolicy {
  /** A session unused this long is over. */
  readonly idleMs: number
  /** A session is over this long after login, however busy. */
  readonly absoluteMs: number
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = Object.freeze({ idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 })

/** last_seen_at is written at most this often: a page load should not cost a write. */
const TOUCH_EVERY_MS = 60_000

export interface AdminSession {
  readonly key: ApiKey
  readonly csrfToken: string
  readonly expiresAt: number
}

export interface OpenedSession extends AdminSession {
  /** The cookie's value: shown to the browser once, stored only hashed. */
  readonly token: string
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

/** Exchange a presented API key for a new session; null when the key is unknown, revoked or expired. */
export async function openAdminSession(deps: ServiceDeps, verifier: ApiKeyVerifier, secret: string, policy = DEFAULT_SESSION_POLICY): Promise<OpenedSession | null> {
  const key = await verifier.verify(secret.trim())
  if (!key) return null
  const token = randomBytes(32).toString('base64url')
  const csrfToken = randomBytes(32).toString('base64url')
  const now = deps.clock.now()
  const expiresAt = key.expiresAt === null ? now + policy.absoluteMs : Math.min(key.expiresAt, now + policy.absoluteMs)
  await repo.insertAdminSession(deps.store.db, hashKeySecret(token), { keyId: key.id, csrfToken, createdAt: now, lastSeenAt: now, expiresAt })
  // Old sessions are swept on logins rather than by a timer: they are few and cheap to delete.
  await repo.pruneAdminSessions(deps.store.db, now, policy.idleMs)
  return { token, key, csrfToken, expiresAt }
}

/**
 * The session behind a cookie, when it is neither idle too long nor past its absolute expiry and
 * its key is still active (a key revoked after login ends its sessions on the next request).
 */
export async function resumeAdminSession(deps: ServiceDeps, token: string, policy = DEFAULT_SESSION_POLICY): Promise<AdminSession | null> {
  if (!TOKEN_SHAPE.test(token)) return null
  const idHash = hashKeySecret(token)
  const row = await repo.findAdminSession(deps.store.db, idHash)
  if (!row) return null
  const now = deps.clock.now()
  if (now >= row.expiresAt || now - row.lastSeenAt >= policy.idleMs) {
    await repo.deleteAdminSession(deps.store.db, idHash)
    return null
  }
  const key = await findApiKey(deps.store.db, row.keyId)
  if (!key || !isKeyActive(key, now)) {
    await repo.deleteAdminSession(deps.store.db, idHash)
    return null
  }
  if (now - row.lastSeenAt >= TOUCH_EVERY_MS) await repo.touchAdminSession(deps.store.db, idHash, now)
  return { key, csrfToken: row.csrfToken, expiresAt: row.expiresAt }
}

export async function closeAdminSession(deps: ServiceDeps, token: string): Promise<void> {
  if (TOKEN_SHAPE.test(token)) await repo.deleteAdminSession(deps.store.db, hashKeySecret(token))
}
