/**
 * @module ui/pages/stores: WooCommerce stores: health, mapping problems, drift; reconcile as a dry
 * run then for real, register webhooks, push every figure now (#16). Long operations run in the
 * background and the page shows their progress.
 */
import { getStore, listStores, storeView } from '../../service/stores.js'
import { listDrift, listProblems, listRuns } from '../../service/woocommerce.js'
import { connectorFor } from '../../service/woocommerce-runtime.js'
import { findStoreJob, submitStoreJob, type StoreJob, type StoreJobInput, type StoreJobKind } from '../../service/store-jobs.js'
import { can, requestContextOf, type UiContext } from '../context.js'
import { explainError, readForm, requiredText } from '../forms.js'
import { badge, html, notice, num, skuPath, when, type Html } from '../html.js'
import type { UiPage } from '../index.js'
import { findOperation, renderOperation, renderOutcome, renderProgress, startOperation } from '../operations.js'
import { healthBadge } from './common.js'

function jobLabel(kind: StoreJobKind, input: StoreJobInput): string {
  if (kind === 'reconcile') return input.dryRun ? 'Reconcile (dry run)' : 'Reconcile (apply)'
  return kind === 'sync' ? 'Sync now' : 'Map SKUs'
}

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
${pushingLine(storeView(store).pushing)}
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
    function action(path: string, start: (c: UiContext, ref: string, form: Record<string, string>) => Promise<Html>) {
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
          panel = await start(c, store.id, form)
        } catch (e) {
          panel = html`<section id="op">${explainError(e)}</section>`
        }
        return c.req.header('hx-request') ? c.html(panel, 202) : storePage(c, store.id, panel)
      })
    }
    const woo = () => connectorFor(deps)
    const failed = (e: unknown) => explainError(e)

    // Reconcile and sync are jobs (as over the API): any node answers the poll, any node's runner does the work.
    action('reconcile', async (c, ref, f) => {
      const input = { store: ref, dryRun: f.dry_run === '1' }
      const job = await submitStoreJob(deps, 'reconcile', input, requestContextOf(c))
      return renderProgress(`/admin/ops/${job.id}`, jobLabel('reconcile', input), job.done, job.total)
    })
    action('sync', async (c, ref) => {
      const input = { store: ref, force: true }
      const job = await submitStoreJob(deps, 'sync', input, requestContextOf(c))
      return renderProgress(`/admin/ops/${job.id}`, jobLabel('sync', input), job.done, job.total)
    })
    action('webhooks', async (c, ref, f) => {
      const callback = requiredText(f, 'callback_url', 2000)
      return renderOperation(
        startOperation('Register webhooks', c.get('key').id, deps.clock.now(), async () => {
          const r = await woo().registerWebhooks(ref, callback)
          return notice('ok', html`Webhooks point at <span class="sku">${r.callbackUrl}</span>: ${r.webhooks.map((w, i) => html`${i ? ', ' : ''}${w.topic} (${w.action})`)}.`)
        }, failed),
      )
    })

    ui.get('/ops/:id', async (c) => {
      const keyId = c.get('key').id
      const op = findOperation(c.req.param('id'), keyId)
      if (op) return c.html(renderOperation(op))
      const job = await findStoreJob(deps, c.req.param('id'), keyId)
      return job ? c.html(await renderStoreJob(job)) : c.html(html`<section id="op">${notice('warn', 'This operation is not known (it was started by another key, or the server restarted while it ran in memory).')}</section>`, 404)
    })

    async function renderStoreJob({ job, kind, input }: StoreJob): Promise<Html> {
      const label = jobLabel(kind, input)
      if (job.status === 'queued' || job.status === 'running') return renderProgress(`/admin/ops/${job.id}`, label, job.done, job.total)
      if (job.status === 'failed') return renderOutcome(label, 'failed', notice('bad', html`The operation failed: ${job.error ?? 'see the server log'}.`))
      const o = job.output ?? {}
      const store = input.store
      if (kind === 'reconcile') {
        const dryRun = o.dry_run === true
        const drift = typeof o.run_id === 'string' ? (await listDrift(deps, store, { runId: o.run_id, limit: 50 })).items : []
        return renderOutcome(
          label,
          'done',
          notice(
            o.status === 'done' ? 'ok' : 'bad',
            html`<p data-run-kind="${dryRun ? 'dry' : 'apply'}"><strong>${dryRun ? 'Dry run finished: nothing was changed.' : 'Reconcile applied.'}</strong> Checked ${num(Number(o.checked ?? 0))} SKUs; drift <strong data-drift>${num(Number(o.drift ?? 0))}</strong>${dryRun ? '' : html`; repaired <strong data-repaired>${num(Number(o.repaired ?? 0))}</strong>`}; webhooks re-enabled ${num(Number(o.webhooks_reenabled ?? 0))}.</p>
${drift.length ? html`<ul class="plain">${drift.map((d) => html`<li>${d.sku}: store ${d.storeFigure === null ? '—' : num(d.storeFigure)}, hub ${num(d.hubFigure)}${d.repairedAt ? ' · repaired' : ''}</li>`)}</ul>` : ''}
<p><a href="${storePath(store)}">Reload the store page</a></p>`,
          ),
        )
      }
      const failedSkus = Array.isArray(o.failed) ? (o.failed as Array<{ sku: string; reason: string }>) : []
      return renderOutcome(
        label,
        'done',
        notice(failedSkus.length ? 'warn' : 'ok', html`Pushed ${num(Number(o.pushed ?? 0))} of ${num(Number(o.skus ?? 0))} SKUs in ${num(Number(o.requests ?? 0))} requests; ${num(Number(o.unchanged ?? 0))} unchanged${failedSkus.length ? html`; <strong>${num(failedSkus.length)} failed</strong> (${failedSkus.slice(0, 10).map((x) => `${x.sku}: ${x.reason}`).join('; ')})` : ''}.`),
      )
    }
  },
}

/** What steers pushes to the store (the pacer's last recorded figures, as in `stores show`). */
function pushingLine(p: ReturnType<typeof storeView>['pushing']): Html {
  if (!p) return html`<p class="hint">Pushing: nothing pushed yet.</p>`
  const ms = (v: number | null) => (v === null ? '—' : `${num(v)} ms`)
  return html`<p id="pushing">Pushing: ${p.loaded ? badge('warn', 'store loaded') : badge('ok', 'not loaded')} · window ${ms(p.window_ms)} · ${p.in_flight ?? '—'} in flight of ${p.concurrency ?? '—'} allowed (max ${p.max_concurrency ?? '—'}) · capacity ${p.capacity === null ? 'not seen to queue' : num(p.capacity)} · store answers in ${ms(p.latency_ms)} · ${num(p.backlog ?? 0)} waiting${p.at ? html` <span class="hint">as of ${when(Date.parse(p.at))}</span>` : ''}</p>`
}
