/** @module security/api-key-secret: making and hashing API key secrets. */
import { createHash, randomBytes } from 'node:crypto'

const KEY_PREFIX = 'sbk_'

/** 32 random bytes: a key this long needs no slow hash, so lookups stay one indexed query. */
export function generateKeySecret(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url')
}

export function hashKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** A cheap shape check that refuses garbage before it reaches the database. */
export function looksLikeKeySecret(value: string): boolean {
  return value.length === KEY_PREFIX.length + 43 && value.startsWith(KEY_PREFIX) && /^[A-Za-z0-9_-]+$/.test(value.slice(KEY_PREFIX.length))
}
