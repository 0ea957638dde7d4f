/** @module http/middleware/jwt: `Authorization: Bearer <JWT>` (#5), verified by security/jwt.ts. */
import type { Context } from 'hono'
import { KeySourceUnavailableError, TokenError, type JwtVerifier } from '../../security/jwt.js'
import type { AppEnv, Principal } from '../env.js'
import { problem } from '../problem.js'

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)$/i

/** The caller behind a bearer token, or the refusal. */
export async function identifyBearer(c: Context<AppEnv>, header: string, jwt: JwtVerifier | null, nowMs: number): Promise<Principal | Response> {
  if (jwt === null) {
    return problem(c, 'unauthenticated', 'Bearer tokens are not accepted by this server (no JWT_HS256_SECRET or JWT_JWKS); send an API key in X-API-Key', {}, { 'www-authenticate': 'ApiKey header="X-API-Key"' })
  }
  const m = BEARER.exec(header.trim())
  if (!m) return problem(c, 'invalid_token', 'Send the token as "Authorization: Bearer <JWT>"', {}, { 'www-authenticate': 'Bearer realm="stockbridge", error="invalid_request"' })
  try {
    const grant = await jwt.verify(m[1]!, nowMs)
    return { kind: 'jwt', actor: `jwt:${grant.subject}`, scopes: grant.scopes, warehouses: grant.warehouses, signed: false }
  } catch (e) {
    if (e instanceof KeySourceUnavailableError) return problem(c, 'jwks_unavailable', e.message, {}, { 'retry-after': '5' })
    if (!(e instanceof TokenError)) throw e
    // RFC 6750 §3: the error code goes in the challenge; the description stays generic there.
    return problem(c, 'invalid_token', e.message, {}, { 'www-authenticate': 'Bearer realm="stockbridge", error="invalid_token"' })
  }
}
