/**
 * @module ui/pages/sku: one SKU: its levels, open reservations, on-hand chart, history, and the
 * forms that move its stock (#16). Every form carries the level versions the user was shown
 * (`expected_version`) and a fresh idempotency key: a change made meanwhile by anyone else is a
 * conflict that shows the new figure, never a silent overwrite; a double submit applies once.
 */
import { LEDGER_CHANGE_TYPES } from '../../domain/movement.js'
import { isSku } from '../../domain/sku.js'
import type { Warehouse } from '../../domain/warehouse.js'
import { onHandSeries, openReservations } from '../../service/admin-views.js'
import { listWarehouses } from '../../service/catalog.js'
import { getHistory } from '../../service/history.js'
import { getStock, updateStock, type StockView } from '../../service/stock.js'
import { transferStock } from '../../service/transfer.js'
import { can, requestContextOf, type UiContext, type UiDeps } from '../context.js'
import { explainError, int, newFormKey, readForm, requiredInt, statusOf, text, type Form } from '../forms.js'
import { badge, html, notice, num, query, skuPath, when, type Html } from '../html.js'
import type { UiPage } from '../index.js'
import { warehouseOptions } from './common.js'

const SOURCE = 'admin-ui'

function skuOf(c: UiContext): string | null {
  const s = c.req.param('sku')
  return s !== undefined && isSku(s) ? s : null
}

function levelsTable(view: StockView): Html {
  return html`<section id="levels" data-src="${skuPath(view.product.sku)}/levels">
<div class="table-wrap" tabindex="0"><table>
<caption class="hint">Levels per warehouse</caption>
<thead><tr><th scope="col">Warehouse</th><th scope="col" class="n">On hand</th><th scope="col" class="n">Reserved</th><th scope="col" class="n hide-narrow">Safety</th><th scope="col" class="n">Available</th><th scope="col" class="n hide-narrow">Version</th><th scope="col">Status</th></tr></thead>
<tbody>
${view.levels.length === 0 ? html`<tr><td colspan="7" class="muted">No stock in any warehouse yet.</td></tr>` : ''}
${view.levels.map(
  (l) => html`<tr data-level-sku="${view.product.sku}" data-level-wh="${l.warehouseId}">
<td>${l.warehouseCode ?? `#${l.warehouseId}`}${l.isWarehouseActive ? '' : html` ${badge('muted', 'inactive')}`}</td>
<td class="n" data-f="on_hand">${num(l.onHand)}</td><td class="n" data-f="reserved">${num(l.reserved)}</td><td class="n hide-narrow">${num(l.safetyStock)}</td>
<td class="n" data-f="available">${num(l.available)}</td><td class="n hide-narrow">${l.version}</td>
<td>${l.available <= 0 ? badge('bad', 'out') : l.isLowStock ? badge('warn', 'low') : badge('ok', 'in stock')}</td></tr>`,
)}
</tbody>
<tfoot data-total-sku="${view.product.sku}"><tr><th scope="row">All warehouses</th><td class="n" data-f="on_hand">${num(view.totals.onHand)}</td><td class="n" data-f="reserved">${num(view.totals.reserved)}</td><td class="hide-narrow"></td><td class="n" data-f="available">${num(view.totals.available)}</td><td class="hide-narrow"></td><td></td></tr></tfoot>
</table></div></section>`
}

async function reservationsSection(deps: UiDeps, sku: string): Promise<Html> {
  const open = await openReservations(deps, sku)
  return html`<section id="reservations" data-src="${skuPath(sku)}/reservations">
${open.length === 0
  ? html`<p class="muted">No open reservation.</p>`
  : html`<div class="table-wrap" tabindex="0"><table><caption class="hint">Open reservations</caption><thead><tr><th scope="col">Reservation</th><th scope="col">Warehouse</th><th scope="col" class="n">Units</th><th scope="col">Expires</th><th scope="col">Reference</th></tr></thead><tbody>
${open.map((r) => html`<tr><td>${r.id}</td><td>#${r.warehouseId}</td><td class="n">${num(r.quantity)}</td><td>${when(r.expiresAt)}</td><td>${r.source}${r.referenceId ? ` · ${r.referenceId}` : ''}</td></tr>`)}
</tbody></table></div>`}
</section>`
}

interface HistoryFilter {
  readonly warehouseId: number | undefined
  readonly type: string | undefined
  readonly cursor: string | undefined
}

