/**
 * @module ui/pages/providers: inbound providers (never their secrets) and the items they sent for
 * SKUs we do not know, held until someone maps, registers or discards the SKU (#16). Admin scope
 * only, as in the API: a provider's mapping and warehouses are its configuration.
 */
import { ValidationError } from '../../domain/errors.js'
import { listWarehouses } from '../../service/catalog.js'
import { listHeld, listProviderViews, resolveHeld, type HeldView, type ProviderOptions, type Resolution, type ResolveResult } from '../../service/providers.js'
import { can, requestContextOf, type UiContext } from '../context.js'
import { explainError, readForm, requiredText, statusOf } from '../forms.js'
import { badge, html, notice, num, when, type Html } from '../html.js'
import type { UiPage } from '../index.js'
import { warehouseLabel } from './common.js'

/** Held items of one provider, grouped by the SKU it sent, in arrival order. */
function groupBySku(items: ReadonlyArray<HeldView>): Array<{ externalSku: string; items: HeldView[] }> {
  const groups = new Map<string, HeldView[]>()
  for (const h of items) groups.set(h.external_sku, [...(groups.get(h.external_sku) ?? []), h])
  return [...groups].map(([externalSku, list]) => ({ externalSku, items: list }))
}

function resolved(provider: string, r: ResolveResult): Html {
  const counts = new Map<string, number>()
  for (const x of r.results) counts.set(x.status, (counts.get(x.status) ?? 0) + 1)
  const tally = [...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'nothing was still held'
  const what = r.action === 'mapped' ? html`mapped to <strong>${r.sku ?? ''}</strong> (later payloads use this too)` : r.action === 'created' ? html`registered as a new SKU` : html`discarded`
  return notice(counts.has('refused') ? 'warn' : 'ok', html`<span data-resolved>${provider}'s SKU ${r.external_sku} ${what}: ${tally}.</span>`)
}

export const providersPage: UiPage = {
  nav: { path: '/admin/providers', label: 'Providers' },
  register(ui, deps, render) {
    const opts: ProviderOptions = deps.providers ?? { sealKey: deps.sealKey ?? null }
    async function page(c: UiContext, outcome: Html | null = null, status: 200 | 403 | 404 | 409 | 422 | 400 | 502 = 200) {
      if (!can(c, 'admin')) return render(c, { title: 'Providers', current: '/admin/providers' }, html`${outcome ?? ''}<p class="muted">Listing providers and their held items needs a key with the admin scope.</p>`, status === 200 ? 403 : status)
      const [providers, warehouses] = await Promise.all([listProviderViews(deps, opts), listWarehouses(deps)])
      const held = await Promise.all(providers.map((p) => listHeld(deps, opts, p.name)))
      const byId = new Map(warehouses.map((w) => [w.id, w] as const))
      const csrf = c.get('csrf')
      let formNo = 0
      return render(
        c,
        { title: 'Providers', current: '/admin/providers' },
        html`${outcome ?? ''}
<p class="hint">Warehouse systems, ERPs and suppliers that post signed webhooks to <code>/inventory/v1/webhook/…</code>. Add or change them with <code>stockbridge providers</code> or <code>POST /inventory/v1/providers</code>; secrets are never shown. What they sent: <a href="/admin/inbound">Inbound</a>.</p>
${providers.length === 0
  ? html`<p class="muted">No provider. <code>stockbridge providers presets</code> lists the built-in mappings.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Name</th><th scope="col">Mapping</th><th scope="col">Unknown SKUs</th><th scope="col">Warehouses</th><th scope="col" class="hide-narrow">Signature</th><th scope="col" class="n">Held</th></tr></thead><tbody>
${providers.map(
  (p, i) => html`<tr data-provider="${p.name}"><td>${p.name} ${p.origin === 'environment' ? badge('muted', 'environment') : ''}</td><td>${p.preset !== null ? html`preset <code>${p.preset}</code>` : 'custom mapping'}</td><td>${p.unknown_sku}</td>
<td>${p.warehouses === null ? 'all' : p.warehouses.map((id) => warehouseLabel(byId, id)).join(', ')}</td><td class="hide-narrow"><code>${p.header}</code> ${p.encoding}${p.prefix ? html` <code>${p.prefix}</code>` : ''}</td>
<td class="n">${held[i]!.length ? html`<a href="#held-${p.name}">${num(held[i]!.length)}</a>` : '0'}</td></tr>`,
)}
</tbody></table></div>`}
<h2>Held items</h2>
${held.every((h) => h.length === 0)
  ? html`<p class="muted">Nothing held: every SKU providers sent is known (or their policy is reject or create).</p>`
  : providers.map((p, i) => {
      const groups = groupBySku(held[i]!)
      if (groups.length === 0) return ''
      return html`<section id="held-${p.name}" data-held-provider="${p.name}"><h3>${p.name}</h3>
<p class="hint">Resolving a SKU applies its held items in the order they arrived; mapping also teaches the provider's name for it.</p>
<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Their SKU</th><th scope="col">Held items</th><th scope="col" class="hide-narrow">Since</th><th scope="col">Resolve</th></tr></thead><tbody>
${groups.map((g) => {
  const n = ++formNo
  return html`<tr data-held="${g.externalSku}"><td class="sku">${g.externalSku}</td>
<td>${g.items.slice(0, 5).map((h, j) => html`${j ? html`<br>` : ''}${h.change_type} ${num(h.quantity)} at ${warehouseLabel(byId, h.warehouse_id)}`)}${g.items.length > 5 ? html`<br><span class="hint">and ${num(g.items.length - 5)} more</span>` : ''}</td>
<td class="hide-narrow">${when(Date.parse(g.items[0]!.held_at))}</td>
<td><form method="post" action="/admin/providers/${encodeURIComponent(p.name)}/held/resolve" class="inline">
<input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="external_sku" value="${g.externalSku}">
<label for="map-${n}">Our SKU</label> <input id="map-${n}" name="sku" type="text" maxlength="100" autocomplete="off">
<button type="submit" name="how" value="map">Map</button> <button type="submit" name="how" value="create" class="secondary">Register as new</button> <button type="submit" name="how" value="discard" class="danger">Discard</button>
</form></td></tr>`
})}
</tbody></table></div></section>`
    })}`,
        status,
      )
    }
    ui.get('/providers', (c) => page(c))
    ui.post('/providers/:name/held/resolve', async (c) => {
      if (!can(c, 'admin')) return page(c, notice('bad', 'Resolving held items needs a key with the admin scope.'), 403)
      try {
        const f = await readForm(c)
        const externalSku = requiredText(f, 'external_sku', 100)
        let how: Resolution
        if (f.how === 'map') how = { sku: requiredText(f, 'sku', 100) }
        else if (f.how === 'create') how = { create: true }
        else if (f.how === 'discard') how = { discard: true }
        else throw new ValidationError([{ pointer: '/how', message: 'must be map, create or discard' }])
        const name = c.req.param('name')
        return page(c, resolved(name, await resolveHeld(deps, opts, name, externalSku, how, requestContextOf(c))))
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
  },
}
