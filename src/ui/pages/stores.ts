/**
 * @module ui/pages/stores: WooCommerce stores: health, mapping problems, drift; reconcile as a dry
 * run then for real, register webhooks, push every figure now (#16). Long operations run in the
 * background and the page shows their progress.
 */
import { getStore, listStores } from '../../service/stores.js'
import { listDrift, listProblems, listRuns } from '../../service/woocommerce.js'
import { connectorFor } from '../../service/woocommerce-runtime.js'
import { can, type UiContext } from '../context.js'
import { explainError, readForm, requiredText } from '../forms.js'
import { badge, html, notice, num, skuPath, when, type Html } from '../html.js'
import type { UiPage } from '../index.js'
import { findOperation, renderOperation, startOperation } from '../operations.js'
import { healthBadge } from './common.js'

function storePath(id: string): string {
  return `/admin/stores/${encodeURIComponent(id)}`
}

export const storesPage: UiPage = {
  nav: { path: '/admin/stores', label: 'Stores' },
  register(ui, deps, render) {
    ui.get('/stores', async (c) => {
      const stores = await listStores(deps)
      return render(
        c,
        { title: 'Stores', current: '/admin/stores' },
        stores.length === 0
          ? html`<p class="muted">No WooCommerce store is connected yet. Add one with <code>npm run cli -- stores add</code> (see the README, “Connect a WooCommerce store”).</p>`
          : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Store</th><th scope="col" class="hide-narrow">URL</th><th scope="col">Mode</th><th scope="col">Health</th><th scope="col">Webhooks</th></tr></thead><tbody>
${stores.map((s) => html`<tr><td><a href="${storePath(s.id)}">${s.name}</a></td><td class="hide-narrow sku">${s.baseUrl}</td><td>${s.mode}</td><td>${healthBadge(s.health)}${s.healthReason ? html` <span class="hint">${s.healthReason}</span>` : ''}</td><td>${s.webhookSecret ? badge('ok', 'registered') : badge('muted', 'not registered')}</td></tr>`)}
</tbody></table></div>`,
      )
    })

    async function storePage(c: UiContext, ref: string, op: Html | null = null) {
      const store = await getStore(deps, ref)
      const [problems, drift, runs] = await Promise.all([listProblems(deps, store.id, { limit: 100 }).then((p) => p.items), listDrift(deps, store.id, { limit: 50 }).then((p) => p.items), listRuns(deps, store.id, { limit: 10 }).then((p) => p.items)])
      const admin = can(c, 'admin')
      const csrf = c.get('csrf')
      const origin = new URL(c.req.url).origin
      const act = (path: string, label: string, extra: Html = html``, cls = 'secondary') =>
        html`<form class="inline" method="post" action="${storePath(store.id)}/${path}" hx-post="${storePath(store.id)}/${path}" hx-target="#op" hx-swap="outerHTML"><input type="hidden" name="_csrf" value="${csrf}">${extra}<button type="submit" class="${cls}">${label}</button></form>`
      return render(
        c,
        { title: `Store ${store.name}`, current: '/admin/stores' },
        html`<p><span class="sku">${store.baseUrl}</span> · mode ${store.mode} · warehouses ${store.warehouses.join(', ')} · buffer ${store.buffer} · ${healthBadge(store.health)}${store.healthReason ? html` <span class="hint">${store.healthReason}</span>` : ''} ${store.healthChangedAt ? html`<span class="hint">since ${when(store.healthChangedAt)}</span>` : ''}</p>
${admin
  ? html`<div class="card"><h2>Actions</h2>
<p class="hint">A dry run compares the store with the hub and changes nothing; apply repairs the drift it finds and re-enables disabled webhooks.</p>
<p>${act('reconcile', 'Reconcile: dry run', html`<input type="hidden" name="dry_run" value="1">`)} ${act('reconcile', 'Reconcile: apply', html``, '')} ${act('sync', 'Sync now (push every figure)')}</p>
<form method="post" action="${storePath(store.id)}/webhooks" hx-post="${storePath(store.id)}/webhooks" hx-target="#op" hx-swap="outerHTML" class="filters">
<input type="hidden" name="_csrf" value="${csrf}">
<div><label for="callback">Callback URL the store can reach</label><input id="callback" name="callback_url" type="url" required class="wide" value="${store.callbackUrl ?? origin}"></div>
<div><button type="submit" class="secondary">Register webhooks</button></div></form>
</div>`
  : html`<p class="hint">Store actions need a key with the admin scope.</p>`}
${op ?? html`<section id="op"></section>`}
<h2>Reconcile runs</h2>
${runs.length === 0
  ? html`<p class="muted">No run yet.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Started</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col" class="n">Checked</th><th scope="col" class="n">Drift</th><th scope="col" class="n">Repaired</th></tr></thead><tbody>
${runs.map((r) => html`<tr><td>${when(r.startedAt)}</td><td>${r.dryRun ? 'dry run' : 'apply'}</td><td>${r.status === 'done' ? badge('ok', 'done') : r.status === 'failed' ? badge('bad', 'failed') : badge('warn', r.status)}${r.error ? html` <span class="hint">${r.error}</span>` : ''}</td><td class="n">${num(r.checked)}</td><td class="n">${num(r.drift)}</td><td class="n">${num(r.repaired)}</td></tr>`)}
</tbody></table></div>`}
<h2>Drift</h2>
${drift.length === 0
  ? html`<p class="muted">No drift recorded.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">SKU</th><th scope="col" class="n">Store</th><th scope="col" class="n">Hub</th><th scope="col">Found by</th><th scope="col">Detected</th><th scope="col">Repaired</th></tr></thead><tbody>
${drift.map((d) => html`<tr><td class="sku"><a href="${skuPath(d.sku)}">${d.sku}</a></td><td class="n">${d.storeFigure === null ? '—' : num(d.storeFigure)}</td><td class="n">${num(d.hubFigure)}</td><td>${d.source}</td><td>${when(d.detectedAt)}</td><td>${d.repairedAt ? when(d.repairedAt) : badge('warn', 'no')}</td></tr>`)}
</tbody></table></div>`}
<h2>Mapping problems</h2>
${problems.length === 0
  ? html`<p class="muted">No mapping problem.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">SKU</th><th scope="col">Problem</th><th scope="col" class="hide-narrow">Detail</th><th scope="col">Seen</th></tr></thead><tbody>
${problems.map((p) => html`<tr><td class="sku">${p.sku}</td><td>${p.kind.replace(/_/g, ' ')}</td><td class="hide-narrow">${p.detail ?? ''}</td><td>${when(p.seenAt)}</td></tr>`)}
</tbody></table></div>`}`,
      )
    }

    ui.get('/stores/:id', (c) => storePage(c, c.req.param('id')))

    // Each action starts a background operation and answers with its progress panel.
    function action(path: string, start: (c: UiContext, ref: string, form: Record<string, string>) => Promise<ReturnType<typeof startOperation>>) {
      ui.post(`/stores/:id/${path}`, async (c) => {
        const ref = c.req.param('id')
        const store = await getStore(deps, ref)
        if (!can(c, 'admin')) {
          const refused = html`<section id="op">${notice('bad', 'Store actions need a key with the admin scope.')}</section>`
          return c.req.header('hx-request') ? c.html(refused, 403) : storePage(c, store.id, refused)
        }
        const form = await readForm(c)
        let panel: Html
        try {
          panel = renderOperation(await start(c, store.id, form))
        } catch (e) {
          panel = html`<section id="op">${explainError(e)}</section>`
        }
        return c.req.header('hx-request') ? c.html(panel, 202) : storePage(c, store.id, panel)
      })
    }
    const woo = () => connectorFor(deps)
    const failed = (e: unknown) => explainError(e)

    action('reconcile', async (c, ref, f) => {
      const dryRun = f.dry_run === '1'
      return startOperation(dryRun ? 'Reconcile (dry run)' : 'Reconcile (apply)', c.get('key').id, deps.clock.now(), async (progress) => {
        const run = await woo().reconcile(ref, { dryRun, onProgress: progress })
        const drift = (await listDrift(deps, ref, { runId: run.id, limit: 50 })).items
        return notice(
          run.status === 'done' ? 'ok' : 'bad',
          html`<p data-run-kind="${dryRun ? 'dry' : 'apply'}"><strong>${dryRun ? 'Dry run finished: nothing was changed.' : 'Reconcile applied.'}</strong> Checked ${num(run.checked)} SKUs; drift <strong data-drift>${num(run.drift)}</strong>${dryRun ? '' : html`; repaired <strong data-repaired>${num(run.repaired)}</strong>`}; webhooks re-enabled ${num(run.webhooksReenabled)}.${run.error ? ` ${run.error}` : ''}</p>
${drift.length ? html`<ul class="plain">${drift.map((d) => html`<li>${d.sku}: store ${d.storeFigure === null ? '—' : num(d.storeFigure)}, hub ${num(d.hubFigure)}${d.repairedAt ? ' · repaired' : ''}</li>`)}</ul>` : ''}
<p><a href="${storePath(ref)}">Reload the store page</a></p>`,
        )
      }, failed)
    })
    action('sync', async (c, ref) =>
      startOperation('Sync now', c.get('key').id, deps.clock.now(), async (progress) => {
        const r = await woo().sync(ref, { onProgress: progress, force: true })
        return notice(r.failed.length ? 'warn' : 'ok', html`Pushed ${num(r.pushed)} of ${num(r.skus)} SKUs in ${num(r.requests)} requests; ${num(r.unchanged)} unchanged${r.failed.length ? html`; <strong>${num(r.failed.length)} failed</strong> (${r.failed.slice(0, 10).map((x) => `${x.sku}: ${x.reason}`).join('; ')})` : ''}.`)
      }, failed),
    )
    action('webhooks', async (c, ref, f) => {
      const callback = requiredText(f, 'callback_url', 2000)
      return startOperation('Register webhooks', c.get('key').id, deps.clock.now(), async () => {
        const r = await woo().registerWebhooks(ref, callback)
        return notice('ok', html`Webhooks point at <span class="sku">${r.callbackUrl}</span>: ${r.webhooks.map((w, i) => html`${i ? ', ' : ''}${w.topic} (${w.action})`)}.`)
      }, failed)
    })

    ui.get('/ops/:id', (c) => {
      const op = findOperation(c.req.param('id'), c.get('key').id)
      return op ? c.html(renderOperation(op)) : c.html(html`<section id="op">${notice('warn', 'This operation is not known here (it ran on another node, or the server restarted).')}</section>`, 404)
    })
  },
}