function historyFilterOf(c: UiContext): HistoryFilter {
  const wh = c.req.query('warehouse') ?? ''
  const type = c.req.query('type') ?? ''
  const cursor = c.req.query('cursor') ?? ''
  return {
    warehouseId: /^\d{1,10}$/.test(wh) && Number(wh) <= 2_147_483_647 ? Number(wh) : undefined,
    type: (LEDGER_CHANGE_TYPES as ReadonlyArray<string>).includes(type) ? type : undefined,
    cursor: /^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? cursor : undefined,
  }
}

async function historySection(deps: UiDeps, sku: string, f: HistoryFilter, warehouses: ReadonlyArray<Warehouse>): Promise<Html> {
  const page = await getHistory(deps, { skus: [sku], warehouseId: f.warehouseId, changeTypes: f.type ? [f.type] : undefined, cursor: f.cursor, limit: 25 })
  const base = `${skuPath(sku)}/history`
  const filters = { warehouse: f.warehouseId, type: f.type }
  const code = new Map(warehouses.map((w) => [w.id, w.code]))
  return html`<section id="history" data-src="${base}${query(filters)}">
<form class="filters" method="get" action="${skuPath(sku)}" hx-get="${base}" hx-target="#history" hx-swap="outerHTML" hx-trigger="change, submit">
  <div><label for="h-warehouse">Warehouse</label><select id="h-warehouse" name="warehouse">${warehouseOptions(warehouses, f.warehouseId, { any: 'All' })}</select></div>
  <div><label for="h-type">Movement</label><select id="h-type" name="type"><option value="">All</option>${LEDGER_CHANGE_TYPES.map((t) => html`<option value="${t}"${t === f.type ? html` selected` : ''}>${t}</option>`)}</select></div>
  <div><button type="submit" class="secondary">Filter</button></div>
</form>
<div class="table-wrap" tabindex="0"><table>
<caption class="hint">Ledger, newest first</caption>
<thead><tr><th scope="col">When</th><th scope="col">Movement</th><th scope="col">Warehouse</th><th scope="col" class="n">Qty</th><th scope="col" class="n">On hand</th><th scope="col" class="n hide-narrow">Reserved</th><th scope="col" class="hide-narrow">Source · actor</th><th scope="col" class="hide-narrow">Notes</th></tr></thead>
<tbody>
${page.entries.length === 0 ? html`<tr><td colspan="8" class="muted">No movement matches.</td></tr>` : ''}
${page.entries.map(
  (e) => html`<tr data-entry="${e.id}"><td>${when(e.createdAt)}</td><td>${e.changeType}${e.status !== 'applied' ? html` ${badge('muted', e.status)}` : ''}</td><td>${code.get(e.warehouseId) ?? `#${e.warehouseId}`}</td>
<td class="n">${num(e.quantity)}</td><td class="n">${num(e.onHandBefore)} → ${num(e.onHandAfter)}</td><td class="n hide-narrow">${num(e.reservedBefore)} → ${num(e.reservedAfter)}</td>
<td class="hide-narrow">${e.source}${e.referenceId ? ` · ${e.referenceId}` : ''} · ${e.actor}</td><td class="hide-narrow">${e.notes ?? ''}</td></tr>`,
)}
</tbody></table></div>
<nav class="pager" aria-label="History pages">
${f.cursor ? html`<a href="${skuPath(sku)}${query(filters)}" hx-get="${base}${query(filters)}" hx-target="#history" hx-swap="outerHTML">Newest</a>` : ''}
${page.nextCursor ? html`<a href="${skuPath(sku)}${query({ ...filters, cursor: page.nextCursor })}" hx-get="${base}${query({ ...filters, cursor: page.nextCursor })}" hx-target="#history" hx-swap="outerHTML" rel="next">Older movements</a>` : ''}
</nav>
</section>`
}

interface FormState {
  readonly outcome?: Html
  readonly form?: Form
}

