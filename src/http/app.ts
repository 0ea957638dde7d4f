/**
 * @module http/app: the HTTP application. createApp never listens, so tests drive it in-process
 * with app.request() and main.ts hands it to a real server.
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context, Next } from 'hono'
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
import { registerProviderRoutes } from './routes/providers.js'
import { documentWooCommerceWebhookRoute, registerWooCommerceWebhookRoute } from './routes/woocommerce.js'
import { registerPullRoutes } from './routes/pulls.js'
import { IMPORT_DEFAULTS, registerImportRoutes } from './routes/imports.js'
import { allowConfiguredOrigins } from './middleware/cors.js'
import { limitByClientIp, limitByPrincipal, limitRefusedAttempts } from './middleware/rate-limit.js'
import { registerWebhookRoutes, WEBHOOK_PATH_PREFIX } from './routes/webhooks.js'
import { resolveSecurity } from './security.js'
import { KeptAnswers } from '../service/kept-answers.js'
import { registerAlertRoutes } from './routes/alerts.js'
import { measureRequests, registerObservabilityRoutes } from './routes/observability.js'
import { createAdminUi } from '../ui/index.js'

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

/** The methods routes answer on this path (middleware aside), for a 405's Allow header. */
function allowedMethods(app: App, path: string): string[] {
  const out = new Set<string>()
  for (const r of app.routes) {
    if (r.method === 'ALL' || r.path.includes('*')) continue
    const pattern = new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+(\\\{[^}]*\\\})?/g, '[^/]+')}$`)
    if (pattern.test(path)) out.add(r.method.toUpperCase())
  }
  if (out.has('GET')) out.add('HEAD')
  return [...out].sort()
}

/** A path whose percent-encoding is not UTF-8 cannot name anything: 422, before a route reads it raw. */
function refuseBrokenPercentEncoding() {
  return async function percentEncoding(c: Context, next: Next) {
    const url = c.req.url
    const start = url.indexOf('/', url.indexOf('//') + 2)
    const end = url.indexOf('?', start)
    const raw = end === -1 ? url.slice(start) : url.slice(start, end)
    if (raw.includes('%')) {
      try {
        decodeURIComponent(raw)
      } catch {
        return problem(c, 'validation_failed', 'The path is not valid percent-encoded UTF-8', { errors: [{ pointer: '', message: 'the path must be percent-encoded UTF-8' }] })
      }
    }
    return next()
  }
}

export function createApp(deps: AppDeps): App {
  const app = newApi()
  const security = resolveSecurity(deps, deps.security)
  const onError = errorHandler(deps.log)
  app.onError(onError)
  // A path that exists under other methods is 405 with Allow, not 404 (#12).
  app.notFound((c) => {
    const allow = allowedMethods(app, c.req.path)
    if (allow.length > 0) return problem(c, 'method_not_allowed', `${c.req.method} is not accepted on ${c.req.path}; use ${allow.join(' or ')}`, { allow }, { allow: allow.join(', ') })
    return problem(c, 'route_not_found', `No route ${c.req.method} ${c.req.path}`)
  })

  app.use('*', stampResponses())
  app.use('*', measureRequests())
  // CORS only for the configured origins (#5); before authentication so preflights get their answer.
  const cors = allowConfiguredOrigins(security.corsOrigins)
  if (cors) app.use('*', cors)
  app.use('*', logRequests(deps.log))
  // CSV imports stream their body under their own limit (routes/imports.ts); the admin UI's upload
  // form (multipart, read whole) gets the import limit plus room for the form's other fields.
  const bodies = limitBodies(deps.limits, [`${API_BASE}/stock/bulk-sync`])
  const importLimits = { maxBytes: deps.limits.importBodyBytes ?? IMPORT_DEFAULTS.maxBytes, jobRows: deps.limits.importJobThreshold ?? IMPORT_DEFAULTS.jobRows }
  const uploadBytes = importLimits.maxBytes + 64 * 1024
  const uploads = limitBodies({ bodyBytes: uploadBytes, bulkBodyBytes: uploadBytes }, [])
  app.use('*', async (c, next) => (c.req.path === `${API_BASE}/imports` ? next() : c.req.path === '/admin/imports' ? uploads(c, next) : bodies(c, next)))
  app.use('*', refuseBrokenPercentEncoding())
  // The JSON depth limit runs after authentication (in the API below), so a caller without a
  // credential learns that first (#12); WooCommerce deliveries, signed on their own, keep it here.
  app.use(`${API_BASE}/woocommerce/*`, limitJsonDepth())
  // Routes without a credential draw on the client IP's budget (#5); /healthz stays unlimited for probes.
  const isPublic = (path: string) => path === `${API_BASE}/openapi.json` || path.startsWith(`${API_BASE}${WEBHOOK_PATH_PREFIX}`)
  const limits = security.rateLimits
  if (limits) {
    const byIp = limitByClientIp(limits, security.trustProxyHops, deps.log)
    app.use('*', async (c, next) => (isPublic(c.req.path) || c.req.path === '/' || c.req.path === '/docs' || c.req.path.startsWith('/docs/') ? byIp(c, next) : next()))
  }

  app.get('/', (c) => c.json({ name: 'stockbridge', version: VERSION, api: API_BASE, openapi: `${API_BASE}/openapi.json`, docs: '/docs', admin: '/admin', health: '/healthz' }))
  app.get('/healthz', async (c) =>
    (await isDatabaseReachable(deps))
      ? c.json({ status: 'ok', database: 'ok', version: VERSION })
      : c.json({ status: 'unavailable', database: 'unreachable', version: VERSION }, 503),
  )
  registerDocsRoutes(app)
  // Probes and scrapers carry no API key (#15).
  registerObservabilityRoutes(app, deps, deps.observability ?? {})

  const api = newApi()
  // No onError of its own: app.route() would then wrap every middleware and handler of the API in
  // a compose() of its own (five or six per request). Errors thrown here reach the same handler
  // through the outer app's compose, at the level they were thrown.
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
  api.use('*', limitJsonDepth([`${API_BASE}${WEBHOOK_PATH_PREFIX}`]))
  // Stock read answers kept between writes (service/kept-answers.ts), shared by single and batch reads.
  const answers = new KeptAnswers(deps)
  const providers = { sealKey: security.keyEncryptionKey, envProviders: security.webhooks }
  registerWebhookRoutes(api, deps, providers)
  registerStockRoutes(api, deps, answers)
  // POST-only paths under /stock/ that GET /stock/{sku} would otherwise read as SKUs.
  api.on(['GET', 'PUT', 'PATCH', 'DELETE'], ['/stock/update', '/stock/bulk-sync', '/stock/transfer'], (c) =>
    problem(c, 'method_not_allowed', `${c.req.method} is not accepted on ${c.req.path}; use POST`, { allow: ['POST'] }, { allow: 'POST' }),
  )
  registerHistoryRoutes(api, deps)
  registerStockReadRoute(api, deps, answers)
  registerReservationRoutes(api, deps)
  registerCatalogRoutes(api, deps)
  registerSubscriptionRoutes(api, deps)
  registerEventRoutes(api, deps)
  registerJobRoutes(api, deps)
  registerStoreRoutes(api, deps)
  registerAlertRoutes(api, deps)
  registerProviderRoutes(api, deps, providers)
  registerPullRoutes(api, deps)
  registerImportRoutes(api, deps)
  // WooCommerce deliveries carry their own signature, not an API key: registered ahead of the API's authentication.
  registerWooCommerceWebhookRoute(app, deps, API_BASE)
  documentWooCommerceWebhookRoute(api)
  app.route(API_BASE, api)
  // The admin UI (#16): session cookies instead of API keys, HTML instead of problem+json.
  app.get('/admin/', (c) => c.redirect('/admin', 301))
  app.route('/admin', createAdminUi({ ...deps, providers, importLimits, ...(deps.adminUi?.sealKey !== undefined ? { sealKey: deps.adminUi.sealKey } : {}), ...(deps.adminUi?.session ? { session: deps.adminUi.session } : {}) }))
  return app
}
