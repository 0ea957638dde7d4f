/**
 * @module ui/pages/stock: search and browse every stock level (#16). Keyset paging over the
 * primary key (sku, warehouse), so the 20,000th page costs what the first does; figures on screen
 * follow the live event stream of exactly the SKUs shown.
 */
import { isSku } from '../../domain/sku.js'
import { browseLevels, type LevelPage } from '../../service/admin-views.js'
import { listWarehouses } from '../../service/catalog.js'
import type { Warehouse } from '../../domain/warehouse.js'
import type { UiPage } from '../index.js'
import type { UiContext } from '../context.js'
import { badge, html, num, query, skuPath, type Html } from '../html.js'
import { warehouseOptions } from './common.js'

const STATES = { low: 'Low stock', out: 'Out of stock', backorders: 'Backorders allowed' } as const
type State = keyof typeof STATES

interface StockQuery {
  readonly q: string
  readonly warehouseId: number | undefined
  readonly state: State | undefined
  readonly descending: boolean
  readonly after: { sku: string; warehouseId: number } | undefined
}

function parseQuery(c: UiContext): StockQuery {
  const q = (c.req.query('q') ?? '').trim().slice(0, 100)
  const wh = c.req.query('warehouse') ?? ''
  const state = c.req.query('state') ?? ''
  let after: StockQuery['after']
  const cursor = c.req.query('after')
  if (cursor) {
    try {
      const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
      if (Array.isArray(v) && typeof v[0] === 'string' && isSku(v[0]) && Number.isInteger(v[1]) && Math.abs(v[1] as number) <= 2_147_483_647) after = { sku: v[0], warehouseId: v[1] as number }
    } catch {
      after = undefined // a mangled cursor starts from the first page
    }
  }
  return {
    q,
    warehouseId: /^\d{1,10}$/.test(wh) && Number(wh) <= 2_147_483_647 ? Number(wh) : undefined,
    state: state in STATES ? (state as State) : undefined,
    descending: c.req.query('sort') === 'desc',
    after,
  }
}

function cursorOf(k: { sku: string; warehouseId: number }): string {
  return Buffer.from(JSON.stringify([k.sku, k.warehouseId])).toString('base64url')
}

function statusOf(r: LevelPage['rows'][number]): Html {
  if (r.available <= 0) return r.allowsBackorders ? badge('warn', 'out · backorders') : badge('bad', 'out')
  if (r.available <= r.lowStockThreshold) return badge('warn', 'low')
  return badge('ok', 'in stock')
}

function results(sq: StockQuery, page: LevelPage, whById: ReadonlyMap<number, Warehouse>): Html {
  const base = { q: sq.q, warehouse: sq.warehouseId, state: sq.state, sort: sq.descending ? 'desc' : undefined }
  const skus = [...new Set(page.rows.map((r) => r.sku))]
  return html`<section id="results" aria-live="polite">
<div data-stream="/admin/stream${query({ skus: skus.join(',') })}"></div>
<p class="hint"><span class="live-dot" data-live-status title="Connecting"></span>${page.rows.length === 0 ? 'No stock level matches.' : `Showing ${page.rows.length} levels${sq.after ? ' (a later page)' : ''}. Figures update live.`}</p>
${page.rows.length === 0
  ? ''
  : html`<div class="table-wrap" tabindex="0"><table>
<caption class="hint">Stock levels by SKU and warehouse</caption>
<thead><tr><th scope="col">SKU</th><th scope="col" class="hide-narrow">Name</th><th scope="col">Warehouse</th><th scope="col" class="n hide-narrow">On hand</th><th scope="col" class="n hide-narrow">Reserved</th><th scope="col" class="n">Available</th><th scope="col">Status</th></tr></thead>
<tbody>
${page.rows.map(
  (r) => html`<tr data-level-sku="${r.sku}" data-level-wh="${r.warehouseId}">
<td class="sku"><a href="${skuPath(r.sku)}">${r.sku}</a></td><td class="hide-narrow">${r.name ?? ''}</td><td>${whById.get(r.warehouseId)?.code ?? `#${r.warehouseId}`}</td>
<td class="n hide-narrow" data-f="on_hand">${num(r.onHand)}</td><td class="n hide-narrow" data-f="reserved">${num(r.reserved)}</td><td class="n" data-f="available">${num(r.available)}</td><td>${statusOf(r)}</td></tr>`,
)}
</tbody></table></div>`}
<nav class="pager" aria-label="Pages">
${sq.after ? html`<a href="/admin/stock${query(base)}">First page</a>` : ''}
${page.next ? html`<a href="/admin/stock${query({ ...base, after: cursorOf(page.next) })}" rel="next">Next page</a>` : ''}
</nav>
</section>`
}

export const stockPage: UiPage = {
  nav: { path: '/admin/stock', label: 'Stock' },
  register(ui, deps, render) {
    ui.get('/stock', async (c) => {
      const sq = parseQuery(c)
      const [page, warehouses] = await Promise.all([browseLevels(deps, { query: sq.q || undefined, warehouseId: sq.warehouseId, state: sq.state, descending: sq.descending, after: sq.after }), listWarehouses(deps)])
      const byId = new Map(warehouses.map((w) => [w.id, w]))
      const body = results(sq, page, byId)
      // The search form swaps only the results; a plain request (a link, no script) gets the whole page.
      if (c.req.header('hx-request') && c.req.header('hx-target')?.endsWith('results')) return c.html(body)
      return render(
        c,
        { title: 'Stock', current: '/admin/stock' },
        html`<form id="find" class="filters" method="get" action="/admin/stock" role="search"
  hx-get="/admin/stock" hx-target="#results" hx-swap="outerHTML" hx-push-url="true" hx-trigger="input changed delay:300ms from:#q, change, submit">
  <div><label for="q">SKU prefix or name</label><input id="q" name="q" type="search" value="${sq.q}" autocomplete="off" spellcheck="false"></div>
  <div><label for="warehouse">Warehouse</label><select id="warehouse" name="warehouse">${warehouseOptions(warehouses, sq.warehouseId, { any: 'All warehouses' })}</select></div>
  <div><label for="state">Show</label><select id="state" name="state"><option value="">Every level</option>${Object.entries(STATES).map(([k, v]) => html`<option value="${k}"${k === sq.state ? html` selected` : ''}>${v}</option>`)}</select></div>
  <div><label for="sort">Sort</label><select id="sort" name="sort"><option value="">SKU A → Z</option><option value="desc"${sq.descending ? html` selected` : ''}>SKU Z → A</option></select></div>
  <div><button type="submit">Search</button></div>
</form>
${body}`,
      )
    })
  },
}