/** The movement forms. The versions shown are the ones the user saw; only a re-render (after a submit) moves them on. */
function formsPanel(c: UiContext, view: StockView, warehouses: ReadonlyArray<Warehouse>, s: FormState = {}): Html {
  const sku = view.product.sku
  const csrf = c.get('csrf')
  const versions = new Map(view.levels.map((l) => [l.warehouseId, l.version]))
  const prev = s.form ?? {}
  const active = warehouses.filter((w) => w.isActive)
  const chosen = prev.warehouse_id ? Number(prev.warehouse_id) : active[0]?.id
  const hidden = (kind: string) => html`<input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="_idem" value="${newFormKey()}"><input type="hidden" name="kind" value="${kind}">
${active.map((w) => html`<input type="hidden" name="v_${w.id}" value="${versions.get(w.id) ?? 0}">`)}`
  const wh = (id: string, selected: number | undefined) => html`<div class="field"><label for="${id}">Warehouse</label><select id="${id}" name="warehouse_id" required>${warehouseOptions(active, selected)}</select></div>`
  const qty = (id: string, label: string, min: number) => html`<div class="field"><label for="${id}">${label}</label><input id="${id}" name="quantity" type="number" inputmode="numeric" min="${min}" required value="${prev.kind && id.startsWith(prev.kind) ? (prev.quantity ?? '') : ''}"></div>`
  const notes = (id: string) => html`<div class="field"><label for="${id}">Notes</label><input id="${id}" name="notes" type="text" maxlength="500" class="wide"></div>`
  const move = (kind: string, legend: string, label: string, min: number, button: string) => html`<form method="post" action="${skuPath(sku)}/move" hx-post="${skuPath(sku)}/move" hx-target="#forms" hx-swap="outerHTML" data-form="${kind}">
<fieldset><legend>${legend}</legend>${hidden(kind)}${wh(`${kind}-wh`, chosen)}${qty(`${kind}-qty`, label, min)}${notes(`${kind}-notes`)}<button type="submit">${button}</button></fieldset></form>`
  return html`<section id="forms" aria-labelledby="forms-h">
<h2 id="forms-h">Move stock</h2>
<div aria-live="polite">${s.outcome ?? ''}</div>
${active.length === 0
  ? html`<p class="muted">No active warehouse: create one under <a href="/admin/warehouses">Warehouses</a>.</p>`
  : html`<div class="forms">
${move('restock', 'Restock', 'Units received', 1, 'Restock')}
${move('sale', 'Sale', 'Units sold', 1, 'Record sale')}
${move('adjustment', 'Adjustment', 'Set on hand to', 0, 'Adjust')}
${move('sync', 'Count', 'Units counted', 0, 'Record count')}
<form method="post" action="${skuPath(sku)}/transfer" hx-post="${skuPath(sku)}/transfer" hx-target="#forms" hx-swap="outerHTML" data-form="transfer">
<fieldset><legend>Transfer</legend>${hidden('transfer')}
<div class="field"><label for="transfer-from">From</label><select id="transfer-from" name="warehouse_id" required>${warehouseOptions(active, chosen)}</select></div>
<div class="field"><label for="transfer-to">To</label><select id="transfer-to" name="to_warehouse_id" required>${warehouseOptions(active, active.find((w) => w.id !== chosen)?.id)}</select></div>
${qty('transfer-qty', 'Units', 1)}${notes('transfer-notes')}<button type="submit">Transfer</button></fieldset></form>
</div>`}
</section>`
}

async function loadSku(deps: UiDeps, sku: string) {
  const [view, warehouses] = await Promise.all([getStock(deps, sku), listWarehouses(deps)])
  return { view, warehouses }
}

