/** @module ui/context: what every admin page handler gets: the session, its key, and the helpers. */
import type { Context } from 'hono'
import { hasScope, type ApiKey, type Scope } from '../domain/api-key.js'
import type { ApiKeyVerifier } from '../service/api-keys.js'
import type { ServiceDeps, RequestContext } from '../service/deps.js'
import type { SessionPolicy } from '../service/admin-sessions.js'
import type { ProviderOptions } from '../service/providers.js'

export interface UiDeps extends ServiceDeps {
  readonly verifier: ApiKeyVerifier
  readonly session?: SessionPolicy
  /** KEY_ENCRYPTION_KEY, so keys made in the UI have their signing secret sealed like the CLI's. */
  readonly sealKey?: Buffer | null
  /** The API's provider options (environment providers, seal key), so the Providers page lists what the webhooks accept. */
  readonly providers?: ProviderOptions
  /** The API's CSV import limits (IMPORT_BODY_LIMIT_BYTES, the job threshold), so an upload here follows the same rules. */
  readonly importLimits?: { readonly maxBytes: number; readonly jobRows: number }
}

export interface UiEnv {
  Variables: {
    key: ApiKey
    csrf: string
    requestId: string
  }
}

export type UiContext = Context<UiEnv>

export function can(c: UiContext, scope: Scope): boolean {
  return hasScope(c.get('key').scopes, scope)
}

/** The ledger's actor and the key's warehouse restriction, as the API would record them. */
export function requestContextOf(c: UiContext, idempotencyKey?: string): RequestContext {
  const key = c.get('key')
  return { actor: key.id, idempotencyKey, allowedWarehouses: key.warehouses }
}
