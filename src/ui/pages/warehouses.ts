/**
 * @module ui/pages/warehouses: create, edit, deactivate and prioritise warehouses (#16); a
 * warehouse's pull source (never its credentials), its health and recent runs, and pull now (#14).
 */
import { ValidationError } from '../../domain/errors.js'
import type { Warehouse } from '../../domain/warehouse.js'
import { runPullNow } from '../../connectors/pulls/run.js'
import { createWarehouse, getWarehouse, listWarehouses, updateWarehouse } from '../../service/catalog.js'
import { listPullRuns, pullSourcesByWarehouse, pullSourceView } from '../../service/pulls.js'
import type { PullRun, PullSource } from '../../store/pull-repo.js'
import { can, type UiContext } from '../context.js'
import { explainError, readForm, requiredInt, requiredText, statusOf, text, type Form } from '../forms.js'
import { badge, html, notice, num, when, type Html } from '../html.js'
import { actionButton, healthBadge } from './common.js'
import type { UiPage } from '../index.js'

const CODE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

function fieldsOf(f: Form) {
  const code = requiredText(f, 'code', 50)
  if (!CODE.test(code)) throw new ValidationError([{ pointer: '/code', message: 'may hold only letters, digits and . _ -' }])
  return { code, name: requiredText(f, 'name', 200), location: text(f, 'location', 200), priority: requiredInt(f, 'priority', { min: 0, max: 1_000_000 }), isActive: f.is_active === 'on' }
}

function warehouseForm(csrf: string, w: Warehouse | null, prefix: string): Html {
  const action = w ? `/admin/warehouses/${w.id}` : '/admin/warehouses'
  return html`<form method="post" action="${action}" class="filters">
<input type="hidden" name="_csrf" value="${csrf}">
<div><label for="${prefix}-code">Code</label><input id="${prefix}-code" name="code" type="text" required maxlength="50" value="${w?.code ?? ''}"></div>
<div><label for="${prefix}-name">Name</label><input id="${prefix}-name" name="name" type="text" required maxlength="200" value="${w?.name ?? ''}"></div>
<div><label for="${prefix}-location">Location</label><input id="${prefix}-location" name="location" type="text" maxlength="200" value="${w?.location ?? ''}"></div>
<div><label for="${prefix}-priority">Priority</label><input id="${prefix}-priority" name="priority" type="number" min="0" max="1000000" required value="${w?.priority ?? 1}"></div>
<div><label for="${prefix}-active"><input id="${prefix}-active" name="is_active" type="checkbox"${w === null || w.isActive ? html` checked` : ''}> Active</label></div>
<div><button type="submit">${w ? 'Save' : 'Create warehouse'}</button></div>
</form>`
}

function pullCell(w: Warehouse, p: PullSource | undefined): Html {
  if (!p) return html`<span class="muted">none</span>`
  return html`<a href="/admin/warehouses/${w.id}/pull">${p.enabled ? healthBadge(p.health) : badge('muted', 'disabled')}</a>`
}

function runsTable(runs: ReadonlyArray<PullRun>): Html {
  if (runs.length === 0) return html`<p class="muted">No run yet.</p>`
  return html`<div class="table-wrap" tabindex="0"><table><caption class="hint">Recent runs, newest first</caption><thead><tr><th scope="col">Started</th><th scope="col">Trigger</th><th scope="col">State</th><th scope="col" class="n hide-narrow">Pages</th><th scope="col" class="n hide-narrow">Items</th><th scope="col" class="n">Applied</th><th scope="col" class="n hide-narrow">Unchanged</th><th scope="col" class="n hide-narrow">Stale</th><th scope="col" class="n">Refused</th></tr></thead><tbody>
${runs.map(
  (r) => html`<tr data-run="${r.id}"><td>${when(r.startedAt)}</td><td>${r.trigger}${r.dryRun ? ' (dry run)' : ''}</td><td>${r.status === 'done' ? badge('ok', 'done') : r.status === 'failed' ? badge('bad', 'failed') : badge('warn', r.status)}${r.error ? html` <span class="hint">${r.error}</span>` : ''}</td><td class="n hide-narrow">${num(r.pages)}</td><td class="n hide-narrow">${num(r.fetched)}</td><td class="n">${num(r.applied)}</td><td class="n hide-narrow">${num(r.unchanged)}</td><td class="n hide-narrow">${num(r.stale)}</td><td class="n">${num(r.rejected)}</td></tr>`,
)}
</tbody></table></div>`
}