export const skuPage: UiPage = {
  register(ui, deps, render) {
    const notFound = (c: UiContext) => render(c, { title: 'Not found', current: '/admin/stock' }, notice('bad', 'That is not a SKU.'), 404)

    async function fullPage(c: UiContext, sku: string, s: FormState = {}, status: 200 | 409 | 422 | 403 | 404 | 400 | 502 = 200) {
      const { view, warehouses } = await loadSku(deps, sku)
      const p = view.product
      return render(
        c,
        { title: `SKU ${sku}`, current: '/admin/stock', styles: ['uPlot.min.css'], scripts: ['uPlot.iife.min.js'] },
        html`<div data-sku-page="${sku}" data-stream="/admin/stream${query({ skus: sku })}"></div>
<p>${p.name ? html`<strong>${p.name}</strong> · ` : ''}product ${p.productId}${p.parentId !== null ? ` (variation of ${p.parentId})` : ''} · backorders ${p.allowsBackorders ? 'allowed' : 'not allowed'} · low-stock threshold ${p.lowStockThreshold}
<span class="live-dot" data-live-status title="Connecting"></span></p>
<div class="cols">
<section aria-labelledby="levels-h"><h2 id="levels-h">Levels</h2>${levelsTable(view)}<h2>Open reservations</h2>${await reservationsSection(deps, sku)}</section>
<section aria-labelledby="chart-h"><h2 id="chart-h">On hand over time</h2><div id="chart" data-series="${skuPath(sku)}/series" data-sku="${sku}" role="img" aria-label="Chart of on hand over time, from the ledger"></div><p class="hint">From the newest 500 ledger entries.</p></section>
</div>
${can(c, 'write') ? formsPanel(c, view, warehouses, s) : html`<p class="hint">This key has the read scope only: no forms.</p>`}
<h2>History</h2>
${await historySection(deps, sku, historyFilterOf(c), warehouses)}`,
        status,
      )
    }

    ui.get('/sku/:sku', async (c) => {
      const sku = skuOf(c)
      return sku ? fullPage(c, sku) : notFound(c)
    })
    ui.get('/sku/:sku/levels', async (c) => {
      const sku = skuOf(c)
      return sku ? c.html(levelsTable(await getStock(deps, sku))) : notFound(c)
    })
    ui.get('/sku/:sku/reservations', async (c) => {
      const sku = skuOf(c)
      return sku ? c.html(await reservationsSection(deps, sku)) : notFound(c)
    })
    ui.get('/sku/:sku/history', async (c) => {
      const sku = skuOf(c)
      return sku ? c.html(await historySection(deps, sku, historyFilterOf(c), await listWarehouses(deps))) : notFound(c)
    })
    ui.get('/sku/:sku/series', async (c) => {
      const sku = skuOf(c)
      if (!sku) return c.json({ times: [], totals: [] }, 404)
      const view = await getStock(deps, sku)
      return c.json(await onHandSeries(deps, sku, new Map(view.levels.map((l) => [l.warehouseId, l.onHand]))))
    })

    async function answer(c: UiContext, sku: string, outcome: Html, form: Form | undefined, status: 200 | 409 | 422 | 403 | 404 | 400 | 502, moved: boolean) {
      if (!c.req.header('hx-request')) return fullPage(c, sku, { outcome, ...(form ? { form } : {}) }, status)
      const { view, warehouses } = await loadSku(deps, sku)
      if (moved) c.header('hx-trigger', 'sb:moved')
      return c.html(formsPanel(c, view, warehouses, { outcome, ...(form ? { form } : {}) }), status)
    }

    ui.post('/sku/:sku/move', async (c) => {
      const sku = skuOf(c)
      if (!sku) return notFound(c)
      if (!can(c, 'write')) return answer(c, sku, notice('bad', 'This key may not move stock (it lacks the write scope).'), undefined, 403, false)
      const f = await readForm(c)
      try {
        const kind = f.kind
        if (kind !== 'restock' && kind !== 'sale' && kind !== 'adjustment' && kind !== 'sync') return answer(c, sku, notice('bad', 'Unknown movement.'), f, 422, false)
        const warehouseId = requiredInt(f, 'warehouse_id', { min: 1 })
        const quantity = requiredInt(f, 'quantity', { min: kind === 'restock' || kind === 'sale' ? 1 : 0 })
        const expectedVersion = int(f, `v_${warehouseId}`, { min: 0 })
        const r = await updateStock(
          deps,
          { sku, warehouseId, changeType: kind, quantity, source: SOURCE, referenceId: null, notes: text(f, 'notes', 500), expectedVersion },
          requestContextOf(c, text(f, '_idem', 255) ?? undefined),
        )
        const l = r.value.level
        const done = notice('ok', html`${r.replayed ? 'Already applied (this form was submitted before): ' : 'Applied: '}${kind === 'sync' ? 'count' : kind} in ${l.warehouseCode ?? `#${l.warehouseId}`}; on hand is now <strong data-result-on-hand>${num(l.onHand)}</strong>, available ${num(l.available)}.`)
        return answer(c, sku, done, undefined, 200, true)
      } catch (e) {
        return answer(c, sku, explainError(e), f, statusOf(e), false)
      }
    })

    ui.post('/sku/:sku/transfer', async (c) => {
      const sku = skuOf(c)
      if (!sku) return notFound(c)
      if (!can(c, 'write')) return answer(c, sku, notice('bad', 'This key may not move stock (it lacks the write scope).'), undefined, 403, false)
      const f = await readForm(c)
      try {
        const from = requiredInt(f, 'warehouse_id', { min: 1 })
        const to = requiredInt(f, 'to_warehouse_id', { min: 1 })
        const quantity = requiredInt(f, 'quantity', { min: 1 })
        const r = await transferStock(deps, { sku, fromWarehouseId: from, toWarehouseId: to, quantity, source: SOURCE, referenceId: null, notes: text(f, 'notes', 500) }, requestContextOf(c, text(f, '_idem', 255) ?? undefined))
        const t = r.value
        const done = notice('ok', html`Transferred ${num(quantity)}: ${t.from.level.warehouseCode ?? ''} now ${num(t.from.level.onHand)}, ${t.to.level.warehouseCode ?? ''} now ${num(t.to.level.onHand)} on hand.`)
        return answer(c, sku, done, undefined, 200, true)
      } catch (e) {
        return answer(c, sku, explainError(e), f, statusOf(e), false)
      }
    })
  },
}
