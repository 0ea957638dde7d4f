/**
 * @module security/settings: the security variables, parsed from the environment record that
 * config.ts hands over (config.ts stays the only reader of process.env). Every problem is
 * returned, so config.ts can report them together with its own.
 */
import type { BucketPolicy } from './rate-limit.js'
import { SEED_PROVIDER_DEFAULTS, type SignatureEncoding, type WebhookProvider } from './provider-signature.js'
import { DEFAULT_SIGNATURE_TOLERANCE_SECONDS } from './request-signature.js'
import { parseSealKey } from './secret-box.js'
import { redactRedisUrl } from './redis.js'

export interface JwtSettings {
  readonly hs256Secret: string | null
  readonly jwks: string | null
  readonly issuer: string | null
  readonly audience: string | null
  readonly clockSkewSeconds: number
}

export interface RateLimitSettings {
  /** Per key (or token subject), GET and HEAD; null: unlimited. */
  readonly read: BucketPolicy | null
  /** Per key (or token subject), every other method; null: unlimited. */
  readonly write: BucketPolicy | null
  /** Per client IP, for requests without a valid credential (failed logins, webhooks, docs); null: unlimited. */
  readonly anon: BucketPolicy | null
  readonly store: 'memory' | 'redis'
}

export interface SecuritySettings {
  readonly jwt: JwtSettings | null
  readonly redisUrl: string | null
  readonly nonceStore: 'memory' | 'database' | 'redis'
  readonly signatureToleranceSeconds: number
  readonly rateLimits: RateLimitSettings
  /** How many reverse proxies in front append to X-Forwarded-For; 0: use the socket address. */
  readonly trustProxyHops: number
  readonly corsOrigins: ReadonlyArray<string>
  readonly webhooks: Readonly<Record<string, WebhookProvider>>
  /** 32 bytes sealing signing secrets at rest (AES-256-GCM); null: stored in the clear. */
  readonly keyEncryptionKey: Buffer | null
}

type Env = Readonly<Record<string, string | undefined>>

const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/

