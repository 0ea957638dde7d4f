/**
 * Helpers for the security suites: a client that signs exactly as the README tells integrators to,
 * JWT makers (HS256, RS256, ES256, and the hostile kinds), provider webhook signing, an app built
 * with every security feature on, and the Redis probe (skip locally with a printed reason when
 * Redis is down, fail under CI=true, as test/support/databases.ts does for PostgreSQL).
 */
import { createHmac, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose'
import { Redis } from 'ioredis'
import type { Scope } from '../../src/domain/api-key.js'
import { createApp } from '../../src/http/app.js'
import type { SecurityDeps } from '../../src/http/security.js'
import { JwtVerifier } from '../../src/security/jwt.js'
import type { WebhookProvider } from '../../src/security/provider-signature.js'
import { ApiKeyVerifier, createApiKey, type ApiKeyOptions, type CreatedApiKey } from '../../src/service/api-keys.js'
import type { ServiceDeps } from '../../src/service/deps.js'

export const ISSUER = 'https://idp.example.test'
export const AUDIENCE = 'stockbridge'
export const HS_SECRET = 'test-hs256-secret-that-is-long-enough-0123456789'

// ---- signed requests: what an integrator writes (the README's TypeScript example does the same) ----

export interface SignOptions {
  /** Unix seconds; default: now. */
  readonly timestamp?: string
  readonly nonce?: string
  /** Sign a different method/path/body than the one sent (hostile cases). */
  readonly signMethod?: string
  readonly signPath?: string
  readonly signBody?: string
  /** Sign with this secret instead. */
  readonly secret?: string
  readonly encoding?: 'hex' | 'base64'
}

export function newNonce(): string {
  return randomBytes(16).toString('base64url')
}

/** The X-* headers for one request: hex HMAC-SHA256 of METHOD + PATH + TIMESTAMP + NONCE + BODY. */
export function signatureHeaders(signingSecret: string, method: string, pathAndQuery: string, body: string, nowMs: number, o: SignOptions = {}): Record<string, string> {
  const timestamp = o.timestamp ?? String(Math.floor(nowMs / 1000))
  const nonce = o.nonce ?? newNonce()
  const mac = createHmac('sha256', o.secret ?? signingSecret)
    .update((o.signMethod ?? method).toUpperCase() + (o.signPath ?? pathAndQuery) + timestamp + nonce + (o.signBody ?? body))
    .digest(o.encoding ?? 'hex')
  return { 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': mac }
}

// ---- JWTs ----

export interface TokenKeys {
  readonly rsa: { privateKey: CryptoKey; publicKey: CryptoKey }
  readonly ec: { privateKey: CryptoKey; publicKey: CryptoKey }
  /** An RSA key pair the service does not know. */
  readonly strangerRsa: { privateKey: CryptoKey; publicKey: CryptoKey }
  /** An RS384 pair whose public key is in the JWKS: the algorithm, not the key, must be refused. */
  readonly rsa384: { privateKey: CryptoKey; publicKey: CryptoKey }
  /** The JWKS (public RSA + EC keys) as written to `jwksFile`. */
  readonly jwks: { keys: unknown[] }
  readonly jwksFile: string
  readonly rsaPublicPem: string
}

export async function makeTokenKeys(): Promise<TokenKeys> {
  const rsa = (await generateKeyPair('RS256', { extractable: true })) as TokenKeys['rsa']
  const ec = (await generateKeyPair('ES256', { extractable: true })) as TokenKeys['ec']
  const strangerRsa = (await generateKeyPair('RS256', { extractable: true })) as TokenKeys['rsa']
  const rsa384 = (await generateKeyPair('RS384', { extractable: true })) as TokenKeys['rsa']
  const jwks = { keys: [{ ...(await exportJWK(rsa384.publicKey)), kid: 'rsa-384', alg: 'RS384', use: 'sig' }, { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' }, { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' }] }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-jwks-'))
  const jwksFile = path.join(dir, 'jwks.json')
  fs.writeFileSync(jwksFile, JSON.stringify(jwks))
  return { rsa, ec, strangerRsa, rsa384, jwks, jwksFile, rsaPublicPem: await exportSPKI(rsa.publicKey) }
}

export interface TokenSpec {
  readonly alg?: 'HS256' | 'RS256' | 'ES256' | 'HS512' | 'RS384'
  readonly key?: CryptoKey | Uint8Array
  readonly kid?: string
  readonly sub?: string | null
  readonly scope?: string | null
  readonly warehouses?: unknown
  readonly iss?: string | null
  readonly aud?: string | null
  /** Seconds relative to `nowMs`; null: no exp claim. */
  readonly expIn?: number | null
  readonly nbfIn?: number
  readonly extra?: JWTPayload
}

/** A token signed as a real identity provider would; every default is valid for the test app. */
export async function makeToken(keys: TokenKeys, nowMs: number, spec: TokenSpec = {}): Promise<string> {
  const alg = spec.alg ?? 'HS256'
  const now = Math.floor(nowMs / 1000)
  const payload: JWTPayload = { ...(spec.extra ?? {}) }
  if (spec.scope !== null) payload.scope = spec.scope ?? 'read write'
  if (spec.warehouses !== undefined) payload.warehouses = spec.warehouses as JWTPayload[string]
  let jwt = new SignJWT(payload).setProtectedHeader({ alg, ...(spec.kid ? { kid: spec.kid } : alg === 'RS256' ? { kid: 'rsa-1' } : alg === 'ES256' ? { kid: 'ec-1' } : {}) }).setIssuedAt(now)
  if (spec.sub !== null) jwt = jwt.setSubject(spec.sub ?? 'svc-checkout')
  if (spec.iss !== null) jwt = jwt.setIssuer(spec.iss ?? ISSUER)
  if (spec.aud !== null) jwt = jwt.setAudience(spec.aud ?? AUDIENCE)
  if (spec.expIn !== null) jwt = jwt.setExpirationTime(now + (spec.expIn ?? 600))
  if (spec.nbfIn !== undefined) jwt = jwt.setNotBefore(now + spec.nbfIn)
  const key = spec.key ?? (alg === 'RS256' ? keys.rsa.privateKey : alg === 'ES256' ? keys.ec.privateKey : new TextEncoder().encode(HS_SECRET))
  return jwt.sign(key)
}

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

/** `alg: none`: an unsecured JWT with an empty signature part. */
export function unsignedToken(nowMs: number, payload: JWTPayload = {}): string {
  const now = Math.floor(nowMs / 1000)
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'intruder', scope: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now + 600, ...payload })}.`
}

/** A valid token with its payload swapped for another (the signature no longer covers it). */
export function tamperedToken(token: string, payload: JWTPayload): string {
  const [h, , s] = token.split('.')
  return `${h}.${b64url(payload)}.${s}`
}

// ---- provider webhooks ----

export function providerSignature(secret: string, body: string, encoding: 'hex' | 'base64' = 'hex'): string {
  return createHmac('sha256', secret).update(body).digest(encoding)
}

export function provider(name: string, secret: string, over: Partial<WebhookProvider> = {}): WebhookProvider {
  return { name, secret, header: 'X-Webhook-Signature', encoding: 'hex', prefix: '', warehouses: null, ...over }
}

// ---- the app ----

export interface SecureAppOptions {
  readonly security?: Partial<SecurityDeps>
  readonly bulkSyncJobThreshold?: number
  readonly limits?: { bodyBytes: number; bulkBodyBytes: number }
}

/** The in-process app with the given security parts; keys made as the CLI makes them. */
export function secureApp(deps: ServiceDeps, o: SecureAppOptions = {}) {
  const verifier = new ApiKeyVerifier(deps, 0)
  const limits = { ...(o.limits ?? { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024 }), bulkSyncJobThreshold: o.bulkSyncJobThreshold ?? 2000 }
  const app = createApp({ ...deps, verifier, limits, security: o.security ?? {} })
  const key = (name: string, scopes: Scope[], opts: ApiKeyOptions = {}): Promise<CreatedApiKey> => createApiKey(deps, name, scopes, opts)

  interface Call {
    readonly key?: string
    readonly bearer?: string
    readonly body?: unknown
    readonly raw?: string
    readonly headers?: Record<string, string>
    /** Sign with this signing secret (over exactly what is sent unless the options say otherwise). */
    readonly sign?: { readonly secret: string } & SignOptions
  }
  /** One request; `path` is relative to /inventory/v1 unless it starts with `/`. */
  const call = (method: string, p: string, c: Call = {}) => {
    const url = p.startsWith('/') ? p : `/inventory/v1/${p}`
    const body = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body))
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (c.key !== undefined) headers['x-api-key'] = c.key
    if (c.bearer !== undefined) headers.authorization = `Bearer ${c.bearer}`
    if (c.sign) Object.assign(headers, signatureHeaders(c.sign.secret, method, url, body ?? '', deps.clock.now(), c.sign))
    Object.assign(headers, c.headers ?? {})
    return app.request(url, { method, headers, body })
  }
  return { app, key, call, verifier }
}

export function jwtVerifier(keys: TokenKeys, over: Partial<ConstructorParameters<typeof JwtVerifier>[0]> = {}): JwtVerifier {
  return new JwtVerifier({ hs256Secret: HS_SECRET, jwks: keys.jwksFile, issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 30, ...over })
}

// ---- Redis ----

export const REDIS_URL = process.env.STOCKBRIDGE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function probeRedis(): Promise<string | null> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null })
  r.on('error', () => {})
  try {
    await r.connect()
    await r.ping()
    return null
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  } finally {
    r.disconnect()
  }
}

const redisProblem = await probeRedis()
if (redisProblem !== null) {
  if (process.env.CI === 'true') throw new Error(`CI requires Redis at ${REDIS_URL}, which is unreachable: ${redisProblem}`)
  console.warn(`[stockbridge tests] Redis suites SKIPPED: ${REDIS_URL} unreachable (${redisProblem})`)
}
/** Why the Redis suites are skipped here, or null when Redis answers. */
export const redisSkipReason: string | null = redisProblem === null ? null : `Redis unreachable: ${redisProblem}`
