/** @module server: the composition root of a running node: HTTP server, periodic tasks, graceful stop. */
import { serve, type ServerType } from '@hono/node-server'
import type { Server } from 'node:http'
import { answerClientErrors } from './http/client-errors.js'
import type { Config } from './config.js'
import { createApp } from './http/app.js'
import { ApiKeyVerifier } from './service/api-keys.js'
import { createSecurityDeps } from './http/security.js'
import { expireReservations } from './service/reservations.js'
import type { Runtime } from './runtime.js'
import { pruneOldRecords } from './service/retention.js'
import { listenForNotifications } from './store/listen.js'
import { subscriptionResolver } from './sync/subscription-destinations.js'
import { DeliveryWorker } from './sync/worker.js'
import { JobRunner } from './service/jobs.js'
import { storeJobHandlers } from './service/store-jobs.js'
import { connectorFor, dropConnector } from './service/woocommerce-runtime.js'
import { AlertEvaluator } from './service/alerts.js'
import { ObservabilitySampler } from './service/observability.js'
import { alertChannelResolver } from './connectors/alert-channels/destination.js'
import { metricsOnlyFetch } from './http/routes/observability.js'
import { renderMetrics } from './observability/metrics.js'
import { closeMappingRunner, mappingRunner, useMappingLimits } from './service/provider-mapping.js'
import { PullScheduler } from './connectors/pulls/run.js'
import { usePullSealKey } from './store/pull-repo.js'
import { sealAlertChannelSecrets, useAlertSealKey } from './store/alert-repo.js'

const HOUR = 60 * 60 * 1000

export interface RunningServer {
  readonly url: string
  readonly port: number
  stop(): Promise<void>
}

