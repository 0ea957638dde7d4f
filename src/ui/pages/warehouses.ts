/** @module ui/pages/warehouses: create, edit, deactivate and prioritise warehouses (#16). */
import { ValidationError } from '../../domain/errors.js'
import type { Warehouse } from '../../domain/warehouse.js'
import { createWarehouse, listWarehouses, updateWarehouse } from '../../service/catalog.js'
import { can, type UiContext } from '../context.js'
import { explainError, readForm, requiredInt, requiredText, statusOf, text, type Form } from '../forms.js'
import { badge, html, notice, type Html } from '../html.js'
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

export const warehousesPage: UiPage = {
  nav: { path: '/admin/warehouses', label: 'Warehouses' },
  register(ui, deps, render) {
    async function page(c: UiContext, outcome: Html | null = null, status: 200 | 403 | 409 | 422 | 404 | 400 | 502 = 200) {
      const warehouses = await listWarehouses(deps)
      const admin = can(c, 'admin')
      return render(
        c,
        { title: 'Warehouses', current: '/admin/warehouses' },
        html`${outcome ?? ''}
<p class="hint">Lower priority numbers are allocated from first. An inactive warehouse keeps its stock but takes no new allocations.</p>
<div class="table-wrap" tabindex="0"><table>
<thead><tr><th scope="col">Id</th><th scope="col">Code</th><th scope="col">Name</th><th scope="col" class="hide-narrow">Location</th><th scope="col" class="n">Priority</th><th scope="col">State</th></tr></thead>
<tbody>${warehouses.map((w) => html`<tr><td>${w.id}</td><td>${w.code}</td><td>${w.name}</td><td class="hide-narrow">${w.location ?? ''}</td><td class="n">${w.priority}</td><td>${w.isActive ? badge('ok', 'active') : badge('muted', 'inactive')}</td></tr>`)}</tbody>
</table></div>
${admin
  ? html`<h2>New warehouse</h2>${warehouseForm(c.get('csrf'), null, 'new')}
<h2>Edit</h2>${warehouses.map((w) => html`<details class="card"><summary>${w.code} · ${w.name}</summary>${warehouseForm(c.get('csrf'), w, `w${w.id}`)}</details>`)}`
  : html`<p class="hint">Creating and editing warehouses needs a key with the admin scope.</p>`}`,
        status,
      )
    }
    ui.get('/warehouses', (c) => page(c))
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
