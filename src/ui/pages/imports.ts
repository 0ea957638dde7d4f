/**
 * @module ui/pages/imports: CSV upload (#14, #16): counts (write scope) or products (admin scope),
 * previewed as a dry run first. The preview and the apply buttons sit in one form, so the chosen
 * file stays selected after the preview comes back and "Apply" sends the same file. A large file
 * applies as an import job whose progress any node can show. The rules are the API's
 * (`POST /inventory/v1/imports`): the same readers, services, limits and outcomes per line.
 */
import { ValidationError } from '../../domain/errors.js'
import { CsvError, CsvTooLargeError } from '../../connectors/csv/codec.js'
import { csvDownload, IMPORT_DEFAULTS } from '../../http/routes/imports.js'
import { exportLedger, exportLevels } from '../../connectors/csv/exports.js'
import { readCountRows, readProductRows } from '../../connectors/csv/imports.js'
import { listWarehouses } from '../../service/catalog.js'
import { importCounts, type CountImportResult, type CountOutcome } from '../../service/count-import.js'
import { getImportJob, submitImportJob, withEarly, type ImportJobView } from '../../service/imports.js'
import { importProducts, type ProductImportResult, type ProductOutcome } from '../../service/product-import.js'
import { can, requestContextOf, type UiContext } from '../context.js'
import { explainError, statusOf } from '../forms.js'
import { html, notice, num, type Html } from '../html.js'
import type { UiPage } from '../index.js'
import { renderOutcome, renderProgress } from '../operations.js'
import { warehouseOptions } from './common.js'

/** Rows listed under a result; the counts above it cover every row. */
const SHOWN_ROWS = 200

type Kind = 'counts' | 'products'
type Result = CountImportResult | ProductImportResult

function summary(kind: Kind, r: Result): Html {
  const parts: string[] = [`${num(r.rows)} rows`]
  if (kind === 'counts') {
    const c = r as CountImportResult
    parts.push(`${num(c.applied)} ${c.dryRun ? 'would change' : 'changed'}`, `${num(c.unchanged)} unchanged`, `${num(c.stale)} stale`)
  } else {
    const p = r as ProductImportResult
    parts.push(`${num(p.created)} ${p.dryRun ? 'to create' : 'created'}`, `${num(p.updated)} ${p.dryRun ? 'to update' : 'updated'}`, `${num(p.unchanged)} unchanged`)
  }
  parts.push(`${num(r.rejected)} refused`)
  return html`<p data-import-summary><strong>${r.dryRun ? 'Dry run: nothing was changed.' : 'Imported.'}</strong> ${parts.join(' · ')}.</p>`
}

function rowsTable(kind: Kind, r: Result, codes: ReadonlyMap<number, string>): Html {
  // Refused rows first: they are what the user has to fix.
  const outcomes = [...(r.outcomes as ReadonlyArray<CountOutcome | ProductOutcome>)].sort((a, b) => Number(b.status === 'rejected') - Number(a.status === 'rejected') || a.line - b.line)
  const shown = outcomes.slice(0, SHOWN_ROWS)
  const detail = (o: CountOutcome | ProductOutcome): Html | string => {
    if (o.status === 'rejected') return html`<strong>${o.code}</strong>: ${o.detail}`
    if (kind === 'counts') {
      const c = o as Extract<CountOutcome, { before: number }>
      return `${num(c.before)} → ${num(c.after)}`
    }
    return (o as Extract<ProductOutcome, { changes: ReadonlyArray<string> }>).changes.join(', ')
  }
  return html`<div class="table-wrap" tabindex="0"><table><caption class="hint">Outcome per line${outcomes.length > shown.length ? ` (first ${num(shown.length)} of ${num(outcomes.length)}, refused rows first)` : ''}</caption>
<thead><tr><th scope="col" class="n">Line</th><th scope="col">SKU</th>${kind === 'counts' ? html`<th scope="col" class="hide-narrow">Warehouse</th>` : ''}<th scope="col">Outcome</th><th scope="col">Detail</th></tr></thead><tbody>
${shown.map(
  (o) => html`<tr data-line="${o.line}" data-status="${o.status}"><td class="n">${o.line}</td><td class="sku">${o.sku ?? ''}</td>${kind === 'counts' ? html`<td class="hide-narrow">${warehouseCode((o as CountOutcome).warehouseId, codes)}</td>` : ''}<td>${r.dryRun && o.status !== 'rejected' && o.status !== 'unchanged' ? `would be ${o.status}` : o.status}</td><td>${detail(o)}</td></tr>`,
)}
</tbody></table></div>`
}

