/** @module http/env: what the HTTP layer needs, and what middleware leaves on the context. */
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { ApiKey } from '../domain/api-key.js'
import type { ApiKeyVerifier } from '../service/api-keys.js'
import type { ServiceDeps } from '../service/deps.js'

export interface HttpLimits {
  /** Default body limit in bytes for JSON routes. */
  readonly bodyBytes: number
  /** Body limit for bulk routes (10,000 items). */
  readonly bulkBodyBytes: number
  /** Bulk syncs with more items than this run as background jobs (202 + job id). Default 2,000. */
  readonly bulkSyncJobThreshold?: number
}

export interface AppDeps extends ServiceDeps {
  readonly verifier: ApiKeyVerifier
  readonly limits: HttpLimits
}

export interface AppEnv {
  Variables: {
    requestId: string
    apiKey: ApiKey
  }
}

export type App = OpenAPIHono<AppEnv>
