/** @module ui/pages/events: subscriptions, their delivery log, and dead letters with replay (#16). */
import { listStores } from '../../service/stores.js'
import { listDeadLetters, listDeliveryAttempts, listSubscriptions, replayDeadLetter } from '../../service/subscriptions.js'
import { can, type UiContext } from '../context.js'
import { explainError, statusOf } from '../forms.js'
import { badge, html, notice, num, skuPath, when, type Html } from '../html.js'
import type { UiPage } from '../index.js'
import { actionButton } from './common.js'

export const eventsPage: UiPage = {
  nav: { path: '/admin/events', label: 'Events' },
  register(ui, deps, render) {
    async function page(c: UiContext, outcome: Html | null = null, status: 200 | 403 | 404 | 409 | 422 | 400 | 502 = 200) {
      const [subs, stores, dead] = await Promise.all([listSubscriptions(deps), listStores(deps), listDeadLetters(deps, { limit: 100, includeReplayed: true }).then((p) => p.items)])
      const names = new Map<string, string>([...subs.map((s) => [s.id, s.url] as const), ...stores.map((s) => [s.id, `store ${s.name}`] as const)])
      const selected = c.req.query('target') ?? subs[0]?.id ?? stores[0]?.id
      const attempts = selected && names.has(selected) ? await listDeliveryAttempts(deps, selected, undefined, 50) : []
      const write = can(c, 'write')
      return render(
        c,
        { title: 'Events', current: '/admin/events' },
        html`${outcome ?? ''}
<h2>Subscriptions</h2>
${subs.length === 0
  ? html`<p class="muted">No webhook subscription. Create one with <code>POST /inventory/v1/subscriptions</code>.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Id</th><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col">Delivery log</th></tr></thead><tbody>
${subs.map((s) => html`<tr><td>${s.id}</td><td class="sku">${s.url}</td><td>${s.events.join(', ')}</td><td>${s.isActive ? badge('ok', 'active') : badge('muted', 'paused')}</td><td><a href="/admin/events?target=${encodeURIComponent(s.id)}">attempts</a></td></tr>`)}
</tbody></table></div>`}
<h2>Delivery log${selected && names.has(selected) ? html`: ${names.get(selected)}` : ''}</h2>
${stores.length ? html`<p class="hint">Stores: ${stores.map((s, i) => html`${i ? ', ' : ''}<a href="/admin/events?target=${encodeURIComponent(s.id)}">${s.name}</a>`)}</p>` : ''}
${attempts.length === 0
  ? html`<p class="muted">No delivery attempt recorded.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">When</th><th scope="col">SKU</th><th scope="col">Outcome</th><th scope="col" class="n">Status</th><th scope="col" class="n">ms</th><th scope="col" class="hide-narrow">Error</th></tr></thead><tbody>
${attempts.map((a) => html`<tr><td>${when(a.attempted_at)}</td><td class="sku"><a href="${skuPath(a.sku)}">${a.sku}</a></td><td>${a.outcome}</td><td class="n">${a.status_code ?? ''}</td><td class="n">${num(Number(a.duration_ms))}</td><td class="hide-narrow">${a.error ?? ''}</td></tr>`)}
</tbody></table></div>`}
<h2 id="dead">Dead letters</h2>
${dead.length === 0
  ? html`<p class="muted">No dead letter: every delivery either succeeded or is still being retried.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Target</th><th scope="col">SKU</th><th scope="col" class="n">Attempts</th><th scope="col" class="hide-narrow">Last error</th><th scope="col">Since</th><th scope="col">Replay</th></tr></thead><tbody>
${dead.map(
  (d) => html`<tr data-dead-letter="${d.id}"><td class="sku">${names.get(d.targetId) ?? d.targetId}</td><td class="sku"><a href="${skuPath(d.sku)}">${d.sku}</a></td><td class="n">${d.attempts}</td>
<td class="hide-narrow">${d.lastStatus ? `${d.lastStatus} ` : ''}${d.lastError ?? ''}</td><td>${when(d.createdAt)}</td>
<td>${d.replayedAt !== null ? badge('ok', 'replayed') : write ? actionButton(`/admin/dead-letters/${encodeURIComponent(d.id)}/replay`, c.get('csrf'), 'Replay') : badge('warn', 'waiting')}</td></tr>`,
)}
</tbody></table></div>`}`,
        status,
      )
    }
    ui.get('/events', (c) => page(c))
    ui.post('/dead-letters/:id/replay', async (c) => {
      if (!can(c, 'write')) return page(c, notice('bad', 'Replaying needs a key with the write scope.'), 403)
      try {
        const r = await replayDeadLetter(deps, c.req.param('id'))
        return page(c, notice('ok', html`Replayed: the newest figure (event ${r.eventSeq}) is queued for delivery again.`))
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
  },
}
