/** @module http/env: what the HTTP layer needs, and what middleware leaves on the context. */
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { ApiKey, Scope } from '../domain/api-key.js'
import type { ApiKeyVerifier } from '../service/api-keys.js'
import type { ServiceDeps } from '../service/deps.js'
import type { SecurityDeps } from './security.js'
import type { ObservabilityOptions } from './routes/observability.js'
import type { SessionPolicy } from '../service/admin-sessions.js'

export interface HttpLimits {
  /** Default body limit in bytes for JSON routes. */
  readonly bodyBytes: number
  /** Body limit for bulk routes (10,000 items). */
  readonly bulkBodyBytes: number
  /** Bulk syncs with more items than this run as background jobs (202 + job id). Default 2,000. */
  readonly bulkSyncJobThreshold?: number
  /** Largest CSV import body (POST /imports, read as a stream; default 64 MiB). */
  readonly importBodyBytes?: number
  /** Imports with more rows than this run as background jobs (default 20,000). */
  readonly importJobThreshold?: number
}

export interface AppDeps extends ServiceDeps {
  readonly verifier: ApiKeyVerifier
  readonly limits: HttpLimits
  /** JWT, nonces, rate limits, webhooks, CORS (#5); anything absent takes the default of http/security.ts. */
  readonly security?: Partial<SecurityDeps>
  /** /metrics token and /readyz probes (#15); absent: /metrics is not served on the API port. */
  readonly observability?: ObservabilityOptions
  /** The admin UI (#16): KEY_ENCRYPTION_KEY for keys made there, and session lifetimes. */
  readonly adminUi?: { readonly sealKey?: Buffer | null; readonly session?: SessionPolicy }
}

/** Who is calling, however they proved it (#5): an API key, a bearer token, or a signed provider webhook. */
export interface Principal {
  readonly kind: 'api_key' | 'jwt' | 'webhook'
  /** Recorded on every ledger row: the key id, `jwt:<sub>`, or `webhook:<provider>`. */
  readonly actor: string
  readonly scopes: ReadonlyArray<Scope>
  /** Warehouses this caller may move stock in; null: all. */
  readonly warehouses: ReadonlyArray<number> | null
  /** The request carried a valid X-Signature. */
  readonly signed: boolean
}

export interface AppEnv {
  Variables: {
    requestId: string
    /** Set only when the caller used an API key. */
    apiKey: ApiKey
    principal: Principal
  }
}

export type App = OpenAPIHono<AppEnv>
