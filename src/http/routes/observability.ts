/**
 * @module http/routes/observability: /livez, /readyz and /metrics (#15), outside the API's
 * authentication: probes and scrapers carry no API key.
 */
import type { Hono, MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { timingSafeEqual, createHash } from 'node:crypto'
import { httpRequestDuration, renderMetrics } from '../../observability/metrics.js'
import { checkReadiness, type ReadinessProbe } from '../../service/observability.js'
import type { ServiceDeps } from '../../service/deps.js'
import { problem } from '../problem.js'

export interface ObservabilityOptions {
  /** Bearer token /metrics requires on the API port; null: /metrics is not served there (use METRICS_PORT). */
  readonly metricsToken?: string | null
  readonly readiness?: ReadinessProbe
}

/** Request durations by route pattern (never the raw path: ids and SKUs would make labels unbounded). */
export function measureRequests(): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now()
    try {
      await next()
    } finally {
      let route = 'unmatched'
      try {
        const p = routePath(c, -1)
        if (p && !p.endsWith('*')) route = p
      } catch {
        // no route matched
      }
      httpRequestDuration.observe({ method: c.req.method, route, status: String(c.res.status) }, (performance.now() - started) / 1000)
    }
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest()

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function registerObservabilityRoutes(app: Hono<any>, deps: ServiceDeps, o: ObservabilityOptions): void {
  app.get('/livez', (c) => c.json({ status: 'ok' }))
  app.get('/readyz', async (c) => {
    const r = await checkReadiness(deps, o.readiness)
    const failing = r.checks.filter((x) => !x.ok).map((x) => x.name)
    return c.json({ status: r.ready ? 'ready' : 'not_ready', ...(failing.length ? { failing } : {}), checks: Object.fromEntries(r.checks.map((x) => [x.name, { ok: x.ok, detail: x.detail }])) }, r.ready ? 200 : 503)
  })
  const token = o.metricsToken ?? null
  app.get('/metrics', async (c) => {
    if (token === null) return problem(c, 'route_not_found', 'Metrics are served on METRICS_PORT, or here with METRICS_TOKEN set')
    const given = /^Bearer (.+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? ''
    // Compared as hashes: constant time whatever the lengths.
    if (!timingSafeEqual(digest(given), digest(token))) {
      return problem(c, 'metrics_unauthorized', 'Send Authorization: Bearer <METRICS_TOKEN>', {}, { 'www-authenticate': 'Bearer realm="metrics"' })
    }
    const m = await renderMetrics()
    return c.body(m.body, 200, { 'content-type': m.contentType, 'cache-control': 'no-store' })
  })
}

/** The app METRICS_PORT serves on loopback: /metrics without a token, plus the probes. */
export async function metricsOnlyFetch(req: Request): Promise<Response> {
  const url = new URL(req.url)
  if (req.method === 'GET' && url.pathname === '/metrics') {
    const m = await renderMetrics()
    return new Response(m.body, { status: 200, headers: { 'content-type': m.contentType, 'cache-control': 'no-store' } })
  }
  return new Response(JSON.stringify({ type: 'about:blank', title: 'No such route', status: 404, code: 'route_not_found' }), { status: 404, headers: { 'content-type': 'application/problem+json' } })
}
