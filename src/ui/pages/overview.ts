/** @module ui/pages/overview: the first screen: how much, where, and what is wrong (#16). */
import { stockCounts } from '../../service/admin-views.js'
import { listAlerts } from '../../service/alerts.js'
import { deliveryBacklogOf } from '../../service/delivery-stats.js'
import { getHistory } from '../../service/history.js'
import { listStores } from '../../service/stores.js'
import { listDeadLetters, listDeliveryAttempts } from '../../service/subscriptions.js'
import type { UiPage } from '../index.js'
import { ago, html, num, skuPath, when, type Html } from '../html.js'
import { healthBadge } from './common.js'

function tile(label: string, value: string, href?: string): Html {
  return html`<div class="tile"><div class="label">${label}</div><div class="value">${href ? html`<a href="${href}">${value}</a>` : value}</div></div>`
}

export const overviewPage: UiPage = {
  nav: { path: '/admin', label: 'Overview' },
  register(ui, deps, render) {
    // The counts scan every level (cached, see service/admin-views): loaded after the page, so the
    // page itself never waits for the scan.
    ui.get('/overview/counts', async (c) => {
      const { counts, at } = await stockCounts(deps)
      return c.html(html`<div id="counts"><div class="grid">
    ${tile('SKUs', num(counts.skus), '/admin/stock')}
    ${tile('Stock levels', num(counts.levels))}
    ${tile('On hand', num(counts.onHand))}
    ${tile('Reserved', num(counts.reserved))}
    ${tile('Low stock', num(counts.low), '/admin/stock?state=low')}
    ${tile('Out of stock', num(counts.out), '/admin/stock?state=out')}
  </div>
  <p class="hint">Counted ${ago(at, deps.clock.now())}; counts are refreshed in the background every few seconds (longer for very large catalogues).</p></div>`)
    })
    ui.get('/', async (c) => {
      const now = deps.clock.now()
      const [backlog, stores, dead, recent, alerts] = await Promise.all([
        deliveryBacklogOf(deps),
        listStores(deps),
        listDeadLetters(deps, { limit: 101 }).then((p) => p.items),
        getHistory(deps, { limit: 20 }),
        listAlerts(deps, { state: 'open', limit: 101 }),
      ])
      const lastPush = await Promise.all(stores.map(async (s) => (await listDeliveryAttempts(deps, s.id, undefined, 1))[0] ?? null))
      return render(
        c,
        { title: 'Overview', current: '/admin' },
        html`<div data-stream="/admin/stream"></div>
<section aria-labelledby="totals-h">
  <h2 id="totals-h">Stock</h2>
  <div id="counts" hx-get="/admin/overview/counts" hx-trigger="load" hx-swap="outerHTML"><p class="hint">Counting stock levels…</p></div>
</section>
<div class="cols">
<section aria-labelledby="sync-h">
  <h2 id="sync-h">Sync and queue</h2>
  <div class="grid">
    ${tile('Deliveries waiting', num(backlog.pending), '/admin/events')}
    ${tile('Oldest waiting', backlog.oldestPendingAt === null ? 'none' : ago(backlog.oldestPendingAt, now))}
    ${tile('Dead letters', dead.length > 100 ? '100+' : num(dead.length), '/admin/events#dead')}
    ${tile('Open alerts', alerts.length > 100 ? '100+' : num(alerts.length), '/admin/alerts')}
  </div>
  <h2>Stores</h2>
  ${stores.length === 0
    ? html`<p class="muted">No WooCommerce store is connected. <a href="/admin/stores">Stores</a> explains how.</p>`
    : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Store</th><th scope="col">Health</th><th scope="col">Last push</th></tr></thead><tbody>
      ${stores.map((s, i) => {
        const p = lastPush[i]
        return html`<tr><td><a href="/admin/stores/${encodeURIComponent(s.id)}">${s.name}</a></td><td>${healthBadge(s.health)}${s.healthReason ? html` <span class="hint">${s.healthReason}</span>` : ''}</td>
          <td>${p ? html`${ago(p.attempted_at, now)} · ${p.outcome}` : html`<span class="muted">none yet</span>`}</td></tr>`
      })}
    </tbody></table></div>`}
</section>
<section aria-labelledby="recent-h">
  <h2 id="recent-h"><span class="live-dot" data-live-status title="Connecting"></span>Recent movements</h2>
  <ul class="plain" id="recent" aria-live="polite">
    ${recent.entries.map(
      (e) => html`<li>${when(e.createdAt)} <a href="${skuPath(e.sku)}">${e.sku}</a> · ${e.changeType} · warehouse ${e.warehouseId} · on hand ${num(e.onHandBefore)} → ${num(e.onHandAfter)}</li>`,
    )}
  </ul>
  ${recent.entries.length === 0 ? html`<p id="recent-empty" class="muted">No movement yet.</p>` : ''}
</section>
</div>`,
      )
    })
  },
}
