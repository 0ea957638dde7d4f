/** @module cli/providers: inbound providers (#14) from the command line: add, list, show, change, remove, try a payload, resolve held SKUs. */
import fs from 'node:fs'
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { invalid } from '../domain/errors.js'
import { closeMappingRunner, useMappingLimits } from '../service/provider-mapping.js'
import { PROVIDER_PRESETS, findPreset } from '../service/provider-presets.js'
import {
  addProvider,
  changeProvider,
  findInboundProvider,
  listHeld,
  listProviderViews,
  providerView,
  removeProvider,
  resolveHeld,
  showProvider,
  testProviderPayload,
  type NewProvider,
  type ProviderOptions,
} from '../service/providers.js'
import { DomainError } from '../domain/errors.js'
import { withRuntime } from './with-runtime.js'

const out = (s: string): void => void process.stdout.write(`${s}\n`)

function readFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw invalid(`/${what}`, `cannot read ${file.slice(0, 200)}: ${(e as Error).message}`)
  }
}

interface DefinitionOptions {
  secret?: string
  mapping?: string
  preset?: string
  header?: string
  encoding?: string
  prefix?: string
  warehouses?: string
  unknownSku?: string
  json?: boolean
}

function definitionOf(o: DefinitionOptions): Omit<NewProvider, 'name' | 'secret'> & { secret?: string } {
  return {
    ...(o.secret !== undefined ? { secret: o.secret } : {}),
    ...(o.mapping !== undefined ? { mapping: readFile(o.mapping, 'mapping') } : {}),
    ...(o.preset !== undefined ? { preset: o.preset } : {}),
    ...(o.header !== undefined ? { header: o.header } : {}),
    ...(o.encoding !== undefined ? { encoding: o.encoding } : {}),
    ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
    ...(o.warehouses !== undefined ? { warehouses: o.warehouses === '' ? null : o.warehouses.split(',').map((w) => w.trim()).filter(Boolean) } : {}),
    ...(o.unknownSku !== undefined ? { unknownSku: o.unknownSku } : {}),
  }
}

function withDefinitionOptions(c: Command): Command {
  return c
    .option('--mapping <file>', 'a file holding the JSONata mapping (payload → movements)')
    .option('--preset <preset>', `start from a built-in mapping: ${Object.keys(PROVIDER_PRESETS).join(', ')}`)
    .option('--header <name>', 'header carrying the signature (default: the preset\u2019s, else X-Webhook-Signature)')
    .option('--encoding <enc>', 'hex or base64')
    .option('--prefix <literal>', 'a literal before the signature, e.g. sha256=')
    .option('--warehouses <codes>', 'comma-separated warehouse codes or ids it may move stock in (default all; "" for all)')
    .option('--unknown-sku <policy>', 'reject (default), create, or hold')
    .option('--json', 'print the provider as JSON')
}