function intVar(env: Env, name: string, min: number, max: number, fallback: number | null, problems: string[]): number | null {
  const raw = env[name]
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name}: must be a whole number from ${min} to ${max}`)
    return fallback
  }
  return Number(raw)
}

function bucket(env: Env, kind: 'READ' | 'WRITE' | 'ANON', problems: string[]): BucketPolicy | null {
  const perMinute = intVar(env, `RATE_LIMIT_${kind}_PER_MIN`, 0, 100_000_000, null, problems)
  if (perMinute === null || perMinute === 0) return null
  const capacity = intVar(env, `RATE_LIMIT_${kind}_BURST`, 1, 100_000_000, perMinute, problems) ?? perMinute
  return { perMinute, capacity }
}

function providerFromParts(
  name: string,
  parts: { secret?: unknown; header?: unknown; encoding?: unknown; prefix?: unknown; warehouses?: unknown; mapping?: unknown; preset?: unknown; unknown_sku?: unknown },
  where: string,
  problems: string[],
): WebhookProvider | null {
  const defaults = SEED_PROVIDER_DEFAULTS[name] ?? { header: 'X-Webhook-Signature', encoding: 'hex' as SignatureEncoding }
  const { secret, header = defaults.header, encoding = defaults.encoding, prefix = '', warehouses = null, mapping, preset, unknown_sku: unknownSku } = parts
  // #14: what to do with a verified payload (a JSONata mapping, or a preset's), and with unknown SKUs.
  if (mapping !== undefined && (typeof mapping !== 'string' || mapping.trim() === '' || mapping.length > 50_000)) problems.push(`${where}: mapping must be a JSONata expression of at most 50,000 characters`)
  if (preset !== undefined && (typeof preset !== 'string' || !/^[a-z0-9_]{1,40}$/.test(preset))) problems.push(`${where}: preset must be a preset name such as shiphero_inventory_update`)
  if (unknownSku !== undefined && unknownSku !== 'reject' && unknownSku !== 'create' && unknownSku !== 'hold') problems.push(`${where}: unknown_sku must be reject, create or hold`)
  const before = problems.length
  if (typeof secret !== 'string' || secret.length < 16) problems.push(`${where}: the secret must be at least 16 characters`)
  if (typeof header !== 'string' || !/^[A-Za-z0-9-]{1,100}$/.test(header)) problems.push(`${where}: header must be an HTTP header name`)
  if (encoding !== 'hex' && encoding !== 'base64') problems.push(`${where}: encoding must be hex or base64`)
  if (typeof prefix !== 'string' || prefix.length > 20) problems.push(`${where}: prefix must be a short string such as "sha256="`)
  if (warehouses !== null && (!Array.isArray(warehouses) || warehouses.length === 0 || !warehouses.every((w) => Number.isSafeInteger(w) && (w as number) > 0))) {
    problems.push(`${where}: warehouses must be a non-empty array of warehouse ids`)
  }
  if (problems.length > before) return null
  return Object.freeze({
    name,
    secret: secret as string,
    header: header as string,
    encoding: encoding as SignatureEncoding,
    prefix: prefix as string,
    warehouses: warehouses as number[] | null,
    ...(mapping !== undefined ? { mapping: mapping as string } : {}),
    ...(preset !== undefined ? { preset: preset as string } : {}),
    ...(unknownSku !== undefined ? { unknownSku: unknownSku as string } : {}),
  })
}

/**
 * Providers from WEBHOOK_PROVIDERS (JSON: {"name": {"secret", "header"?, "encoding"?, "prefix"?,
 * "warehouses"?, "mapping"?, "preset"?, "unknown_sku"?}}) and from WEBHOOK_SECRET_<NAME> (+ WEBHOOK_HEADER_<NAME>, WEBHOOK_ENCODING_<NAME>);
 * NAME is the provider upper-cased with `-` as `_`. Only providers with a secret exist.
 */
function webhookProviders(env: Env, problems: string[]): Record<string, WebhookProvider> {
  const out: Record<string, WebhookProvider> = {}
  if (env.WEBHOOK_PROVIDERS !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(env.WEBHOOK_PROVIDERS)
    } catch {
      problems.push('WEBHOOK_PROVIDERS: must be a JSON object of providers')
    }
    if (parsed !== undefined) {
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) problems.push('WEBHOOK_PROVIDERS: must be a JSON object of providers')
      else {
        for (const [name, parts] of Object.entries(parsed as Record<string, unknown>)) {
          if (!PROVIDER_NAME.test(name)) problems.push(`WEBHOOK_PROVIDERS: "${name.slice(0, 40)}" is not a provider name (a-z 0-9 _ -)`)
          else if (parts === null || typeof parts !== 'object') problems.push(`WEBHOOK_PROVIDERS.${name}: must be an object with a secret`)
          else {
            // The secret may come from WEBHOOK_SECRET_<NAME> instead, keeping it out of the JSON.
            const envSecret = env[`WEBHOOK_SECRET_${name.toUpperCase().replaceAll('-', '_')}`]
            const withSecret = { ...(parts as Record<string, unknown>), secret: (parts as { secret?: unknown }).secret ?? envSecret }
            const p = providerFromParts(name, withSecret, `WEBHOOK_PROVIDERS.${name}`, problems)
            if (p) out[name] = p
          }
        }
      }
    }
  }
  for (const [variable, secret] of Object.entries(env)) {
    const m = /^WEBHOOK_SECRET_([A-Z0-9_]{1,64})$/.exec(variable)
    if (!m || secret === undefined) continue
    const suffix = m[1]!
    const name = suffix.toLowerCase()
    // Already used as the secret of a JSON provider whose name has dashes (acme-wms ← WEBHOOK_SECRET_ACME_WMS).
    if (Object.keys(out).some((k) => k !== name && k.replaceAll('-', '_') === name)) continue
    const p = providerFromParts(name, { ...(out[name] ?? {}), unknown_sku: out[name]?.unknownSku, secret, header: env[`WEBHOOK_HEADER_${suffix}`] ?? out[name]?.header, encoding: env[`WEBHOOK_ENCODING_${suffix}`] ?? out[name]?.encoding }, variable, problems)
    if (p) out[name] = p
  }
  return out
}

export function loadSecuritySettings(env: Env): { settings: SecuritySettings; problems: string[] } {
  const problems: string[] = []
  const redisUrl = env.REDIS_URL ?? null
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL: must start with redis:// or rediss://')

  let jwt: JwtSettings | null = null
  const hs = env.JWT_HS256_SECRET ?? null
  const jwks = env.JWT_JWKS ?? null
  if (hs !== null && hs.length < 32) problems.push('JWT_HS256_SECRET: must be at least 32 characters')
  if (hs !== null || jwks !== null) {
    jwt = { hs256Secret: hs, jwks, issuer: env.JWT_ISSUER ?? null, audience: env.JWT_AUDIENCE ?? null, clockSkewSeconds: intVar(env, 'JWT_CLOCK_SKEW_SECONDS', 0, 300, 30, problems) ?? 30 }
  } else if (env.JWT_ISSUER !== undefined || env.JWT_AUDIENCE !== undefined) {
    problems.push('JWT_ISSUER/JWT_AUDIENCE: set JWT_HS256_SECRET or JWT_JWKS too, or tokens cannot be verified')
  }

  const nonceStore = (env.NONCE_STORE ?? (redisUrl ? 'redis' : 'database')) as SecuritySettings['nonceStore']
  if (!['memory', 'database', 'redis'].includes(nonceStore)) problems.push('NONCE_STORE: must be memory, database or redis')
  if (nonceStore === 'redis' && !redisUrl) problems.push('NONCE_STORE: redis needs REDIS_URL')
  const limitStore = (env.RATE_LIMIT_STORE ?? (redisUrl ? 'redis' : 'memory')) as RateLimitSettings['store']
  if (!['memory', 'redis'].includes(limitStore)) problems.push('RATE_LIMIT_STORE: must be memory or redis')
  if (limitStore === 'redis' && !redisUrl) problems.push('RATE_LIMIT_STORE: redis needs REDIS_URL')

  const corsOrigins = (env.CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  for (const o of corsOrigins) if (!ORIGIN.test(o)) problems.push(`CORS_ORIGINS: "${o.slice(0, 60)}" is not an origin like https://shop.example.com ("*" is not accepted)`)

  let keyEncryptionKey: Buffer | null = null
  try {
    keyEncryptionKey = parseSealKey(env.KEY_ENCRYPTION_KEY)
  } catch (e) {
    problems.push(`KEY_ENCRYPTION_KEY: ${(e as Error).message}`)
  }

  const settings: SecuritySettings = {
    jwt,
    redisUrl,
    nonceStore,
    signatureToleranceSeconds: intVar(env, 'SIGNATURE_TOLERANCE_SECONDS', 30, 900, DEFAULT_SIGNATURE_TOLERANCE_SECONDS, problems) ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
    rateLimits: { read: bucket(env, 'READ', problems), write: bucket(env, 'WRITE', problems), anon: bucket(env, 'ANON', problems), store: limitStore },
    trustProxyHops: intVar(env, 'TRUST_PROXY_HOPS', 0, 10, 0, problems) ?? 0,
    corsOrigins,
    webhooks: webhookProviders(env, problems),
    keyEncryptionKey,
  }
  return { settings, problems }
}

/** The settings with every secret masked: what may be logged. */
export function redactSecuritySettings(s: SecuritySettings): Record<string, unknown> {
  return {
    ...s,
    jwt: s.jwt && { ...s.jwt, hs256Secret: s.jwt.hs256Secret === null ? null : '***' },
    redisUrl: s.redisUrl === null ? null : redactRedisUrl(s.redisUrl),
    webhooks: Object.fromEntries(Object.entries(s.webhooks).map(([k, p]) => [k, { ...p, secret: '***' }])),
    keyEncryptionKey: s.keyEncryptionKey === null ? null : '***',
  }
}
