/**
 * @module http/middleware/hmac: signed requests (#5). With X-Timestamp, X-Nonce and X-Signature
 * the request must be signed with the key's signing secret over METHOD + PATH + TIMESTAMP + NONCE
 * + BODY (security/request-signature.ts has the exact scheme); a key created with
 * `--require-signature` must always sign. Order of checks: header shapes and the ±300 s window
 * (cheap), the HMAC in constant time, and only then the nonce, so unsigned junk never fills the
 * nonce store.
 */
import type { Context } from 'hono'
import type { ApiKey } from '../../domain/api-key.js'
import type { NonceStore } from '../../security/nonce-store.js'
import { checkRequestSignature, nonceExpiry } from '../../security/request-signature.js'
import type { Logger } from '../../service/deps.js'
import type { AppEnv } from '../env.js'
import { problem } from '../problem.js'
import { headerOf } from '../request-context.js'

export const SIGNATURE_CHALLENGE = 'ApiKey header="X-API-Key", Signature headers="X-Timestamp X-Nonce X-Signature"'

export interface SignatureOptions {
  readonly nonces: NonceStore
  readonly toleranceSeconds: number
  readonly now: () => number
  readonly log: Logger
}

/** The path and query string as sent, e.g. `/inventory/v1/stock?skus=A,B`. */
export function signedPathOf(c: Context): string {
  const u = new URL(c.req.url)
  return u.pathname + u.search
}

/**
 * Check a request's signature. Returns a refusal, or whether the request was signed (false when
 * it carries no signature headers and the key does not require them).
 */
export async function checkSignedRequest(c: Context<AppEnv>, key: ApiKey, signingSecret: string | null, o: SignatureOptions): Promise<Response | boolean> {
  const signature = headerOf(c, 'x-signature')
  const timestamp = headerOf(c, 'x-timestamp')
  const nonce = headerOf(c, 'x-nonce')
  const challenge = { 'www-authenticate': SIGNATURE_CHALLENGE }
  if (signature === undefined && timestamp === undefined && nonce === undefined) {
    if (!key.requireSignature) return false
    return problem(c, 'signature_required', 'This API key must sign its requests: send X-Timestamp, X-Nonce and X-Signature', {}, challenge)
  }
  const now = o.now()
  if (timestamp === undefined) return problem(c, 'invalid_timestamp', 'A signed request needs X-Timestamp (unix seconds)', { server_time: Math.floor(now / 1000) }, challenge)
  if (nonce === undefined) return problem(c, 'invalid_signature', 'A signed request needs X-Nonce', {}, challenge)
  if (signature === undefined) return problem(c, 'invalid_signature', 'A signed request needs X-Signature', {}, challenge)
  if (signingSecret === null) return problem(c, 'invalid_signature', 'This API key has no usable signing secret; rotate it to get one', {}, challenge)
  const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? new Uint8Array(0) : new Uint8Array(await c.req.arrayBuffer())
  const check = checkRequestSignature(signingSecret, { method: c.req.method, path: signedPathOf(c), timestamp, nonce, body }, signature, now, o.toleranceSeconds)
  if (!check.ok) {
    if (check.reason === 'timestamp') return problem(c, 'invalid_timestamp', check.detail, { server_time: Math.floor(now / 1000) }, challenge)
    return problem(c, 'invalid_signature', check.detail, {}, challenge)
  }
  let fresh: boolean
  try {
    fresh = await o.nonces.claim(key.id, nonce, nonceExpiry(timestamp, o.toleranceSeconds), now)
  } catch (e) {
    // Fail closed: without the nonce store a replay cannot be told from a fresh request.
    o.log.warn({ err: e, key_id: key.id }, 'nonce store unavailable; refusing a signed request')
    return problem(c, 'service_unavailable', 'Replay protection is unavailable; retry shortly with a new nonce', {}, { 'retry-after': '1' })
  }
  if (!fresh) return problem(c, 'nonce_reused', 'This X-Nonce was already used with this key; sign each request with a new nonce', {}, challenge)
  return true
}
