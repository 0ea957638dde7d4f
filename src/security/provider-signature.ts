/**
 * @module security/provider-signature: verifying inbound webhooks from supply-side providers
 * (`POST /inventory/v1/webhook/{provider}`): HMAC-SHA256 over the raw body bytes, sent in a
 * per-provider header, hex or base64. Verified before the body is parsed at all (Stripe's rule).
 */
import { createHmac } from 'node:crypto'
import { equalsConstantTime } from './constant-time.js'

export type SignatureEncoding = 'hex' | 'base64'

export interface WebhookProvider {
  readonly name: string
  readonly secret: string
  /** Header carrying the signature (case-insensitive). */
  readonly header: string
  readonly encoding: SignatureEncoding
  /** A literal before the signature, e.g. `sha256=` (GitHub style); empty for none. */
  readonly prefix: string
  /** Warehouses this provider may move stock in; null: all. */
  readonly warehouses: ReadonlyArray<number> | null
  /** JSONata mapping (#14); absent: the preset's, by `preset` or else by the provider's own name. */
  readonly mapping?: string | undefined
  readonly preset?: string | undefined
  /** reject | create | hold (#14); absent: reject. */
  readonly unknownSku?: string | undefined
}

/** The seed's providers; the seed sent `X-Webhook-Signature` as hex for every one of them. */
export const SEED_PROVIDER_DEFAULTS: Readonly<Record<string, { header: string; encoding: SignatureEncoding }>> = Object.freeze({
  warehouse_system_a: { header: 'X-Webhook-Signature', encoding: 'hex' },
  erp_system_b: { header: 'X-Webhook-Signature', encoding: 'hex' },
  supplier_portal_c: { header: 'X-Webhook-Signature', encoding: 'hex' },
})

export function signProviderBody(secret: string, body: Uint8Array | string, encoding: SignatureEncoding): string {
  return createHmac('sha256', secret).update(body).digest(encoding)
}

/** Decode strictly: only the configured encoding in its canonical form; anything else is no signature. */
function decodeSignature(value: string, encoding: SignatureEncoding): Buffer | null {
  if (encoding === 'hex') return /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : null
  if (!/^[A-Za-z0-9+/]{43}=$/.test(value)) return null
  const bytes = Buffer.from(value, 'base64')
  return bytes.length === 32 && bytes.toString('base64') === value ? bytes : null
}

export type ProviderCheck = 'ok' | 'missing' | 'malformed' | 'mismatch'

export type SignatureRule = Pick<WebhookProvider, 'secret' | 'header' | 'encoding' | 'prefix'>

export function verifyProviderSignature(provider: SignatureRule, rawBody: Uint8Array, headerValue: string | undefined): ProviderCheck {
  if (headerValue === undefined || headerValue === '') return 'missing'
  const value = headerValue.trim()
  if (!value.startsWith(provider.prefix)) return 'malformed'
  const given = decodeSignature(value.slice(provider.prefix.length), provider.encoding)
  if (given === null) return 'malformed'
  const expected = createHmac('sha256', provider.secret).update(rawBody).digest()
  return equalsConstantTime(given, expected) ? 'ok' : 'mismatch'
}
