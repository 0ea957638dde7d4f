/**
 * @module security/jwt: bearer tokens verified with jose. HS256 under a shared secret
 * (JWT_HS256_SECRET), RS256/ES256 under a JSON Web Key Set (JWT_JWKS: a file path or a URL).
 * Only the configured algorithms are accepted, so `alg: none` and algorithm confusion (an HS256
 * token "signed" with an RSA public key) are refused by construction.
 */
import fs from 'node:fs'
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import { SCOPES, type Scope } from '../domain/api-key.js'

export interface JwtOptions {
  /** Shared secret for HS256; at least 32 characters. */
  readonly hs256Secret: string | null
  /** JWKS for RS256/ES256: `https://…` (fetched and cached) or a file path. */
  readonly jwks: string | null
  readonly issuer: string | null
  readonly audience: string | null
  /** Allowance for clock differences on exp and nbf. */
  readonly clockSkewSeconds: number
}

/** What a verified token grants. */
export interface TokenGrant {
  readonly subject: string
  readonly scopes: ReadonlyArray<Scope>
  /** The `warehouses` claim: ids this token may write; null when absent (no restriction). */
  readonly warehouses: ReadonlyArray<number> | null
}

export class TokenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TokenError'
  }
}

const SUBJECT = /^[\x21-\x7e]{1,200}$/
const ASYMMETRIC = ['RS256', 'ES256'] as const

function loadJwks(source: string): JWTVerifyGetKey {
  if (/^https?:\/\//i.test(source)) return createRemoteJWKSet(new URL(source), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5000 })
  return createLocalJWKSet(JSON.parse(fs.readFileSync(source, 'utf8')) as Parameters<typeof createLocalJWKSet>[0])
}

function grantOf(payload: JWTPayload): TokenGrant {
  const sub = payload.sub
  if (typeof sub !== 'string' || !SUBJECT.test(sub)) throw new TokenError('The token needs a "sub" claim of 1 to 200 printable characters')
  const raw = payload.scope
  const names = typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw : []
  // Unknown scope names are ignored, not refused: an identity provider may issue scopes for other APIs too.
  const scopes = [...new Set(names.filter((s): s is Scope => typeof s === 'string' && (SCOPES as ReadonlyArray<string>).includes(s)))]
  let warehouses: number[] | null = null
  if (payload.warehouses !== undefined) {
    const w = payload.warehouses
    if (!Array.isArray(w) || w.length === 0 || w.length > 1000 || !w.every((id) => Number.isSafeInteger(id) && (id as number) > 0 && (id as number) <= 2_147_483_647)) {
      throw new TokenError('The "warehouses" claim must be a non-empty array of warehouse ids')
    }
    warehouses = [...new Set(w as number[])]
  }
  return { subject: sub, scopes, warehouses }
}

export class JwtVerifier {
  readonly #secret: Uint8Array | null
  readonly #jwks: JWTVerifyGetKey | null
  readonly #options: JwtOptions
  readonly #algorithms: string[]

  constructor(options: JwtOptions) {
    if (options.hs256Secret === null && options.jwks === null) throw new Error('JWT needs JWT_HS256_SECRET or JWT_JWKS')
    this.#options = options
    this.#secret = options.hs256Secret === null ? null : new TextEncoder().encode(options.hs256Secret)
    this.#jwks = options.jwks === null ? null : loadJwks(options.jwks)
    this.#algorithms = [...(this.#secret ? ['HS256'] : []), ...(this.#jwks ? ASYMMETRIC : [])]
  }

  get algorithms(): ReadonlyArray<string> {
    return this.#algorithms
  }

  /** Verify signature, algorithm, exp/nbf (with skew), iss and aud; throws TokenError with a safe message. */
  async verify(token: string, nowMs: number): Promise<TokenGrant> {
    if (token.length > 8192 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) throw new TokenError('The bearer token is not a compact JWT')
    const getKey: JWTVerifyGetKey = async (header, input) => {
      if (header.alg === 'HS256' && this.#secret) return this.#secret
      if (this.#jwks && (ASYMMETRIC as ReadonlyArray<string>).includes(header.alg ?? '')) return this.#jwks(header, input)
      throw new TokenError(`Tokens signed with ${String(header.alg).slice(0, 20)} are not accepted; expected ${this.#algorithms.join(' or ')}`)
    }
    try {
      const { payload } = await jwtVerify(token, getKey, {
        algorithms: this.#algorithms,
        ...(this.#options.issuer ? { issuer: this.#options.issuer } : {}),
        ...(this.#options.audience ? { audience: this.#options.audience } : {}),
        clockTolerance: this.#options.clockSkewSeconds,
        currentDate: new Date(nowMs),
        requiredClaims: ['exp', 'sub'],
      })
      return grantOf(payload)
    } catch (e) {
      if (this.#jwks && isUnreachable(e)) {
        // Not the token's fault: the keys to check it with cannot be fetched (#12). Say which.
        throw new KeySourceUnavailableError(`The JSON Web Key Set at ${jwksOrigin(this.#options.jwks!)} is unreachable, so bearer tokens cannot be checked right now; retry shortly or use an API key`, { cause: e })
      }
      throw new TokenError(describe(e), { cause: e })
    }
  }
}

/** The keys that verify tokens (a remote JWKS) cannot be fetched: a 503, not the caller's error. */
export class KeySourceUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'KeySourceUnavailableError'
  }
}

function isUnreachable(e: unknown): boolean {
  if (e instanceof errors.JWKSTimeout) return true
  if (!(e instanceof Error) || e instanceof errors.JOSEError) return false
  const text = `${e.message} ${String((e as { cause?: { code?: unknown } }).cause?.code ?? '')}`
  return /fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|socket/i.test(text)
}

/** Where the JWKS lives, without any query string or credentials (they may carry secrets). */
function jwksOrigin(source: string): string {
  try {
    const u = new URL(source)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return 'the configured location'
  }
}

/** A message safe to send back: what was wrong, never key material or the token itself. */
function describe(e: unknown): string {
  if (e instanceof TokenError) return e.message
  if (e instanceof errors.JWTExpired) return 'The token has expired'
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf') return 'The token is not valid yet (nbf)'
    if (e.claim === 'aud') return 'The token is for another audience'
    if (e.claim === 'iss') return 'The token is from another issuer'
    return `The token's "${e.claim}" claim is missing or invalid`
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm this service does not accept'
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'The token signature does not verify'
  if (e instanceof errors.JWKSNoMatchingKey) return 'No key in the configured JWKS matches the token'
  if (e instanceof errors.JWKSTimeout || (e instanceof Error && /fetch|ECONNREFUSED/i.test(e.message))) return 'The token cannot be checked right now (JWKS unreachable)'
  return 'The bearer token is not valid'
}
