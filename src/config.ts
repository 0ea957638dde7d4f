/** @module config: the only reader of process.env. Validated once, every problem reported together. */
import { z } from 'zod'
import { loadSecuritySettings, redactSecuritySettings, type SecuritySettings } from './security/settings.js'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max)

/** A sslmode in a PostgreSQL URL that store/db.ts would refuse at open, reported with the rest. */
function urlSslModeProblem(url: string | undefined): string | null {
  if (url === undefined || !/^postgres(ql)?:\/\//i.test(url)) return null
  let mode: string | null
  try {
    mode = new URL(url).searchParams.get('sslmode')
  } catch {
    return 'DATABASE_URL: is not a valid URL'
  }
  if (mode === null || ['disable', 'require', 'verify-ca', 'verify-full', 'no-verify'].includes(mode)) return null
  return `DATABASE_URL: sslmode=${mode} is not supported; use disable, require, verify-ca or verify-full`
}

const Schema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.string().min(1).default('sqlite:./data/stockbridge.db'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  BULK_BODY_LIMIT_BYTES: int(1024, 256 * 1024 * 1024).default(4 * 1024 * 1024),
  IMPORT_BODY_LIMIT_BYTES: int(1024, 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  RESERVATION_SWEEP_SECONDS: int(1, 3600).default(5),
  // How long a node may reuse a verified API key without reading it again; changes reach every
  // node at once anyway (service/api-keys.ts), so this only bounds a notification lost in a reconnect.
  API_KEY_CACHE_SECONDS: int(0, 3600).default(2),
  DATABASE_POOL_SIZE: int(1, 200).default(8),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  // How long a query waits for a database connection before answering 503 (PostgreSQL).
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 600_000).default(5000),
  // TLS to PostgreSQL; overrides the URL's sslmode. See store/db.ts for what each mode checks.
  DATABASE_SSL: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
  DATABASE_SSL_ROOT_CERT: z.string().min(1).optional(),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  DELIVERY_WORKER: z.enum(['on', 'off']).default('on'),
  BULK_SYNC_JOB_THRESHOLD: int(1, 10_000).default(2000),
  DELIVERY_MAX_ATTEMPTS: int(1, 100).default(10),
  DELIVERY_TIMEOUT_MS: int(100, 120_000).default(10_000),
  DELIVERY_POLL_MS: int(10, 60_000).default(1000),
  RETENTION_EVENTS_DAYS: int(1, 3650).default(7),
  RETENTION_DELIVERY_LOG_DAYS: int(1, 3650).default(30),
  RETENTION_IDEMPOTENCY_DAYS: int(1, 3650).default(7),
  // WooCommerce connector (#7).
  WOO_REQUEST_TIMEOUT_MS: int(500, 600_000).default(30_000),
  WOO_DRIFT_GRACE_MS: int(0, 3_600_000).default(15_000),
  WOO_RECONCILE_MINUTES: int(0, 7 * 24 * 60).default(60),
  // Alerts and observability (#15).
  ALERTS: z.enum(['on', 'off']).default('on'),
  ALERT_HYSTERESIS: int(0, 1_000_000).default(0),
  ALERT_OUTBOX_LAG_SECONDS: int(0, 7 * 86400).default(300),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').max(500).optional(),
  METRICS_PORT: int(1, 65535).optional(),
  METRICS_SAMPLE_SECONDS: int(1, 3600).default(5),
  // Provider mappings (#14): how long one payload's JSONata may run, and the worker's heap.
  PROVIDER_MAPPING_TIMEOUT_MS: int(100, 60_000).default(5000),
  PROVIDER_MAPPING_HEAP_MB: int(16, 2048).default(64),
  WOO_STORE_LINGER_MS: int(0, 5000).default(40),
  WOO_STORE_MAX_WINDOW_MS: int(0, 10_000).default(600),
  WOO_PROBE_MS: int(100, 600_000).default(2000),
})

