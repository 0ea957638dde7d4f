/** @module cli/csv: `import counts|products FILE.csv` and `export levels|ledger` (#14). */
import fs from 'node:fs'
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { CsvError, CsvTooLargeError } from '../connectors/csv/codec.js'
import { countLedger, countLevels, exportLedger, exportLevels, ledgerFilter, resolveWarehouse } from '../connectors/csv/exports.js'
import { readCountRows, readProductRows } from '../connectors/csv/imports.js'
import { importCounts, type CountOutcome } from '../service/count-import.js'
import { withEarly } from '../service/imports.js'
import { importProducts, type ProductOutcome } from '../service/product-import.js'
import { progress } from './progress.js'
import { withRuntime } from './with-runtime.js'

const out = (s: string): void => void process.stdout.write(`${s}\n`)
/** Files read from disk may be as large as the disk allows; the row bound still applies. */
const CLI_MAX_BYTES = Number.MAX_SAFE_INTEGER

function openFile(file: string): fs.ReadStream {
  if (!fs.existsSync(file)) throw new Error(`no such file: ${file}`)
  return fs.createReadStream(file)
}

function fileProblem(file: string, e: unknown): never {
  if (e instanceof CsvError) throw new Error(`${file}${e.line !== null ? `:${e.line}` : ''}: ${e.message}`)
  if (e instanceof CsvTooLargeError) throw new Error(`${file}: ${e.message}`)
  throw e
}

function countLine(o: CountOutcome): string {
  if (o.status === 'rejected') return `line ${o.line}: ${o.sku ?? '?'}: ${o.code}: ${o.detail}`
  return `line ${o.line}: ${o.sku} @${o.warehouseId}: ${o.before} → ${o.after}${o.status === 'stale' ? ' (stale: a newer count is in; no change)' : o.status === 'unchanged' ? ' (unchanged)' : ''}`
}

function productLine(o: ProductOutcome): string {
  if (o.status === 'rejected') return `line ${o.line}: ${o.sku ?? '?'}: ${o.code}: ${o.detail}`
  return `line ${o.line}: ${o.sku}: ${o.status}${o.changes.length ? ` (${o.changes.join(', ')})` : ''}`
}

async function writeOut(chunks: AsyncGenerator<Uint8Array>, file: string | undefined): Promise<void> {
  const target: NodeJS.WritableStream = file ? fs.createWriteStream(file) : process.stdout
  for await (const chunk of chunks) {
    if (!target.write(chunk)) await new Promise<void>((r) => target.once('drain', () => r()))
  }
  if (file) await new Promise<void>((resolve, reject) => (target as fs.WriteStream).end((e?: Error | null) => (e ? reject(e) : resolve())))
}

export function registerCsv(program: Command, config: Config): void {
  const imp = program.command('import').description('Import CSV files (header row; `,` or `;`; BOM and CRLF accepted)')
  imp
    .command('counts <file>')
    .description('Absolute counts (sku, warehouse_code, quantity, optional observed_at, reference_id) as sync movements')
    .option('--warehouse <code>', 'the warehouse of every row (the file then needs no warehouse_code column)')
    .option('--dry-run', 'print what would change (before → after per row) and change nothing')
    .option('--json', 'print the result as JSON')
    .action((file: string, o: { warehouse?: string; dryRun?: boolean; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        let read
        try {
          read = await readCountRows(openFile(file), { maxBytes: CLI_MAX_BYTES, fixedWarehouse: o.warehouse !== undefined })
        } catch (e) {
          fileProblem(file, e)
        }
        const bar = progress(o.dryRun ? 'checking' : 'importing')
        const r = withEarly(await importCounts(rt.deps, read.rows, { source: 'csv-import', dryRun: Boolean(o.dryRun), warehouse: o.warehouse ?? null, observedAt: Date.now(), onProgress: bar }, { actor: 'cli' }), read.early)
        if (o.json) return out(JSON.stringify(r, null, 2))
        for (const x of r.outcomes) if (o.dryRun || x.status === 'rejected') out(countLine(x))
        out(`${r.rows} rows: ${r.applied} ${o.dryRun ? 'would change' : 'changed'}, ${r.unchanged} unchanged, ${r.stale} stale, ${r.rejected} rejected${o.dryRun ? ' (dry run: nothing changed)' : ''}`)
        if (r.rejected > 0) process.exitCode = 3
      }),
    )
  imp
    .command('products <file>')
    .description('Create or update SKUs (sku, product_id, parent_id, name, safety_stock, low_stock_threshold, backorders)')
    .option('--dry-run', 'print what would be created or changed, and change nothing')
    .option('--json', 'print the result as JSON')
    .action((file: string, o: { dryRun?: boolean; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        let read
        try {
          read = await readProductRows(openFile(file), { maxBytes: CLI_MAX_BYTES })
        } catch (e) {
          fileProblem(file, e)
        }
        const r = withEarly(await importProducts(rt.deps, read.rows, { dryRun: Boolean(o.dryRun), onProgress: progress(o.dryRun ? 'checking' : 'importing') }), read.early)
        if (o.json) return out(JSON.stringify(r, null, 2))
        for (const x of r.outcomes) if (o.dryRun || x.status === 'rejected') out(productLine(x))
        out(`${r.rows} rows: ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.rejected} rejected${o.dryRun ? ' (dry run: nothing changed)' : ''}`)
        if (r.rejected > 0) process.exitCode = 3
      }),
    )

  const exp = program.command('export').description('Export CSV (to a file, or to stdout)')
  exp
    .command('levels')
    .description('Every stock level: sku, warehouse_code, quantity (on hand), reserved, available, …; imports back as counts')
    .option('--warehouse <code>', 'one warehouse only')
    .option('--out <file>', 'write here instead of stdout')
    .action((o: { warehouse?: string; out?: string }) =>
      withRuntime(config, async (rt) => {
        const wh = await resolveWarehouse(rt.deps, o.warehouse)
        const total = o.out ? await countLevels(rt.deps, wh) : 0
        await writeOut(exportLevels(rt.deps, wh, o.out ? progress('exporting') : undefined, total), o.out)
      }),
    )
  exp
    .command('ledger')
    .description('Ledger entries, oldest first')
    .option('--from <time>', 'ISO 8601 date or time (inclusive)')
    .option('--to <time>', 'ISO 8601 date or time (exclusive)')
    .option('--sku <sku>', 'one SKU only')
    .option('--out <file>', 'write here instead of stdout')
    .action((o: { from?: string; to?: string; sku?: string; out?: string }) =>
      withRuntime(config, async (rt) => {
        const f = ledgerFilter(o)
        const total = o.out ? await countLedger(rt.deps, f) : 0
        await writeOut(exportLedger(rt.deps, f, o.out ? progress('exporting') : undefined, total), o.out)
      }),
    )
}
