/** @module http/middleware/api-key: who is calling (X-API-Key), and may they do this? */
import type { MiddlewareHandler } from 'hono'
import { hasScope, type Scope } from '../../domain/api-key.js'
import type { ApiKeyVerifier } from '../../service/api-keys.js'
import type { AppEnv } from '../env.js'
import { problem } from '../problem.js'

const CHALLENGE = { 'www-authenticate': 'ApiKey header="X-API-Key"' }

export function authenticate(verifier: ApiKeyVerifier): MiddlewareHandler<AppEnv> {
  return async function apiKeyAuth(c, next) {
    const presented = c.req.header('x-api-key')
    if (!presented) return problem(c, 'unauthenticated', 'Send an API key in the X-API-Key header', {}, CHALLENGE)
    const key = await verifier.verify(presented)
    if (!key) return problem(c, 'unauthenticated', 'The API key is unknown or revoked', {}, CHALLENGE)
    c.set('apiKey', key)
    await next()
  }
}

export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async function scopeCheck(c, next) {
    const key = c.get('apiKey')
    if (!hasScope(key.scopes, scope)) {
      return problem(c, 'forbidden', `This route needs the "${scope}" scope; the key has ${key.scopes.join(', ') || 'none'}`, { required_scope: scope })
    }
    await next()
  }
}
