/** @module ui/pages/inbound: provider webhooks received, and what came of each (#16). */
import { recentInbound } from '../../service/admin-views.js'
import { listStores } from '../../service/stores.js'
import { listReceived } from '../../service/woocommerce.js'
import { badge, html, num, when, type Html } from '../html.js'
import type { UiPage } from '../index.js'

function statusBadge(s: string): Html {
  return s === 'processed' || s === 'done' ? badge('ok', s) : s === 'rejected' || s === 'failed' ? badge('bad', s) : badge('muted', s)
}

export const inboundPage: UiPage = {
  nav: { path: '/admin/inbound', label: 'Inbound' },
  register(ui, deps, render) {
    ui.get('/inbound', async (c) => {
      const provider = c.req.query('provider') || undefined
      const [rows, stores] = await Promise.all([recentInbound(deps, provider?.slice(0, 64)), listStores(deps)])
      const received = await Promise.all(stores.map(async (s) => (await listReceived(deps, s.id, { limit: 20 })).items))
      return render(
        c,
        { title: 'Inbound', current: '/admin/inbound' },
        html`<h2>Provider webhooks</h2>
<p class="hint">Verified deliveries from warehouse systems, ERPs and suppliers (<code>/inventory/v1/webhooks/…</code>), newest first.${provider ? html` Showing ${provider} only; <a href="/admin/inbound">show all</a>.` : ''}</p>
${rows.length === 0
  ? html`<p class="muted">Nothing received yet.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Received</th><th scope="col">Provider</th><th scope="col">Event</th><th scope="col">Outcome</th><th scope="col" class="n hide-narrow">Bytes</th><th scope="col" class="hide-narrow">Detail</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td>${when(r.receivedAt)}</td><td><a href="/admin/inbound?provider=${encodeURIComponent(r.provider)}">${r.provider}</a></td><td>${r.eventType ?? ''}</td><td>${statusBadge(r.status)}</td><td class="n hide-narrow">${num(r.bytes)}</td><td class="hide-narrow sku">${(r.outcome ?? '').slice(0, 300)}</td></tr>`)}
</tbody></table></div>`}
<h2>WooCommerce order webhooks</h2>
${stores.length === 0
  ? html`<p class="muted">No store connected.</p>`
  : stores.map(
      (s, i) => html`<h3>${s.name}</h3>${(received[i] ?? []).length === 0
        ? html`<p class="muted">Nothing received.</p>`
        : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Received</th><th scope="col">Topic</th><th scope="col">Resource</th><th scope="col">Outcome</th><th scope="col" class="n">Attempts</th><th scope="col" class="hide-narrow">Result</th></tr></thead><tbody>
${(received[i] ?? []).map((d) => html`<tr><td>${when(d.receivedAt)}</td><td>${d.topic}</td><td>${d.resourceId ?? ''}</td><td>${statusBadge(d.status)}</td><td class="n">${d.attempts}</td><td class="hide-narrow sku">${(d.result ?? '').slice(0, 300)}</td></tr>`)}
</tbody></table></div>`}`,
    )}`,
      )
    })
  },
}