export interface Config {
  readonly port: number
  readonly host: string
  readonly databaseUrl: string
  readonly logLevel: (typeof LOG_LEVELS)[number]
  readonly bodyLimitBytes: number
  readonly bulkBodyLimitBytes: number
  /** Largest CSV body on POST /imports (#14), read as a stream. */
  readonly importBodyLimitBytes: number
  readonly reservationSweepSeconds: number
  /** Longest reuse of a verified API key on a node (the safety net behind change notifications). */
  readonly apiKeyCacheMs: number
  readonly databasePoolSize: number
  readonly databaseStatementTimeoutMs: number
  readonly databaseConnectTimeoutMs: number
  /** undefined: as the URL's sslmode says (absent there too: no TLS). */
  readonly databaseSsl: 'disable' | 'require' | 'verify-ca' | 'verify-full' | undefined
  /** A PEM file of trusted certificate authorities for verify-ca / verify-full. */
  readonly databaseSslRootCert: string | undefined
  readonly shutdownTimeoutMs: number
  readonly bulkSyncJobThreshold: number
  readonly delivery: { readonly enabled: boolean; readonly maxAttempts: number; readonly timeoutMs: number; readonly pollMs: number }
  readonly retention: { readonly eventsDays: number; readonly deliveryLogDays: number; readonly idempotencyDays: number }
  /** WooCommerce connector (#7): request timeout, drift grace, reconciliation schedule (0 minutes: off). */
  readonly woocommerce: { readonly requestTimeoutMs: number; readonly driftGraceMs: number; readonly reconcileMinutes: number; readonly storeLingerMs: number; readonly storeMaxWindowMs: number; readonly probeMs: number }
  /** JWT, signed requests, webhooks, rate limits, CORS (#5): see security/settings.ts and the README. */
  /** Bounds of one provider payload's JSONata evaluation (#14). */
  readonly providerMapping: { readonly timeoutMs: number; readonly heapMb: number }
  readonly security: SecuritySettings
  /** Alerts (#15): evaluation on/off, hysteresis units, outbox lag limit for the operational alert (0: none). */
  readonly alerts: { readonly enabled: boolean; readonly hysteresis: number; readonly outboxLagSeconds: number }
  /** /metrics (#15): a bearer token on the API port, and/or a loopback-only port without one; sampling interval. */
  readonly metrics: { readonly token: string | null; readonly port: number | null; readonly sampleSeconds: number }
  /** The same values with secrets masked: what may be logged. */
  redacted(): Record<string, unknown>
}

export class ConfigError extends Error {
  readonly problems: ReadonlyArray<string>
  constructor(problems: ReadonlyArray<string>) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // Treat empty variables as unset, the way shells and .env files usually mean them.
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = Schema.safeParse(clean)
  const security = loadSecuritySettings(clean)
  const problems = [...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)), ...security.problems]
  const sslProblem = urlSslModeProblem(clean.DATABASE_URL)
  if (sslProblem !== null) problems.push(sslProblem)
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems)
  const v = parsed.data
  const config: Config = {
    port: v.PORT,
    host: v.HOST,
    databaseUrl: v.DATABASE_URL,
    logLevel: v.LOG_LEVEL,
    bodyLimitBytes: v.BODY_LIMIT_BYTES,
    bulkBodyLimitBytes: v.BULK_BODY_LIMIT_BYTES,
    importBodyLimitBytes: v.IMPORT_BODY_LIMIT_BYTES,
    reservationSweepSeconds: v.RESERVATION_SWEEP_SECONDS,
    apiKeyCacheMs: v.API_KEY_CACHE_SECONDS * 1000,
    databasePoolSize: v.DATABASE_POOL_SIZE,
    databaseStatementTimeoutMs: v.DATABASE_STATEMENT_TIMEOUT_MS,
    databaseConnectTimeoutMs: v.DATABASE_CONNECT_TIMEOUT_MS,
    databaseSsl: v.DATABASE_SSL,
    databaseSslRootCert: v.DATABASE_SSL_ROOT_CERT,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    bulkSyncJobThreshold: v.BULK_SYNC_JOB_THRESHOLD,
    delivery: Object.freeze({ enabled: v.DELIVERY_WORKER === 'on', maxAttempts: v.DELIVERY_MAX_ATTEMPTS, timeoutMs: v.DELIVERY_TIMEOUT_MS, pollMs: v.DELIVERY_POLL_MS }),
    retention: Object.freeze({ eventsDays: v.RETENTION_EVENTS_DAYS, deliveryLogDays: v.RETENTION_DELIVERY_LOG_DAYS, idempotencyDays: v.RETENTION_IDEMPOTENCY_DAYS }),
    providerMapping: Object.freeze({ timeoutMs: v.PROVIDER_MAPPING_TIMEOUT_MS, heapMb: v.PROVIDER_MAPPING_HEAP_MB }),
    woocommerce: Object.freeze({
      requestTimeoutMs: v.WOO_REQUEST_TIMEOUT_MS,
      driftGraceMs: v.WOO_DRIFT_GRACE_MS,
      reconcileMinutes: v.WOO_RECONCILE_MINUTES,
      storeLingerMs: v.WOO_STORE_LINGER_MS,
      // The bound is never below the floor.
      storeMaxWindowMs: Math.max(v.WOO_STORE_LINGER_MS, v.WOO_STORE_MAX_WINDOW_MS),
      probeMs: v.WOO_PROBE_MS,
    }),
    security: Object.freeze(security.settings),
    alerts: Object.freeze({ enabled: v.ALERTS === 'on', hysteresis: v.ALERT_HYSTERESIS, outboxLagSeconds: v.ALERT_OUTBOX_LAG_SECONDS }),
    metrics: Object.freeze({ token: v.METRICS_TOKEN ?? null, port: v.METRICS_PORT ?? null, sampleSeconds: v.METRICS_SAMPLE_SECONDS }),
    redacted() {
      const { redacted: _omit, ...rest } = this
      return { ...rest, databaseUrl: this.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@'), security: redactSecuritySettings(this.security), metrics: { ...this.metrics, token: this.metrics.token === null ? null : '[redacted]' } }
    },
  }
  return Object.freeze(config)
}