function warehouseCode(id: number | null, codes: ReadonlyMap<number, string>): string {
  return id === null ? '' : (codes.get(id) ?? `#${id}`)
}

function resultPanel(kind: Kind, r: Result, codes: ReadonlyMap<number, string>): Html {
  return html`<section id="import-result" aria-live="polite">${notice(r.rejected > 0 ? 'warn' : 'ok', summary(kind, r))}${rowsTable(kind, r, codes)}</section>`
}

function jobPanel(j: ImportJobView, codes: ReadonlyMap<number, string>): Html {
  const label = `Import of ${j.kind}`
  if (j.status === 'queued' || j.status === 'running') return renderProgress(`/admin/imports/${encodeURIComponent(j.id)}`, label, j.done, j.total)
  if (j.status === 'failed') return renderOutcome(label, 'failed', notice('bad', html`The import failed: ${j.error ?? 'see the server log'}.`))
  return renderOutcome(label, 'done', j.result ? html`${notice(j.result.rejected > 0 ? 'warn' : 'ok', summary(j.kind, j.result))}${rowsTable(j.kind, j.result, codes)}` : notice('ok', 'Imported.'))
}

/** A queued import inside the result slot, so the next preview still finds its target. */
function queued(j: ImportJobView, codes: ReadonlyMap<number, string>): Html {
  return html`<section id="import-result" aria-live="polite">${jobPanel(j, codes)}</section>`
}

