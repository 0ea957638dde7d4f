/**
 * @module security/request-signature: signed requests (the seed's scheme, made replay-safe).
 *
 *   X-Signature = hex( HMAC-SHA256( signing_secret, METHOD + PATH + TIMESTAMP + NONCE + BODY ) )
 *
 * METHOD upper case; PATH the path and query string exactly as in the request line (e.g.
 * `/inventory/v1/stock?skus=A,B`); TIMESTAMP the X-Timestamp header (unix seconds, decimal);
 * NONCE the X-Nonce header; BODY the raw body bytes (empty for GET). Plain concatenation, no
 * separators, as the seed had it: TIMESTAMP is always 10 digits within the window and the nonce
 * alphabet excludes `{` and `[`, so a JSON body cannot shift the boundaries.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { equalsConstantTime } from './constant-time.js'

/** How far X-Timestamp may be from the server's clock, either way (the seed's five minutes). */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300
/** 16 to 128 characters of the URL-safe base64 alphabet: a UUID or 16+ random bytes encoded fits. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/
const TIMESTAMP_PATTERN = /^\d{1,12}$/
const SIGNATURE_PATTERN = /^[0-9a-fA-F]{64}$/

export function generateSigningSecret(): string {
  return `sbs_${randomBytes(32).toString('base64url')}`
}

export interface SignedParts {
  readonly method: string
  /** Path plus query string, as sent. */
  readonly path: string
  readonly timestamp: string
  readonly nonce: string
  readonly body: Uint8Array | string
}

/** The hex HMAC a client sends in X-Signature. */
export function signRequest(secret: string, p: SignedParts): string {
  return createHmac('sha256', secret).update(p.method.toUpperCase()).update(p.path).update(p.timestamp).update(p.nonce).update(p.body).digest('hex')
}

export type SignatureCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'timestamp' | 'nonce' | 'signature'; readonly detail: string }

/** Check the headers' shapes and the window, then the HMAC (constant time). The nonce's freshness is the caller's next step. */
export function checkRequestSignature(secret: string, p: SignedParts, signature: string, nowMs: number, toleranceSeconds = DEFAULT_SIGNATURE_TOLERANCE_SECONDS): SignatureCheck {
  if (!TIMESTAMP_PATTERN.test(p.timestamp)) return { ok: false, reason: 'timestamp', detail: 'X-Timestamp must be unix seconds (digits only)' }
  const skew = Math.abs(nowMs / 1000 - Number(p.timestamp))
  if (skew > toleranceSeconds) return { ok: false, reason: 'timestamp', detail: `X-Timestamp is ${Math.round(skew)} s from the server's clock; at most ${toleranceSeconds} s is accepted` }
  if (!NONCE_PATTERN.test(p.nonce)) return { ok: false, reason: 'nonce', detail: 'X-Nonce must be 16 to 128 characters of A-Z a-z 0-9 _ -' }
  if (!SIGNATURE_PATTERN.test(signature)) return { ok: false, reason: 'signature', detail: 'X-Signature must be 64 hex characters (HMAC-SHA256)' }
  if (!equalsConstantTime(Buffer.from(signature.toLowerCase(), 'hex'), Buffer.from(signRequest(secret, p), 'hex'))) {
    return { ok: false, reason: 'signature', detail: 'X-Signature does not match METHOD + PATH + TIMESTAMP + NONCE + BODY under this key\u2019s signing secret' }
  }
  return { ok: true }
}

/** Until when a nonce must be remembered: as long as its timestamp could still be accepted. */
export function nonceExpiry(timestamp: string, toleranceSeconds = DEFAULT_SIGNATURE_TOLERANCE_SECONDS): number {
  return (Number(timestamp) + toleranceSeconds + 1) * 1000
}