export function registerProviders(program: Command, config: Config): void {
  const opts: ProviderOptions = { sealKey: config.security.keyEncryptionKey, envProviders: config.security.webhooks }
  useMappingLimits(config.providerMapping)
  const providers = program.command('providers').description('Inbound providers: warehouses, ERPs and suppliers posting signed webhooks')

  withDefinitionOptions(providers.command('add <name>').description('Add a provider; webhooks then go to POST /inventory/v1/webhook/<name>').requiredOption('--secret <secret>', 'the HMAC secret the provider signs with (at least 16 characters)')).action(
    (name: string, o: DefinitionOptions) =>
      withRuntime(config, async (rt) => {
        if (o.mapping === undefined && o.preset === undefined) throw invalid('/mapping', 'give --mapping FILE or --preset NAME (see: stockbridge providers presets)')
        const p = await addProvider(rt.deps, opts, { ...definitionOf(o), name, secret: o.secret! })
        const { secret: _secret, ...view } = p
        if (o.json) return out(JSON.stringify(providerView(view)))
        out(`Added provider ${p.name}: signature ${p.encoding} HMAC-SHA256 in ${p.header}${p.prefix ? ` after "${p.prefix}"` : ''}, unknown SKUs: ${p.unknownSku}${p.preset ? `, mapping from preset ${p.preset}` : ''}.`)
        out(`Webhook URL: <this hub>/inventory/v1/webhook/${p.name}   Try a payload: stockbridge providers test ${p.name} --payload FILE`)
      }),
  )
  withDefinitionOptions(providers.command('set <name>').description('Change a stored provider').option('--secret <secret>', 'a new secret')).action((name: string, o: DefinitionOptions) =>
    withRuntime(config, async (rt) => {
      const { secret: _secret, ...view } = await changeProvider(rt.deps, opts, name, definitionOf(o))
      if (o.json) return out(JSON.stringify(providerView(view)))
      out(`Changed provider ${name}.`)
    }),
  )
  providers
    .command('list')
    .description('Every provider, stored or from the environment (never secrets)')
    .option('--json', 'one JSON array')
    .action((o: { json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const all = await listProviderViews(rt.deps, opts)
        if (o.json) return out(JSON.stringify(all))
        if (all.length === 0) return out('No providers. Add one with: stockbridge providers add NAME --secret S --preset warehouse_system_a')
        for (const p of all) out(`${p.name}\t${p.origin}\t${p.encoding} in ${p.header}${p.prefix ? ` ("${p.prefix}")` : ''}\tunknown_sku=${p.unknown_sku}\t${p.preset ? `preset=${p.preset}` : p.mapping ? 'custom mapping' : 'NO MAPPING'}${p.warehouses ? `\twarehouses=${p.warehouses.join(',')}` : ''}`)
      }),
    )
  providers
    .command('show <name>')
    .description('One provider with its mapping')
    .option('--json', 'as JSON')
    .action((name: string, o: { json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const p = await showProvider(rt.deps, opts, name)
        if (o.json) return out(JSON.stringify(p))
        out(`${p.name} (${p.origin}): ${p.encoding} HMAC-SHA256 in ${p.header}${p.prefix ? ` after "${p.prefix}"` : ''}; unknown SKUs: ${p.unknown_sku}; warehouses: ${p.warehouses?.join(',') ?? 'all'}${p.preset ? `; preset ${p.preset}` : ''}`)
        out('mapping:')
        out(p.mapping || '(none: its payloads are refused with 422 until one is set)')
      }),
    )
  providers
    .command('remove <name>')
    .description('Remove a stored provider (its webhooks are refused from then on)')
    .action((name: string) =>
      withRuntime(config, async (rt) => {
        await removeProvider(rt.deps, opts, name)
        out(`Removed ${name}.`)
      }),
    )
  providers
    .command('test <name>')
    .description('Print the movements a payload would produce; changes nothing')
    .requiredOption('--payload <file>', 'a JSON file with the payload as the provider sends it')
    .option('--json', 'as JSON')
    .action((name: string, o: { payload: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        try {
          const provider = await findInboundProvider(rt.deps, opts, name)
          if (!provider) throw new DomainError('provider_not_found', `No provider called ${name}`, { name })
          const text = readFile(o.payload, 'payload')
          try {
            JSON.parse(text)
          } catch {
            throw invalid('/payload', `${o.payload} is not valid JSON`)
          }
          const r = await testProviderPayload(rt.deps, provider, text)
          if (o.json) return out(JSON.stringify(r))
          out(`event ${r.event_id}: ${r.movements.length} movement(s); nothing was changed`)
          for (const m of r.movements) {
            const what = m.status === 'refused' ? `refused (${String(m.code)}): ${String(m.detail)}` : m.status === 'unknown_sku' ? `unknown SKU: ${String(m.detail)}` : 'ready'
            out(`#${String(m.index)}\t${String(m.sku)}${m.external_sku ? ` (theirs: ${String(m.external_sku)})` : ''}\twarehouse ${String(m.warehouse_id)}\t${String(m.change_type)} ${m.quantity === undefined ? '' : String(m.quantity)}${m.observed_at ? ` @ ${String(m.observed_at)}` : ''}\t${what}`)
          }
        } finally {
          await closeMappingRunner()
        }
      }),
    )
  providers
    .command('presets')
    .description('The built-in mappings (copy one with --preset, or print it with: providers preset NAME)')
    .action(() => {
      for (const p of Object.values(PROVIDER_PRESETS)) out(`${p.name}\t${p.encoding} in ${p.header}\t${p.description}\t(${p.source})`)
    })
  providers
    .command('preset <preset>')
    .description('Print a preset\u2019s mapping (to a file you can change) and, with --example, a payload it takes')
    .option('--example', 'print the example payload instead')
    .action((name: string, o: { example?: boolean }) => {
      const p = findPreset(name)
      if (!p) throw invalid('/preset', `must be one of ${Object.keys(PROVIDER_PRESETS).join(', ')}`)
      out(o.example ? JSON.stringify(p.example, null, 2) : p.mapping)
    })
  providers
    .command('held <name>')
    .description('Items held for SKUs the provider sent that are not registered (hold policy), oldest first')
    .option('--sku <external>', 'only this SKU (as the provider sends it)')
    .option('--json', 'as JSON')
    .action((name: string, o: { sku?: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const held = await listHeld(rt.deps, opts, name, o.sku)
        if (o.json) return out(JSON.stringify(held))
        if (held.length === 0) return out('Nothing held.')
        for (const h of held) out(`${h.id}\t${h.external_sku}\twarehouse ${h.warehouse_id}\t${h.change_type} ${h.quantity}\tevent ${h.event_id}\theld ${h.held_at}`)
      }),
    )
  providers
    .command('resolve <name> <external-sku>')
    .description('Resolve a held SKU: map it to ours (remembered), register it, or discard; held items then apply in order')
    .option('--sku <ours>', 'map it to this registered SKU')
    .option('--create', 'register it as a new SKU')
    .option('--discard', 'drop its held items')
    .option('--json', 'as JSON')
    .action((name: string, external: string, o: { sku?: string; create?: boolean; discard?: boolean; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const ways = [o.sku !== undefined, o.create === true, o.discard === true].filter(Boolean).length
        if (ways !== 1) throw invalid('/sku', 'give exactly one of --sku OURS, --create or --discard')
        const how = o.sku !== undefined ? { sku: o.sku } : o.create ? ({ create: true } as const) : ({ discard: true } as const)
        const r = await resolveHeld(rt.deps, opts, name, external, how, { actor: 'cli' })
        if (o.json) return out(JSON.stringify(r))
        const counts = new Map<string, number>()
        for (const x of r.results) counts.set(x.status, (counts.get(x.status) ?? 0) + 1)
        out(`${external}: ${r.action}${r.sku && r.sku !== external ? ` to ${r.sku}` : ''}; ${r.results.length} held item(s): ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}`)
      }),
    )
}