export const importsPage: UiPage = {
  nav: { path: '/admin/imports', label: 'Import' },
  register(ui, deps, render) {
    const limits = deps.importLimits ?? IMPORT_DEFAULTS
    const warehouseCodes = async () => new Map((await listWarehouses(deps)).map((w) => [w.id, w.code] as const))

    async function page(c: UiContext, result: Html | null = null, status: 200 | 400 | 403 | 404 | 409 | 422 | 502 = 200) {
      const warehouses = await listWarehouses(deps)
      const csrf = c.get('csrf')
      const writer = can(c, 'write')
      const admin = can(c, 'admin')
      return render(
        c,
        { title: 'Import CSV', current: '/admin/imports' },
        html`<p class="hint">Counts set on hand to an absolute figure (as <code>sync</code> movements): columns <code>sku</code>, <code>warehouse_code</code> (unless you pick a warehouse below), <code>quantity</code>, optional <code>observed_at</code>, <code>reference_id</code>. Download every level as <a href="/admin/exports/levels.csv" download>levels.csv</a> (it imports back as it is) or the whole <a href="/admin/exports/ledger.csv" download>ledger.csv</a>. Products: <code>sku</code>, <code>product_id</code>, optional <code>parent_id</code>, <code>name</code>, <code>safety_stock</code>, <code>low_stock_threshold</code>, <code>backorders</code>. UTF-8 (a BOM is fine), <code>,</code> or <code>;</code>, at most ${num(Math.floor(limits.maxBytes / 1024 / 1024))} MB.</p>
${writer
  ? html`<form class="card" method="post" action="/admin/imports" enctype="multipart/form-data" hx-post="/admin/imports" hx-encoding="multipart/form-data" hx-target="#import-result" hx-swap="outerHTML">
<input type="hidden" name="_csrf" value="${csrf}">
<div class="filters">
<div><label for="import-kind">What the file holds</label><select id="import-kind" name="kind"><option value="counts">Stock counts</option>${admin ? html`<option value="products">Products (admin)</option>` : ''}</select></div>
<div><label for="import-warehouse">Warehouse of every row (counts)</label><select id="import-warehouse" name="warehouse">${warehouseOptions(warehouses, undefined, { any: 'From the file (warehouse_code)', onlyActive: false })}</select></div>
<div><label for="import-file">CSV file</label><input id="import-file" name="file" type="file" accept=".csv,text/csv" required></div>
</div>
<p><button type="submit" name="mode" value="dry">Preview (dry run)</button> <button type="submit" name="mode" value="apply" class="secondary">Apply</button></p>
<p class="hint">Preview first: it lists what each line would do and changes nothing. Apply sends the same file again and commits the valid rows; refused rows are listed with their line.</p>
</form>`
  : html`<p class="muted">Importing needs a key with the write scope (products: admin).</p>`}
${result ?? html`<section id="import-result"></section>`}`,
        status,
      )
    }

    ui.get('/imports', (c) => page(c))

    const tooLarge = (c: UiContext) => {
      const panel = html`<section id="import-result">${notice('bad', `The file is larger than ${num(Math.floor(limits.maxBytes / 1024 / 1024))} MB; split it, or use the API (POST /inventory/v1/imports) for bigger files.`)}</section>`
      return c.html(panel, 413)
    }

    // The body's size is limited before the session's CSRF check reads it (http/app.ts); the file's own size is checked here.
    ui.post('/imports', async (c) => {
      const answer = (panel: Html, status: 200 | 202 | 400 | 403 | 404 | 409 | 422 | 502) => (c.req.header('hx-request') ? c.html(panel, status) : page(c, panel, status === 202 ? 200 : status))
      const body = await c.req.parseBody()
      const kind: Kind = body.kind === 'products' ? 'products' : 'counts'
      const dryRun = body.mode !== 'apply'
      if (!can(c, kind === 'products' ? 'admin' : 'write')) return answer(html`<section id="import-result">${notice('bad', kind === 'products' ? 'Importing products needs a key with the admin scope.' : 'Importing counts needs a key with the write scope.')}</section>`, 403)
      const file = body.file
      try {
        if (typeof file === 'string' || file === undefined || file.size === 0) throw new ValidationError([{ pointer: '/file', message: 'is required: choose a CSV file with a header row' }])
        if (file.size > limits.maxBytes) throw new CsvTooLargeError(limits.maxBytes)
        const source = file.stream() as unknown as AsyncIterable<Uint8Array>
        const warehouse = typeof body.warehouse === 'string' && body.warehouse !== '' ? body.warehouse : null
        const ctx = requestContextOf(c)
        const codes = await warehouseCodes()
        const now = deps.clock.now()
        if (kind === 'counts') {
          const { rows, early } = await readCountRows(source, { maxBytes: limits.maxBytes, fixedWarehouse: warehouse !== null })
          if (!dryRun && rows.length > limits.jobRows) return answer(queued(await submitImportJob(deps, { kind, rows, early, source: 'csv-import', warehouse, observedAt: now }, ctx), codes), 202)
          return answer(resultPanel(kind, withEarly(await importCounts(deps, rows, { source: 'csv-import', dryRun, warehouse, observedAt: now }, ctx), early), codes), 200)
        }
        const { rows, early } = await readProductRows(source, { maxBytes: limits.maxBytes })
        if (!dryRun && rows.length > limits.jobRows) return answer(queued(await submitImportJob(deps, { kind, rows, early, source: 'csv-import', warehouse: null, observedAt: now }, ctx), codes), 202)
        return answer(resultPanel(kind, withEarly(await importProducts(deps, rows, { dryRun }), early), codes), 200)
      } catch (e) {
        if (e instanceof CsvTooLargeError) return tooLarge(c)
        const refused = e instanceof CsvError ? new ValidationError([{ pointer: e.line === null ? '/file' : `/file line ${e.line}`, message: e.message }]) : e
        return answer(html`<section id="import-result">${explainError(refused)}</section>`, statusOf(refused))
      }
    })

    // Exports for a signed-in browser (any scope can read): the API's streams, page by page as the browser reads.
    ui.get('/exports/levels.csv', () => csvDownload('levels.csv', exportLevels(deps, null), deps.log))
    ui.get('/exports/ledger.csv', () => csvDownload('ledger.csv', exportLedger(deps, { from: null, to: null, sku: null }), deps.log))

    // An import job's progress panel, polled; only the key that started it sees it.
    ui.get('/imports/:id', async (c) => {
      const j = await getImportJob(deps, c.req.param('id'))
      if (j.actor !== c.get('key').id) return c.html(html`<section id="op">${notice('warn', 'This import was started by another key.')}</section>`, 404)
      return c.html(jobPanel(j, await warehouseCodes()))
    })
  },
}
