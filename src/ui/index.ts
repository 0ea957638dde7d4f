/**
 * @module ui: the admin web UI under /admin (#16), served by the API's own process. Server-rendered
 * HTML (hono/html, escaping every value), htmx 4 for partial updates, Server-Sent Events for live
 * figures, uPlot for the chart; every asset from npm, served locally; a strict CSP with no inline
 * script or style. An HTTP adapter like http/routes: it calls service/ only.
 *
 * Pages are modules listed in PAGES, in navigation order: a new capability (imports, alerts) adds
 * its page module here and nothing else changes.
 */
import { Hono } from 'hono'
import { DomainError, ERROR_CATALOG } from '../domain/errors.js'
import { isSku } from '../domain/sku.js'
import { streamStockEvents } from '../http/routes/events.js'
import { serveAsset } from './assets.js'
import type { UiContext, UiDeps, UiEnv } from './context.js'
import { html, notice } from './html.js'
import { renderBare, renderPage, type NavEntry, type PageOptions } from './layout.js'
import { registerLogin, registerLogout, requireSession } from './session.js'
import type { Html } from './html.js'
import { overviewPage } from './pages/overview.js'
import { stockPage } from './pages/stock.js'
import { skuPage } from './pages/sku.js'
import { warehousesPage } from './pages/warehouses.js'
import { storesPage } from './pages/stores.js'
import { eventsPage } from './pages/events.js'
import { inboundPage } from './pages/inbound.js'
import { keysPage } from './pages/keys.js'
import { alertsPage } from './pages/alerts.js'
import { providersPage } from './pages/providers.js'
import { importsPage } from './pages/imports.js'

export type UiApp = Hono<UiEnv>

export type Render = (c: UiContext, o: PageOptions, body: Html, status?: 200 | 201 | 400 | 403 | 404 | 409 | 422 | 502) => Response | Promise<Response>

export interface UiPage {
  /** Shown in the navigation when present. */
  readonly nav?: NavEntry
  register(ui: UiApp, deps: UiDeps, render: Render): void
}

export const PAGES: ReadonlyArray<UiPage> = [overviewPage, stockPage, skuPage, warehousesPage, storesPage, eventsPage, alertsPage, providersPage, importsPage, inboundPage, keysPage]

/**
 * Admin pages forbid everything but this origin's own files: no inline script or style attribute,
 * no framing, forms only to this origin. (The API's default CSP allows inline styles for /docs.)
 */
export const ADMIN_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

export function createAdminUi(deps: UiDeps): UiApp {
  const ui = new Hono<UiEnv>()
  const nav = PAGES.flatMap((p) => (p.nav ? [p.nav] : []))
  const render: Render = (c, o, body, status = 200) => c.html(renderPage(c, nav, o, body), status)

  ui.use('*', async (c, next) => {
    await next()
    c.header('content-security-policy', ADMIN_CSP)
    c.header('x-frame-options', 'DENY')
    c.header('cache-control', c.req.path.startsWith('/admin/assets/') ? (c.res.headers.get('cache-control') ?? 'no-store') : 'no-store')
  })
  ui.onError((e, c) => {
    if (e instanceof DomainError && ERROR_CATALOG[e.code].status === 404) return c.html(renderBare('Not found', notice('bad', e.message)), 404)
    deps.log.error({ err: e, path: c.req.path }, 'admin UI request failed')
    return c.html(renderBare('Something went wrong', notice('bad', html`The page could not be built. The error is in the server log${c.get('requestId') ? html` (request ${c.get('requestId')})` : ''}.`)), 500)
  })
  ui.notFound((c) => c.html(renderBare('Not found', html`<p>No admin page here. <a href="/admin">Go to the overview</a>.</p>`), 404))

  ui.get('/assets/:name', (c) => serveAsset(c, c.req.param('name')))
  registerLogin(ui, deps)
  ui.use('*', requireSession(deps))
  registerLogout(ui, deps)

  // Live figures: the API's own event stream (http/routes/events), behind the session instead of an API key.
  ui.get('/stream', async (c) => {
    const skus = (c.req.query('skus') ?? '').split(',').filter(Boolean).slice(0, 500)
    if (skus.some((s) => !isSku(s))) return c.text('Invalid SKU list', 422)
    return streamStockEvents(c, deps, { skus: skus.length ? skus : null, warehouses: null }, undefined)
  })

  for (const p of PAGES) p.register(ui, deps, render)
  return ui
}
