/**
 * @module security/secret-box: sealing secrets the server must read back (per-key signing secrets).
 * With KEY_ENCRYPTION_KEY set they are stored as AES-256-GCM ciphertext; without it, in the clear
 * (prefixed `plain:`), which the README says plainly. API keys themselves are never stored at all,
 * only their SHA-256 hashes.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const PLAIN = 'plain:'
const SEALED = 'aesgcm:'

/** A 32-byte key from 64 hex characters or 43/44 base64(url) characters; null when absent. */
export function parseSealKey(value: string | undefined | null): Buffer | null {
  if (value === undefined || value === null || value === '') return null
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64')
  if (key.length !== 32) throw new Error('KEY_ENCRYPTION_KEY must be 32 bytes, as 64 hex or 44 base64 characters')
  return key
}

export function sealSecret(secret: string, key: Buffer | null): string {
  if (key === null) return PLAIN + secret
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
  return SEALED + [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.')
}

export class SealedSecretError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SealedSecretError'
  }
}

/** The secret back, or a SealedSecretError when it is sealed and the key is missing or wrong. */
export function openSecret(sealed: string, key: Buffer | null): string {
  if (sealed.startsWith(PLAIN)) return sealed.slice(PLAIN.length)
  if (!sealed.startsWith(SEALED)) throw new SealedSecretError('Unknown sealed-secret format')
  if (key === null) throw new SealedSecretError('The secret is encrypted but KEY_ENCRYPTION_KEY is not set')
  const [iv, tag, body] = sealed.slice(SEALED.length).split('.').map((p) => Buffer.from(p, 'base64url'))
  if (!iv || !tag || !body) throw new SealedSecretError('Malformed sealed secret')
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv)
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')
  } catch (e) {
    throw new SealedSecretError('The secret cannot be decrypted with this KEY_ENCRYPTION_KEY', { cause: e })
  }
}