/** Start serving. Resolves once the port is bound. */
export async function startServer(config: Config, rt: Runtime): Promise<RunningServer> {
  const { deps } = rt
  // Alert channel secrets (#15): sealed with KEY_ENCRYPTION_KEY, including any stored before sealing existed.
  useAlertSealKey(config.security.keyEncryptionKey)
  const resealed = await sealAlertChannelSecrets(deps.store.db)
  if (resealed > 0) deps.log.info({ channels: resealed }, 'sealed alert channel secrets stored in the clear')
  // JWT, nonce store, rate limits (Redis when REDIS_URL is set), webhook providers, CORS (#5).
  const security = await createSecurityDeps(config, deps)
  const verifier = new ApiKeyVerifier(deps, config.apiKeyCacheMs, config.security.keyEncryptionKey)
  // Provider webhooks map payloads in a worker thread (#14): start it now rather than on the first delivery.
  useMappingLimits(config.providerMapping)
  mappingRunner().warm()

  // The expiry sweeper: releases reservations past their expiry. Safe on several nodes at once.
  let sweeping: Promise<unknown> = Promise.resolve()
  const sweep = setInterval(() => {
    sweeping = expireReservations(deps)
      .then((n) => n > 0 && deps.log.info({ expired: n }, 'released expired reservations'))
      .catch((e: unknown) => deps.log.warn({ err: e }, 'reservation sweep failed'))
  }, config.reservationSweepSeconds * 1000)
  sweep.unref()

  // Commits on other nodes wake this node's worker and live streams (PostgreSQL NOTIFY); this
  // node's own commits woke it already. A changed API key, on any node or from the CLI, drops the
  // verified keys this node holds (SQLite: the verifier reads the file's key change count instead).
  const listener = listenForNotifications(
    config.databaseUrl,
    { outbox: (origin) => origin !== deps.store.nodeId && deps.events.notify(true), apiKeys: () => verifier.invalidate() },
    (e) => deps.log.warn({ err: e }, 'database listener lost its connection; reconnecting'),
    { sslMode: config.databaseSsl, sslRootCertFile: config.databaseSslRootCert, connectTimeoutMs: config.databaseConnectTimeoutMs },
  )
  // WooCommerce stores (#7): `sto_` targets go to their store, the rest to subscriptions; received
  // webhooks are worked off from a queue; drift is reconciled on a schedule.
  const woo = connectorFor(deps, { ...config.woocommerce, sealKey: config.security.keyEncryptionKey })
  const worker = config.delivery.enabled
    ? new DeliveryWorker(deps, alertChannelResolver(deps, config.delivery.timeoutMs, woo.resolver(subscriptionResolver(deps.store.db, config.delivery.timeoutMs))), {
        workerId: `${process.pid}-${deps.ids.next('wrk')}`,
        maxAttempts: config.delivery.maxAttempts,
        pollMs: config.delivery.pollMs,
        // A claim can fill a store's 4 parallel batch requests of 100 items (#7); the worker keeps
        // claiming while deliveries are in flight, each target bounded by its own lanes.
        batchSize: 400,
      })
    : null
  worker?.start()
  woo.start()
  // Alerts (#15): evaluated from committed events, off the write path; figures for /metrics and
  // the operational alerts sampled in the background.
  const evaluator = config.alerts.enabled ? new AlertEvaluator(deps, { hysteresis: config.alerts.hysteresis, pageSize: 500 }) : null
  evaluator?.start()
  const sampler = new ObservabilitySampler(deps, { intervalMs: config.metrics.sampleSeconds * 1000, outboxLagAlertSeconds: config.alerts.enabled ? config.alerts.outboxLagSeconds : 0, deadLetterAlerts: config.alerts.enabled })
  sampler.start()
  let workerRunning = worker !== null
  const app = createApp({
    ...deps,
    verifier,
    security,
    limits: { bodyBytes: config.bodyLimitBytes, bulkBodyBytes: config.bulkBodyLimitBytes, bulkSyncJobThreshold: config.bulkSyncJobThreshold, importBodyBytes: config.importBodyLimitBytes },
    observability: {
      metricsToken: config.metrics.token,
      readiness: { deliveryWorkerRunning: () => (worker ? workerRunning : null), alertEvaluatorRunning: () => (evaluator ? evaluator.running : null) },
    },
    adminUi: { sealKey: config.security.keyEncryptionKey },
  })
  // Render the metrics once now: the first scrape would otherwise pay for compiling the exposition
  // code and the first collection of the process metrics (tens of milliseconds, #15).
  void renderMetrics().catch((e: unknown) => deps.log.warn({ err: e }, 'rendering the metrics failed'))
  // METRICS_PORT: /metrics without a token, bound to loopback only (a scraper on the same host or a sidecar).
  const metricsServer: ServerType | null =
    config.metrics.port === null ? null : await new Promise((resolve) => {
      const s = serve({ fetch: metricsOnlyFetch, hostname: '127.0.0.1', port: config.metrics.port! }, () => resolve(s))
    })
  // Bulk syncs, and a store's map, sync and reconcile queued over HTTP.
  const jobs = new JobRunner(deps, `${process.pid}-${deps.ids.next('job')}`, { handlers: storeJobHandlers(deps) })
  jobs.start()
  // Scheduled pulls from warehouse APIs (#14): every node polls, a lease per source runs each once.
  usePullSealKey(config.security.keyEncryptionKey)
  const pulls = new PullScheduler(deps, `${process.pid}-${deps.ids.next('pll')}`)
  pulls.start()

  let pruning: Promise<unknown> = Promise.resolve()
  const prune = setInterval(() => {
    pruning = pruneOldRecords(deps, config.retention)
      .then((r) => deps.log.info(r, 'pruned old records'))
      .catch((e: unknown) => deps.log.warn({ err: e }, 'retention pruning failed'))
  }, HOUR)
  prune.unref()

  let server: ServerType
  try {
    server = await new Promise((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => {
        s.off('error', reject)
        resolve(s)
      })
      // A port taken between the start-up check and here: fail the start instead of an unhandled 'error'.
      s.once('error', reject)
    })
  } catch (e) {
    clearInterval(sweep)
    clearInterval(prune)
    await worker?.stop()
    await woo.stop()
    dropConnector(deps)
    await jobs.stop()
    await pulls.stop()
    await listener.close()
    await evaluator?.stop()
    await sampler.stop()
    if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()))
    await security.close()
    await closeMappingRunner()
    throw e
  }
  answerClientErrors(server as Server)
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`

  return {
    url,
    port,
    async stop() {
      clearInterval(sweep)
      clearInterval(prune)
      await evaluator?.stop()
      await sampler.stop()
      workerRunning = false
      await worker?.stop()
      await woo.stop()
      dropConnector(deps)
      await jobs.stop()
      await pulls.stop()
      await listener.close()
      // Stop accepting, let in-flight requests finish, then close idle keep-alive sockets.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      if ('closeIdleConnections' in server) server.closeIdleConnections()
      const timer = setTimeout(() => 'closeAllConnections' in server && server.closeAllConnections(), config.shutdownTimeoutMs)
      await closed
      clearTimeout(timer)
      await sweeping
      await pruning
      await security.close()
      if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()))
      // The provider mappings' worker thread (#14), once no request can need it.
      await closeMappingRunner()
    },
  }
}
