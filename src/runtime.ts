/** @module runtime: wiring shared by the server and the CLI: config → store (migrated) → service deps. */
import pino from 'pino'
import type { Config } from './config.js'
import { openStore, type Store } from './store/db.js'
import { migrateToLatest } from './store/migrate.js'
import { systemClock, ulidIds, type ServiceDeps } from './service/deps.js'
import { EventBus, subscriptionTargets } from './service/event-bus.js'
import { storeTargets } from './service/stores.js'

/** Secrets never reach the logs (#5): credentials in headers, and any field named like a secret, one level deep. */
const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers["x-signature"]',
  'headers["x-api-key"]',
  'headers.authorization',
  ...['key', 'secret', 'signing_secret', 'signingSecret', 'token', 'password', 'hs256Secret', 'keyEncryptionKey'].flatMap((f) => [f, `*.${f}`]),
]

export function createLogger(config: Config, destination?: pino.DestinationStream) {
  return pino({ level: config.logLevel, base: { service: 'stockbridge' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination)
}

export interface Runtime {
  readonly deps: ServiceDeps
  readonly store: Store
  readonly migrated: ReadonlyArray<string>
  close(): Promise<void>
}

/** Open the configured database and bring its schema up to date. */
export async function openRuntime(config: Config, log = createLogger(config)): Promise<Runtime> {
  const store = openStore(config.databaseUrl, {
    backgroundCheckpoints: true,
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    sslMode: config.databaseSsl,
    sslRootCertFile: config.databaseSslRootCert,
  })
  try {
    const { applied } = await migrateToLatest(store.db, store.caps)
    const deps: ServiceDeps = { store, clock: systemClock, ids: ulidIds(), log, events: new EventBus([subscriptionTargets, storeTargets]) }
    return { deps, store, migrated: applied, close: () => store.close() }
  } catch (e) {
    await store.close()
    throw e
  }
}