export const warehousesPage: UiPage = {
  nav: { path: '/admin/warehouses', label: 'Warehouses' },
  register(ui, deps, render) {
    async function page(c: UiContext, outcome: Html | null = null, status: 200 | 403 | 409 | 422 | 404 | 400 | 502 = 200) {
      const [warehouses, pulls] = await Promise.all([listWarehouses(deps), pullSourcesByWarehouse(deps)])
      const admin = can(c, 'admin')
      return render(
        c,
        { title: 'Warehouses', current: '/admin/warehouses' },
        html`${outcome ?? ''}
<p class="hint">Lower priority numbers are allocated from first. An inactive warehouse keeps its stock but takes no new allocations. A warehouse whose API the hub reads on a schedule has a pull source: set it with <code>stockbridge warehouses set-pull</code> or <code>PATCH /inventory/v1/warehouses/{id}</code>.</p>
<div class="table-wrap" tabindex="0"><table>
<thead><tr><th scope="col">Id</th><th scope="col">Code</th><th scope="col">Name</th><th scope="col" class="hide-narrow">Location</th><th scope="col" class="n">Priority</th><th scope="col">State</th><th scope="col">Pull</th></tr></thead>
<tbody>${warehouses.map((w) => html`<tr><td>${w.id}</td><td>${w.code}</td><td>${w.name}</td><td class="hide-narrow">${w.location ?? ''}</td><td class="n">${w.priority}</td><td>${w.isActive ? badge('ok', 'active') : badge('muted', 'inactive')}</td><td>${pullCell(w, pulls.get(w.id))}</td></tr>`)}</tbody>
</table></div>
${admin
  ? html`<h2>New warehouse</h2>${warehouseForm(c.get('csrf'), null, 'new')}
<h2>Edit</h2>${warehouses.map((w) => html`<details class="card"><summary>${w.code} · ${w.name}</summary>${warehouseForm(c.get('csrf'), w, `w${w.id}`)}</details>`)}`
  : html`<p class="hint">Creating and editing warehouses needs a key with the admin scope.</p>`}`,
        status,
      )
    }
    ui.get('/warehouses', (c) => page(c))

    async function pullPage(c: UiContext, idParam: string, outcome: Html | null = null, status: 200 | 403 | 409 | 422 | 404 | 400 | 502 = 200) {
      if (!/^\d{1,10}$/.test(idParam)) return c.html(html`<p>Not a warehouse id.</p>`, 404)
      const w = await getWarehouse(deps, Number(idParam))
      const source = (await pullSourcesByWarehouse(deps)).get(w.id)
      const v = source ? pullSourceView(source) : null
      const runs = source ? await listPullRuns(deps, w.id, 20) : []
      const csrf = c.get('csrf')
      return render(
        c,
        { title: `Pull source of ${w.code}`, current: '/admin/warehouses' },
        html`${outcome ?? ''}
${v === null
  ? html`<p class="muted">Warehouse ${w.code} has no pull source. Set one with <code>stockbridge warehouses set-pull ${w.code} --url …</code> or <code>PATCH /inventory/v1/warehouses/${w.id}</code> with <code>{"pull": {…}}</code>.</p>`
  : html`<dl class="card facts">
<dt>URL</dt><dd class="sku">${v.url}</dd>
<dt>Auth</dt><dd>${v.auth.type}${v.auth.type === 'none' ? '' : ' (credentials stored sealed, never shown)'}</dd>
<dt>Schedule</dt><dd>${v.cron ? html`cron <code>${v.cron}</code>` : v.interval_seconds ? `every ${num(v.interval_seconds)} s` : 'on demand only'}${v.enabled ? '' : ' · disabled'}</dd>
<dt>Health</dt><dd>${healthBadge(v.health)}${v.health_reason ? html` <span class="hint">${v.health_reason}</span>` : ''}${v.failures ? ` · ${num(v.failures)} failures in a row` : ''}</dd>
<dt>Next run</dt><dd>${v.next_run_at ? (Date.parse(v.next_run_at) <= deps.clock.now() ? html`due now (the scheduler takes it within seconds)` : when(Date.parse(v.next_run_at))) : '—'}</dd>
<dt>Mapping</dt><dd><code>${v.mapping}</code>${v.default_mapping ? ' (the default)' : ''}</dd>
</dl>
${can(c, 'write') ? html`<p>${actionButton(`/admin/warehouses/${w.id}/pull`, csrf, 'Pull now: dry run', { extra: html`<input type="hidden" name="dry_run" value="1">` })} ${actionButton(`/admin/warehouses/${w.id}/pull`, csrf, 'Pull now')}</p>` : ''}
<h2>Runs</h2>${runsTable(runs)}`}
<p><a href="/admin/warehouses">All warehouses</a></p>`,
        status,
      )
    }
    ui.get('/warehouses/:id/pull', (c) => pullPage(c, c.req.param('id')))
    // Pull now, as POST /warehouses/{id}/pull: bounded by the source's timeout, so it runs inline and the page shows its run.
    ui.post('/warehouses/:id/pull', async (c) => {
      const id = c.req.param('id')
      if (!can(c, 'write')) return pullPage(c, id, notice('bad', 'Pulling needs a key with the write scope.'), 403)
      const dryRun = (await readForm(c)).dry_run === '1'
      try {
        if (!/^\d{1,10}$/.test(id)) throw new ValidationError([{ pointer: '/id', message: 'is not a warehouse id' }])
        const out = await runPullNow(deps, Number(id), { dryRun })
        const r = out.run
        return pullPage(c, id, notice(r.rejected > 0 ? 'warn' : 'ok', html`<span data-pulled>${dryRun ? 'Dry run: nothing was changed.' : 'Pulled.'} ${num(r.pages)} pages, ${num(r.fetched)} items: ${num(r.applied)} ${dryRun ? 'would change' : 'applied'}, ${num(r.unchanged)} unchanged, ${num(r.stale)} stale, ${num(r.rejected)} refused.</span>`))
      } catch (e) {
        return pullPage(c, id, explainError(e), statusOf(e))
      }
    })
    ui.post('/warehouses', async (c) => {
      if (!can(c, 'admin')) return page(c, notice('bad', 'This key lacks the admin scope.'), 403)
      try {
        const w = await createWarehouse(deps, fieldsOf(await readForm(c)))
        return page(c, notice('ok', html`Created warehouse ${w.code} (id ${w.id}).`))
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
    ui.post('/warehouses/:id', async (c) => {
      if (!can(c, 'admin')) return page(c, notice('bad', 'This key lacks the admin scope.'), 403)
      const id = c.req.param('id')
      try {
        if (!/^\d{1,10}$/.test(id)) throw new ValidationError([{ pointer: '/id', message: 'is not a warehouse id' }])
        const w = await updateWarehouse(deps, Number(id), fieldsOf(await readForm(c)))
        return page(c, notice('ok', html`Saved warehouse ${w.code}${w.isActive ? '' : ' (inactive)'}.`))
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
  },
}
