/** @module cli/warehouses: a warehouse's pull source from the command line: set it, pull now, list runs (#14). */
import fs from 'node:fs'
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { DomainError } from '../domain/errors.js'
import type { Warehouse } from '../domain/warehouse.js'
import type { Runtime } from '../runtime.js'
import { listWarehouses } from '../service/catalog.js'
import { runPullNow } from '../connectors/pulls/run.js'
import { listPullRuns, pullRunView, pullSourceView, setPullSource, type PaginationInput, type PullAuthInput } from '../service/pulls.js'
import { usePullSealKey } from '../store/pull-repo.js'
import type { CountOutcome } from '../service/count-import.js'
import { withRuntime } from './with-runtime.js'

const out = (s: string): void => void process.stdout.write(`${s}\n`)

export async function warehouseByCode(rt: Runtime, ref: string): Promise<Warehouse> {
  const w = (await listWarehouses(rt.deps)).find((x) => x.code === ref || String(x.id) === ref)
  if (!w) throw new DomainError('warehouse_not_found', `No warehouse has code or id ${ref}`, { warehouse: ref })
  return w
}

function describeOutcome(o: CountOutcome): string {
  if (o.status === 'rejected') return `  #${o.line} ${o.sku ?? '?'}: ${o.code} ${o.detail}`
  return `  #${o.line} ${o.sku}: ${o.before} → ${o.after}${o.status === 'stale' ? ' (stale: a newer count is in)' : o.status === 'unchanged' ? ' (unchanged)' : ''}`
}

export function registerWarehouses(program: Command, config: Config): void {
  usePullSealKey(config.security.keyEncryptionKey)
  const wh = program.command('warehouses').description("Warehouses' pull sources: stock read from a warehouse API")
  wh.command('set-pull <code>')
    .description('Set or replace the pull source of a warehouse')
    .requiredOption('--url <url>', 'the stock listing URL')
    .option('--bearer <token>', 'send Authorization: Bearer <token>')
    .option('--basic <user:password>', 'send Basic auth')
    .option('--header <name:value>', 'send this header')
    .option('--mapping <file>', 'a JSONata file mapping one page to [{sku, quantity}] (default: inventory_items[{sku, quantity}])')
    .option('--pagination <kind>', 'none, next_link, page or cursor', 'none')
    .option('--page-param <name>', 'page: the page number parameter (default page); cursor: the cursor parameter')
    .option('--page-size <n>', 'page: items per page (stops at a short page)')
    .option('--size-param <name>', 'page: the page size parameter, e.g. per_page')
    .option('--next-field <path>', 'next_link: body field with the next URL (default: Link header); cursor: body field with the next cursor')
    .option('--interval <seconds>', 'pull every N seconds')
    .option('--cron <expr>', 'pull on this cron schedule (UTC)')
    .option('--timeout <seconds>', 'per request (default 30)')
    .option('--disabled', 'keep it but do not schedule it')
    .action((code: string, o: { url: string; bearer?: string; basic?: string; header?: string; mapping?: string; pagination: string; pageParam?: string; pageSize?: string; sizeParam?: string; nextField?: string; interval?: string; cron?: string; timeout?: string; disabled?: boolean }) =>
      withRuntime(config, async (rt) => {
        const w = await warehouseByCode(rt, code)
        const split = (v: string, sep: string) => [v.slice(0, v.indexOf(sep)), v.slice(v.indexOf(sep) + 1)] as const
        const auth: PullAuthInput | undefined = o.bearer ? { type: 'bearer', token: o.bearer } : o.basic ? { type: 'basic', username: split(o.basic, ':')[0], password: split(o.basic, ':')[1] } : o.header ? { type: 'header', name: split(o.header, ':')[0].trim(), value: split(o.header, ':')[1].trim() } : undefined
        const num = (v: string | undefined) => (v === undefined ? undefined : Number(v))
        const pagination: PaginationInput =
          o.pagination === 'page' ? { type: 'page', param: o.pageParam, size: num(o.pageSize), size_param: o.sizeParam }
          : o.pagination === 'cursor' ? { type: 'cursor', param: o.pageParam ?? 'cursor', field: o.nextField ?? 'next_cursor' }
          : o.pagination === 'next_link' ? { type: 'next_link', field: o.nextField }
          : { type: 'none' }
        const s = await setPullSource(rt.deps, w.id, {
          url: o.url,
          auth,
          mapping: o.mapping ? fs.readFileSync(o.mapping, 'utf8') : null,
          pagination,
          intervalSeconds: num(o.interval) ?? null,
          cron: o.cron ?? null,
          timeoutSeconds: num(o.timeout),
          enabled: !o.disabled,
        })
        out(JSON.stringify(pullSourceView(s!), null, 2))
      }),
    )
  wh.command('pull <code>')
    .description("Pull the warehouse's stock from its API now")
    .option('--dry-run', 'print what would change (before → after) and change nothing')
    .option('--json', 'print the run as JSON')
    .action((code: string, o: { dryRun?: boolean; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const w = await warehouseByCode(rt, code)
        const r = await runPullNow(rt.deps, w.id, { dryRun: Boolean(o.dryRun) })
        if (o.json) return out(JSON.stringify(pullRunView(r.run, true), null, 2))
        const x = r.run
        out(`${o.dryRun ? 'dry run: ' : ''}${x.pages} page(s), ${x.fetched} item(s): ${x.applied} ${o.dryRun ? 'would change' : 'applied'}, ${x.unchanged} unchanged, ${x.stale} stale, ${x.rejected} rejected`)
        for (const oc of r.result?.outcomes ?? []) if (o.dryRun || oc.status === 'rejected') out(describeOutcome(oc))
      }),
    )
  wh.command('pulls <code>')
    .description('Recent pull runs of a warehouse, newest first')
    .option('--limit <n>', 'how many (default 20)', '20')
    .option('--json', 'print JSON')
    .action((code: string, o: { limit: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const w = await warehouseByCode(rt, code)
        const runs = await listPullRuns(rt.deps, w.id, Number(o.limit) || 20)
        if (o.json) return out(JSON.stringify(runs.map((r) => pullRunView(r, true)), null, 2))
        if (runs.length === 0) return out('no pulls yet')
        for (const r of runs) {
          out(`${new Date(r.startedAt).toISOString()}  ${r.id}  ${r.trigger.padEnd(8)} ${r.dryRun ? 'dry-run ' : ''}${r.status.padEnd(7)} pages ${r.pages}  items ${r.fetched}  applied ${r.applied}  unchanged ${r.unchanged}  stale ${r.stale}  rejected ${r.rejected}${r.error ? `  error: ${r.error}` : ''}`)
        }
      }),
    )
}
