/**
 * @module ui/pages/alerts: open alerts with acknowledge, closed ones on request, and the alert
 * channels with their last delivery and a test send (#15, #16). Channels are admin-only, as in
 * the API: their configuration says where alerts go.
 */
import { ALERT_KINDS, ALERT_SCOPES } from '../../domain/alerts.js'
import { acknowledgeAlert, listAlerts } from '../../service/alerts.js'
import { listChannels } from '../../service/alert-channels.js'
import { testChannel, type TestResult } from '../../connectors/alert-channels/test-message.js'
import { listWarehouses } from '../../service/catalog.js'
import { listDeliveryAttempts } from '../../service/subscriptions.js'
import { can, type UiContext } from '../context.js'
import { explainError, statusOf } from '../forms.js'
import { badge, html, notice, num, skuPath, when, type Html } from '../html.js'
import type { UiPage } from '../index.js'
import { actionButton, warehouseLabel } from './common.js'

const STATES = ['open', 'all', 'closed'] as const

function statusBadge(s: string): Html {
  return s === 'open' ? badge('bad', 'open') : s === 'acknowledged' ? badge('warn', 'acknowledged') : badge('muted', s)
}

function testOutcome(name: string, r: TestResult): Html {
  return r.ok
    ? notice('ok', html`<strong>Channel ${name} accepted the test message.</strong> It answered${r.status !== null ? html` ${r.status}` : ''}: <span data-channel-answer>${r.detail}</span>`)
    : notice('bad', html`<strong>Channel ${name} did not accept the test message.</strong> It answered${r.status !== null ? html` ${r.status}` : ''}: <span data-channel-answer>${r.detail}</span>`)
}

