/** @module cli/stores: connect and operate WooCommerce stores from the command line. */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import type { Runtime } from '../runtime.js'
import { addStore, changeStore, getStore, listStores, removeStore, storeView } from '../service/stores.js'
import { connectorFor, dropConnector } from '../service/woocommerce-runtime.js'
import type { WooConnector } from '../service/woocommerce.js'
import { withRuntime } from './with-runtime.js'
import { progress } from './progress.js'
import { useStoreSealKey } from '../store/woo-repo.js'

const out = (s: string): void => void process.stdout.write(`${s}\n`)

async function withConnector<T>(config: Config, work: (rt: Runtime, woo: WooConnector) => Promise<T>): Promise<T> {
  return withRuntime(config, async (rt) => {
    const woo = connectorFor(rt.deps, config.woocommerce)
    try {
      return await work(rt, woo)
    } finally {
      woo.pool.closeAll()
      dropConnector(rt.deps)
    }
  })
}

/** The first `limit` lines of a list, then "… and N more" when it was cut. */
function outSome<T>(items: ReadonlyArray<T>, limit: number, line: (item: T) => string): void {
  for (const item of items.slice(0, limit)) out(line(item))
  if (items.length > limit) out(`  … and ${items.length - limit} more (--json lists them all)`)
}

const int = (v: string) => {
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${v}`)
  return n
}

export function registerStores(program: Command, config: Config): void {
  // Store secrets are sealed with KEY_ENCRYPTION_KEY when it is set.
  useStoreSealKey(config.security.keyEncryptionKey)
  const stores = program.command('stores').description('Connect and operate WooCommerce stores')
  stores
    .command('add')
    .description('Connect a store (https: Basic auth; http: OAuth 1.0a)')
    .requiredOption('--name <name>', 'a short name, used in commands and the webhook URL')
    .requiredOption('--url <url>', 'the site URL, e.g. https://shop.example')
    .requiredOption('--consumer-key <ck>', 'WooCommerce REST API consumer key (read/write)')
    .requiredOption('--consumer-secret <cs>', 'its consumer secret')
    .requiredOption('--warehouses <codes>', 'comma-separated warehouse codes (or ids) whose stock the store sells')
    .option('--buffer <n>', 'units held back from the store', int)
    .option('--mode <mode>', 'live (push and take orders), observe (take orders, report drift) or paused', 'live')
    .option('--concurrency <n>', 'requests to the store at once (default 4)', int)
    .option('--hold-minutes <n>', 'expiry of the reservation a pending order makes (default 60)', int)
    .option('--ca-file <pem>', 'CA certificate to trust for a self-signed https store')
    .option('--json', 'print the store as JSON')
    .action((o: { name: string; url: string; consumerKey: string; consumerSecret: string; warehouses: string; buffer?: number; mode: string; concurrency?: number; holdMinutes?: number; caFile?: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const s = await addStore(rt.deps, {
          name: o.name,
          url: o.url,
          consumerKey: o.consumerKey,
          consumerSecret: o.consumerSecret,
          warehouses: o.warehouses.split(',').map((w) => w.trim()).filter(Boolean),
          buffer: o.buffer,
          mode: o.mode,
          concurrency: o.concurrency,
          holdMinutes: o.holdMinutes,
          caFile: o.caFile ?? null,
        })
        if (o.json) return out(JSON.stringify(storeView(s)))
        out(`Added store ${s.name} (${s.id}), ${s.baseUrl.startsWith('https:') ? 'Basic auth over https' : 'OAuth 1.0a over http'}, warehouses ${s.warehouses.join(',')}, mode ${s.mode}.`)
        out(`Next: stockbridge stores map ${s.name}; stockbridge stores webhooks ${s.name} --callback-url https://<this hub>; stockbridge stores sync ${s.name}`)
      }),
    )
  stores
    .command('list')
    .description('List stores with mode and health (never their secrets)')
    .option('--json', 'one JSON array')
    .action((o: { json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const all = (await listStores(rt.deps)).map(storeView)
        if (o.json) return out(JSON.stringify(all))
        if (all.length === 0) return out('No stores. Add one with: stockbridge stores add --name N --url URL --consumer-key CK --consumer-secret CS --warehouses CODE')
        for (const s of all) out(`${s.id}\t${s.name}\t${s.url}\t${s.mode}\twarehouses=${s.warehouses.join(',')}\tbuffer=${s.buffer}\thealth=${s.health}${s.health_reason ? ` (${s.health_reason})` : ''}\twebhooks=${s.webhooks_configured ? 'yes' : 'no'}`)
      }),
    )
  stores
    .command('show <store>')
    .description('One store: settings, health, and what steers pushes to it (window, requests in flight, store latency, backlog)')
    .option('--json', 'one JSON object')
    .action((ref: string, o: { json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const s = storeView(await getStore(rt.deps, ref))
        if (o.json) return out(JSON.stringify(s))
        out(`${s.name} (${s.id})  ${s.url}  mode ${s.mode}  warehouses ${s.warehouses.join(',')}  buffer ${s.buffer}  concurrency ${s.concurrency}`)
        out(`health: ${s.health}${s.health_reason ? ` (${s.health_reason})` : ''}${s.unreachable_since ? `; unreachable since ${s.unreachable_since}` : ''}`)
        const p = s.pushing
        if (!p) return out('pushing: nothing pushed yet')
        out(`pushing (as of ${p.at ?? '?'}): window ${p.window_ms ?? '-'} ms${p.loaded ? ' (store loaded)' : ''}, ${p.in_flight ?? '-'} in flight of ${p.concurrency ?? '-'} allowed (max ${p.max_concurrency ?? '-'}), store capacity ${p.capacity ?? 'not seen to queue'}, store latency ${p.latency_ms ?? '-'} ms, backlog ${p.backlog ?? '-'}, busy ${p.busy === null ? '-' : `${Math.round(p.busy * 100)}%`}`)
      }),
    )
  stores
    .command('set <store>')
    .description('Change a store: mode, buffer, warehouses, credentials, concurrency')
    .option('--url <url>')
    .option('--consumer-key <ck>')
    .option('--consumer-secret <cs>')
    .option('--warehouses <codes>')
    .option('--buffer <n>', 'units held back', int)
    .option('--mode <mode>', 'live, observe or paused')
    .option('--concurrency <n>', 'requests at once', int)
    .option('--hold-minutes <n>', 'pending-order reservation expiry', int)
    .option('--ca-file <pem>', 'CA to trust ("" to clear)')
    .action((ref: string, o: { url?: string; consumerKey?: string; consumerSecret?: string; warehouses?: string; buffer?: number; mode?: string; concurrency?: number; holdMinutes?: number; caFile?: string }) =>
      withRuntime(config, async (rt) => {
        const s = await changeStore(rt.deps, ref, {
          url: o.url,
          consumerKey: o.consumerKey,
          consumerSecret: o.consumerSecret,
          warehouses: o.warehouses?.split(',').map((w) => w.trim()).filter(Boolean),
          buffer: o.buffer,
          mode: o.mode,
          concurrency: o.concurrency,
          holdMinutes: o.holdMinutes,
          caFile: o.caFile,
        })
        out(`Updated ${s.name}: mode ${s.mode}, buffer ${s.buffer}, warehouses ${s.warehouses.join(',')}`)
      }),
    )
  stores
    .command('remove <store>')
    .description('Disconnect a store (its mappings, queued pushes and records go too)')
    .action((ref: string) =>
      withRuntime(config, async (rt) => {
        const s = await removeStore(rt.deps, ref)
        out(`Removed ${s.name} (${s.id})`)
      }),
    )
  stores
    .command('map <store>')
    .description('Map hub SKUs to store products and variations (GET /products?sku= in lists of 100, or --scan the catalogue)')
    .option('--scan', 'page through the whole catalogue instead (also finds store SKUs the hub lacks)')
    .option('--json', 'print the report as JSON')
    .action((ref: string, o: { scan?: boolean; json?: boolean }) =>
      withConnector(config, async (_rt, woo) => {
        const r = await woo.map(ref, { ...(o.scan ? { scan: true } : { onProgress: progress('looking up SKUs') }) })
        if (o.json) return out(JSON.stringify(r))
        out(`Mapped ${r.mapped} SKUs. Unknown in the store: ${r.unknown.length}. Duplicated in the store: ${r.duplicated.length}.${o.scan ? ` In the store only: ${r.notInHub.length}.` : ''}`)
        outSome(r.unknown, 20, (s) => `  unknown    ${s}`)
        outSome(r.duplicated, 20, (d) => `  duplicated ${d.sku} (products ${d.productIds.join(', ')})`)
        outSome(r.notInHub, 20, (s) => `  store only ${s}`)
      }),
    )
  stores
    .command('import-products <store>')
    .description("Register the store's products and variations as SKUs (product id, parent id); report SKUs missing or duplicated in the store")
    .option('--dry-run', 'report what would be created or changed, and change nothing')
    .option('--json', 'print the report as JSON')
    .action((ref: string, o: { dryRun?: boolean; json?: boolean }) =>
      withConnector(config, async (_rt, woo) => {
        const r = await woo.importProducts(ref, { dryRun: Boolean(o.dryRun), onProgress: progress('reading variations') })
        if (o.json) return out(JSON.stringify(r))
        const x = r.result
        out(`${o.dryRun ? 'dry run: ' : ''}${r.scanned} store items: ${x.created} ${o.dryRun ? 'would be created' : 'created'}, ${x.updated} ${o.dryRun ? 'would be updated' : 'updated'}, ${x.unchanged} unchanged, ${x.rejected} refused; ${r.missingSku.length} without a SKU, ${r.duplicated.length} SKUs duplicated in the store`)
        for (const m of r.missingSku.slice(0, 50)) out(`  no SKU      product ${m.productId}${m.parentId ? ` (variation of ${m.parentId})` : ''}${m.name ? `  ${m.name}` : ''}`)
        for (const d of r.duplicated.slice(0, 50)) out(`  duplicated  ${d.sku} (products ${d.productIds.join(', ')})`)
        for (const f of x.outcomes.filter((y) => y.status === 'rejected').slice(0, 50)) out(`  refused     ${f.sku ?? '?'}: ${'detail' in f ? f.detail : ''}`)
      }),
    )
  stores
    .command('sync <store>')
    .description("Push every mapped SKU's figure now (batches of 100, with a progress bar)")
    .option('--json', 'print the result as JSON')
    .action((ref: string, o: { json?: boolean }) =>
      withConnector(config, async (_rt, woo) => {
        const r = await woo.sync(ref, { onProgress: progress('pushing batches') })
        if (o.json) return out(JSON.stringify(r))
        out(`${r.skus} mapped SKUs: ${r.pushed} pushed, ${r.unchanged} skipped, ${r.failed.length} failed, in ${r.requests} requests`)
        outSome(r.failed, 20, (f) => `  failed ${f.sku}: ${f.reason}`)
        if (r.failed.length) process.exitCode = 1
      }),
    )
  stores
    .command('webhooks <store>')
    .description('Create (or find and re-enable) order.created, order.updated and product.updated webhooks, signed with a secret the hub keeps')
    .requiredOption('--callback-url <url>', "this hub's public URL (the store's webhook path is appended) or the full webhook URL")
    .action((ref: string, o: { callbackUrl: string }) =>
      withConnector(config, async (_rt, woo) => {
        const r = await woo.registerWebhooks(ref, o.callbackUrl)
        out(`Deliveries go to ${r.callbackUrl}`)
        for (const w of r.webhooks) out(`  ${w.action} webhook ${w.id} ${w.topic}`)
      }),
    )
  stores
    .command('reconcile <store>')
    .description('Compare store and hub figures for every mapped SKU; repair drift and re-enable disabled webhooks unless --dry-run')
    .option('--dry-run', 'report only: change nothing in the store')
    .option('--json', 'print the run as JSON')
    .action((ref: string, o: { dryRun?: boolean; json?: boolean }) =>
      withConnector(config, async (_rt, woo) => {
        const run = await woo.reconcile(ref, { dryRun: o.dryRun === true, onProgress: progress('reading store figures') })
        if (o.json) return out(JSON.stringify(run))
        out(`Run ${run.id} (${run.dryRun ? 'dry run' : 'repair'}): ${run.status}; ${run.checked} SKUs checked, ${run.drift} drifted, ${run.repaired} repaired, ${run.webhooksReenabled} webhooks re-enabled${run.error ? `; error: ${run.error}` : ''}`)
        const report = run.report as { drift?: Array<{ sku: string; store_figure: number | null; hub_figure: number; repaired: boolean }>; webhooks?: Array<{ id: number; topic: string; status: string; reenabled: boolean }> } | null
        outSome(report?.drift ?? [], 50, (d) => `  ${d.sku}\tstore ${d.store_figure ?? '—'}\thub ${d.hub_figure}${d.repaired ? '\trepaired' : ''}`)
        for (const w of report?.webhooks ?? []) out(`  webhook ${w.id} ${w.topic} was ${w.status}${w.reenabled ? ', re-enabled' : ''}`)
        if (run.status === 'failed') process.exitCode = 1
      }),
    )
}
