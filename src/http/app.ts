/**
 * @module http/app: the HTTP application. createApp never listens, so tests drive it in-process
 * with app.request() and main.ts hands it to a real server.
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import { ValidationError } from '../domain/errors.js'
import { isDatabaseReachable } from '../service/catalog.js'
import type { App, AppDeps, AppEnv } from './env.js'
import { authenticate } from './middleware/api-key.js'
import { limitBodies, limitJsonDepth } from './middleware/body.js'
import { logRequests } from './middleware/request-log.js'
import { stampResponses } from './middleware/response-headers.js'
import { errorHandler, fieldErrorsOf, problem } from './problem.js'
import { registerCatalogRoutes } from './routes/catalog.js'
import { registerDocsRoutes } from './routes/docs.js'
import { registerHistoryRoutes } from './routes/history.js'
import { registerReservationRoutes } from './routes/reservations.js'
import { registerStockReadRoute, registerStockRoutes } from './routes/stock.js'
import { registerEventRoutes } from './routes/events.js'
import { registerJobRoutes } from './routes/jobs.js'
import { registerSubscriptionRoutes } from './routes/subscriptions.js'
import { registerStoreRoutes } from './routes/stores.js'
import { registerPullRoutes } from './routes/pulls.js'
import { registerImportRoutes } from './routes/imports.js'
import { registerWooCommerceWebhookRoute } from './routes/woocommerce.js'
import { allowConfiguredOrigins } from './middleware/cors.js'
import { limitByClientIp, limitByPrincipal, limitRefusedAttempts } from './middleware/rate-limit.js'
import { registerWebhookRoutes, WEBHOOK_PATH_PREFIX } from './routes/webhooks.js'
import { resolveSecurity } from './security.js'

export const API_BASE = '/inventory/v1'
const VERSION = '0.1.0'

function newApi(): App {
  return new OpenAPIHono<AppEnv>({
    // Every schema failure becomes one 422 problem listing each failing field by JSON pointer.
    defaultHook: (result) => {
      if (!result.success) throw new ValidationError(fieldErrorsOf(result.error.issues))
    },
  })
}

export function createApp(deps: AppDeps): App {
  const app = newApi()
  const security = resolveSecurity(deps, deps.security)
  const onError = errorHandler(deps.log)
  app.onError(onError)
  app.notFound((c) => problem(c, 'route_not_found', `No route ${c.req.method} ${c.req.path}`))

  app.use('*', stampResponses())
  // CORS only for the configured origins (#5); before authentication so preflights get their answer.
  const cors = allowConfiguredOrigins(security.corsOrigins)
  if (cors) app.use('*', cors)
  app.use('*', logRequests(deps.log))
  // CSV imports stream their body under their own limit (routes/imports.ts).
  const bodies = limitBodies(deps.limits, [`${API_BASE}/stock/bulk-sync`])
  app.use('*', async (c, next) => (c.req.path === `${API_BASE}/imports` ? next() : bodies(c, next)))
  app.use('*', limitJsonDepth([`${API_BASE}${WEBHOOK_PATH_PREFIX}`]))
  // Routes without a credential draw on the client IP's budget (#5); /healthz stays unlimited for probes.
  const isPublic = (path: string) => path === `${API_BASE}/openapi.json` || path.startsWith(`${API_BASE}${WEBHOOK_PATH_PREFIX}`)
  const limits = security.rateLimits
  if (limits) {
    const byIp = limitByClientIp(limits, security.trustProxyHops, deps.log)
    app.use('*', async (c, next) => (isPublic(c.req.path) || c.req.path === '/' || c.req.path === '/docs' || c.req.path.startsWith('/docs/') ? byIp(c, next) : next()))
  }

  app.get('/', (c) => c.json({ name: 'stockbridge', version: VERSION, api: API_BASE, openapi: `${API_BASE}/openapi.json`, docs: '/docs', health: '/healthz' }))
  app.get('/healthz', async (c) =>
    (await isDatabaseReachable(deps))
      ? c.json({ status: 'ok', database: 'ok', version: VERSION })
      : c.json({ status: 'unavailable', database: 'unreachable', version: VERSION }, 503),
  )
  registerDocsRoutes(app)

  const api = newApi()
  api.onError(onError)
  api.openAPIRegistry.registerComponent('securitySchemes', 'ApiKey', { type: 'apiKey', in: 'header', name: 'X-API-Key' })
  api.openAPIRegistry.registerComponent('securitySchemes', 'Bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'stockbridge inventory API',
      version: VERSION,
      description: 'One true stock figure per SKU and warehouse. Errors are application/problem+json (RFC 9457) with a stable `code`.',
    },
    servers: [{ url: API_BASE }],
    security: [{ ApiKey: [] }, { Bearer: [] }],
  })
  // Everything under the base but the OpenAPI document and provider webhooks (signed with their own
  // secrets) needs a credential: an API key (optionally a signed request) or a bearer JWT (#5).
  const auth = authenticate({
    verifier: deps.verifier,
    jwt: security.jwt,
    nonces: security.nonces,
    signatureToleranceSeconds: security.signatureToleranceSeconds,
    clock: deps.clock,
    log: deps.log,
    ...(limits ? { onRefused: limitRefusedAttempts(limits, security.trustProxyHops, deps.log) } : {}),
  })
  api.use('*', async (c, next) => (isPublic(c.req.path) ? next() : auth(c, next)))
  if (limits) {
    const byPrincipal = limitByPrincipal(limits, deps.log)
    api.use('*', async (c, next) => (isPublic(c.req.path) ? next() : byPrincipal(c, next)))
  }
  registerWebhookRoutes(api, deps, security.webhooks)
  registerStockRoutes(api, deps)
  registerHistoryRoutes(api, deps)
  registerStockReadRoute(api, deps)
  registerReservationRoutes(api, deps)
  registerCatalogRoutes(api, deps)
  registerSubscriptionRoutes(api, deps)
  registerEventRoutes(api, deps)
  registerJobRoutes(api, deps)
  registerStoreRoutes(api, deps)
  registerPullRoutes(api, deps)
  registerImportRoutes(api, deps)
  // WooCommerce deliveries carry their own signature, not an API key: registered ahead of the API's authentication.
  registerWooCommerceWebhookRoute(app, deps, API_BASE)
  app.route(API_BASE, api)
  return app
}
