/**
 * @module http/middleware/api-key: who is calling, and may they do this? A caller proves who it
 * is with an API key (X-API-Key, optionally a signed request) or a bearer JWT, never both; the
 * result is the request's Principal, whose actor every ledger row records.
 */
import type { MiddlewareHandler } from 'hono'
import { hasScope, type Scope } from '../../domain/api-key.js'
import type { JwtVerifier } from '../../security/jwt.js'
import type { NonceStore } from '../../security/nonce-store.js'
import type { ApiKeyVerifier } from '../../service/api-keys.js'
import type { Clock, Logger } from '../../service/deps.js'
import type { AppEnv, Principal } from '../env.js'
import { problem } from '../problem.js'
import { hasHeader, headerOf } from '../request-context.js'
import { checkSignedRequest } from './hmac.js'
import { identifyBearer } from './jwt.js'

export interface AuthOptions {
  readonly verifier: ApiKeyVerifier
  readonly jwt: JwtVerifier | null
  readonly nonces: NonceStore
  readonly signatureToleranceSeconds: number
  readonly clock: Clock
  readonly log: Logger
  /** Sees every refusal; may replace the 401 with a 429 (failed attempts draw on the per-IP budget). */
  readonly onRefused?: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => Promise<Response | null>
}

export function authenticate(o: AuthOptions): MiddlewareHandler<AppEnv> {
  const challenge = { 'www-authenticate': o.jwt ? 'ApiKey header="X-API-Key", Bearer realm="stockbridge"' : 'ApiKey header="X-API-Key"' }
  const signing = { nonces: o.nonces, toleranceSeconds: o.signatureToleranceSeconds, now: () => o.clock.now(), log: o.log }

  async function identify(c: Parameters<MiddlewareHandler<AppEnv>>[0]): Promise<Principal | Response> {
    const presented = headerOf(c, 'x-api-key')
    const authorization = hasHeader(c, 'authorization') ? c.req.header('authorization') : undefined
    if (presented !== undefined && authorization !== undefined) {
      return problem(c, 'unauthenticated', 'Send one credential: X-API-Key or Authorization, not both', {}, challenge)
    }
    if (authorization !== undefined) return identifyBearer(c, authorization, o.jwt, o.clock.now())
    if (!presented) return problem(c, 'unauthenticated', 'Send an API key in the X-API-Key header', {}, challenge)
    const verified = await o.verifier.verifyWithSecret(presented)
    if (!verified) return problem(c, 'unauthenticated', 'The API key is unknown, revoked or expired', {}, challenge)
    const signed = await checkSignedRequest(c, verified.key, verified.signingSecret, signing)
    if (signed instanceof Response) return signed
    c.set('apiKey', verified.key)
    return { kind: 'api_key', actor: verified.key.id, scopes: verified.key.scopes, warehouses: verified.key.warehouses, signed }
  }

  return async function authenticateCaller(c, next) {
    const who = await identify(c)
    if (who instanceof Response) return (await o.onRefused?.(c)) ?? who
    c.set('principal', who)
    await next()
  }
}

export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async function scopeCheck(c, next) {
    const { scopes } = c.get('principal')
    if (!hasScope(scopes, scope)) {
      return problem(c, 'forbidden', `This route needs the "${scope}" scope; the credential has ${scopes.join(', ') || 'none'}`, { required_scope: scope })
    }
    await next()
  }
}