export const alertsPage: UiPage = {
  nav: { path: '/admin/alerts', label: 'Alerts' },
  register(ui, deps, render) {
    async function page(c: UiContext, outcome: Html | null = null, status: 200 | 403 | 404 | 409 | 422 | 400 | 502 = 200) {
      const q = c.req.query('state')
      const state = (STATES as ReadonlyArray<string>).includes(q ?? '') ? (q as (typeof STATES)[number]) : 'open'
      const admin = can(c, 'admin')
      const [alerts, warehouses, channels] = await Promise.all([listAlerts(deps, { state, limit: 200 }), listWarehouses(deps), admin ? listChannels(deps) : Promise.resolve([])])
      const lastAttempt = await Promise.all(channels.map(async (ch) => (await listDeliveryAttempts(deps, ch.id, undefined, 1))[0] ?? null))
      const byId = new Map(warehouses.map((w) => [w.id, w] as const))
      const write = can(c, 'write')
      const csrf = c.get('csrf')
      const back = state === 'open' ? '' : `?state=${state}`
      return render(
        c,
        { title: 'Alerts', current: '/admin/alerts' },
        html`${outcome ?? ''}
<h2>${state === 'open' ? 'Open alerts' : state === 'closed' ? 'Closed alerts' : 'All alerts'}</h2>
<p class="hint">Show: ${STATES.map((s, i) => html`${i ? ' · ' : ''}${s === state ? html`<strong>${s}</strong>` : html`<a href="/admin/alerts${s === 'open' ? '' : `?state=${s}`}">${s}</a>`}`)}. Open alerts stay listed, acknowledged or not, until the figure recovers.</p>
${alerts.length === 0
  ? html`<p class="muted">${state === 'open' ? 'No open alert.' : 'No alert.'}</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Kind</th><th scope="col" class="hide-narrow">Scope</th><th scope="col" class="wrap">SKU or subject</th><th scope="col" class="hide-narrow">Warehouse</th><th scope="col" class="n hide-narrow">Available</th><th scope="col" class="n hide-narrow">Threshold</th><th scope="col" class="hide-narrow">Raised</th><th scope="col">State</th>${write ? html`<th scope="col">Action</th>` : ''}</tr></thead><tbody>
${alerts.map(
  (a) => html`<tr data-alert="${a.id}"><td>${a.kind}</td><td class="hide-narrow">${a.scope}</td><td class="subject">${a.sku !== null ? html`<a href="${skuPath(a.sku)}">${a.sku}</a>` : (a.subject ?? '')}${a.detail ? html` <span class="hint">${a.detail}</span>` : ''}</td>
<td class="hide-narrow">${a.warehouseId !== null ? warehouseLabel(byId, a.warehouseId) : a.scope === 'total' ? 'all' : ''}</td><td class="n hide-narrow">${a.available !== null ? num(a.available) : ''}</td><td class="n hide-narrow">${a.threshold !== null ? num(a.threshold) : ''}</td>
<td class="hide-narrow">${when(a.raisedAt)}</td><td>${statusBadge(a.status)}${a.acknowledgedBy ? html` <span class="hint">by ${a.acknowledgedBy}</span>` : ''}${a.closedAt !== null ? html` <span class="hint">${when(a.closedAt)}</span>` : ''}</td>
${write ? html`<td>${a.status === 'open' ? actionButton(`/admin/alerts/${encodeURIComponent(a.id)}/acknowledge${back}`, csrf, 'Acknowledge') : ''}</td>` : ''}</tr>`,
)}
</tbody></table></div>`}
<h2>Alert channels</h2>
${!admin
  ? html`<p class="muted">Listing alert channels needs a key with the admin scope.</p>`
  : channels.length === 0
    ? html`<p class="muted">No alert channel: alerts are listed here and in <code>GET /inventory/v1/alerts</code> only. Add one with <code>POST /inventory/v1/alert-channels</code> or <code>alerts channels add</code>.</p>`
    : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col" class="hide-narrow">Mode</th><th scope="col" class="hide-narrow">Alert kinds</th><th scope="col">State</th><th scope="col" class="hide-narrow">Last delivery</th><th scope="col">Test</th></tr></thead><tbody>
${channels.map((ch, i) => {
  const last = lastAttempt[i]
  return html`<tr data-channel="${ch.id}"><td>${ch.name}</td><td>${ch.kind}</td><td class="hide-narrow">${ch.mode}${ch.mode === 'digest' ? html` <span class="hint">every ${num(ch.digestSeconds)} s</span>` : ''}</td><td class="hide-narrow">${ch.kinds.length === ALERT_KINDS.length ? 'all kinds' : ch.kinds.join(', ')}; ${ch.scopes.length === ALERT_SCOPES.length ? 'all scopes' : ch.scopes.join(', ')}</td>
<td>${ch.isActive ? badge('ok', 'active') : badge('muted', 'paused')}</td>
<td class="hide-narrow">${last ? html`${when(last.attempted_at)} · ${last.outcome === 'ok' ? badge('ok', 'delivered') : badge('bad', last.outcome)}${last.status_code ? ` ${last.status_code}` : ''}${last.error ? html` <span class="hint">${last.error}</span>` : ''}` : html`<span class="muted">none yet</span>`}</td>
<td>${actionButton(`/admin/alert-channels/${encodeURIComponent(ch.id)}/test`, csrf, 'Send test')}</td></tr>`
})}
</tbody></table></div>`}`,
        status,
      )
    }
    ui.get('/alerts', (c) => page(c))
    ui.post('/alerts/:id/acknowledge', async (c) => {
      if (!can(c, 'write')) return page(c, notice('bad', 'Acknowledging needs a key with the write scope.'), 403)
      try {
        const a = await acknowledgeAlert(deps, c.req.param('id'), c.get('key').id)
        return page(c, notice('ok', html`Acknowledged alert ${a.id} (${a.kind}${a.sku ? ` on ${a.sku}` : a.subject ? ` for ${a.subject}` : ''}). It stays listed until it recovers.`))
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
    ui.post('/alert-channels/:id/test', async (c) => {
      if (!can(c, 'admin')) return page(c, notice('bad', 'Sending a test needs a key with the admin scope.'), 403)
      try {
        const [ch] = (await listChannels(deps)).filter((x) => x.id === c.req.param('id'))
        const r = await testChannel(deps, c.req.param('id'))
        return page(c, testOutcome(ch?.name ?? c.req.param('id'), r), r.ok ? 200 : 502)
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
  },
}
