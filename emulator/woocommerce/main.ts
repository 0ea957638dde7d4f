/**
 * Run the WooCommerce emulator: `npx tsx emulator/woocommerce/main.ts [--port 8090] [--simple 50]
 * [--variable 10] [--stock 20] [--catalog numbered|demo] [--realistic] [--https CERT,KEY]
 * [--webhooks async|sync|manual] [--sku-prefix P] [--sku-digits 5] [--observe]
 * [--capacity [--workers 2] [--request-ms 60] [--item-ms 35]]`. `--capacity` turns on the capacity
 * model (server.ts): that many requests served at once, each costing a worker request-ms plus
 * item-ms per batch item, the rest queued. `--catalog demo`
 * carries the SKUs of the hub's demo data set; the numbered catalogue's SKUs are
 * `${prefix}S-00001` (simple) and `${prefix}V-00001-M` (variations), `--sku-digits` wide.
 * `--port 0` picks a free port. `--observe` serves /__emulator/stock-writes, /__emulator/requests
 * and PUT /__emulator/latency (see server.ts), as `npm run bench` uses them.
 * Prints the base URL and an API key pair; the shop lives in memory until the process ends.
 */
import fs from 'node:fs'
import { parseArgs } from 'node:util'
import { seedCatalog, seedDemoCatalog } from './seed.js'
import { DEFAULT_CAPACITY, WooEmulator } from './server.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8090' },
    host: { type: 'string', default: '127.0.0.1' },
    simple: { type: 'string', default: '20' },
    variable: { type: 'string', default: '5' },
    stock: { type: 'string', default: '0' },
    realistic: { type: 'boolean', default: false },
    catalog: { type: 'string', default: 'numbered' },
    https: { type: 'string' },
    webhooks: { type: 'string', default: 'async' },
    'webhook-delay-ms': { type: 'string', default: '1000' },
    'consumer-key': { type: 'string' },
    'consumer-secret': { type: 'string' },
    'sku-prefix': { type: 'string', default: '' },
    'sku-digits': { type: 'string', default: '5' },
    observe: { type: 'boolean', default: false },
    capacity: { type: 'boolean', default: false },
    workers: { type: 'string', default: String(DEFAULT_CAPACITY.workers) },
    'request-ms': { type: 'string', default: String(DEFAULT_CAPACITY.requestMs) },
    'item-ms': { type: 'string', default: String(DEFAULT_CAPACITY.itemMs) },
  },
})

const [cert, key] = values.https ? values.https.split(',') : []
const emu = new WooEmulator({
  port: Number(values.port),
  host: values.host,
  ...(cert && key ? { tls: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } } : {}),
  latency: values.realistic ? { perRequestMs: 90, perItemMs: 20 } : { perRequestMs: 0, perItemMs: 0 },
  webhookMode: values.webhooks as 'async' | 'sync' | 'manual',
  asyncDelayMs: Number(values['webhook-delay-ms']),
  observe: values.observe,
  ...(values.capacity ? { capacity: { workers: Number(values.workers), requestMs: Number(values['request-ms']), itemMs: Number(values['item-ms']) } } : {}),
})
const apiKey =
  values['consumer-key'] && values['consumer-secret']
    ? (emu.keys.push({ consumerKey: values['consumer-key'], consumerSecret: values['consumer-secret'], permission: 'read_write' }), emu.keys[0]!)
    : emu.addKey('read_write')
const seeded = values.catalog === 'demo' ? seedDemoCatalog(emu.shop, Number(values.stock)) : seedCatalog(emu.shop, { simple: Number(values.simple), variable: Number(values.variable), stock: Number(values.stock), prefix: values['sku-prefix'], digits: Number(values['sku-digits']) })
await emu.start()
process.stdout.write(
  [
    `WooCommerce emulator at ${emu.url}  (REST base ${emu.url}/wp-json/wc/v3/)`,
    `consumer key:    ${apiKey.consumerKey}`,
    `consumer secret: ${apiKey.consumerSecret}`,
    `catalogue: ${seeded.simple.length} simple products, ${seeded.parents.length} variable with ${seeded.variations.length} variations (SKUs like ${seeded.skus.slice(0, 2).join(', ')})`,
    `latency: ${emu.latency.perRequestMs} ms per request + ${emu.latency.perItemMs} ms per batch item; webhooks ${emu.webhookMode}`,
    emu.capacity.workers > 0 ? `capacity: ${emu.capacity.workers} workers, ${emu.capacity.requestMs} ms per request + ${emu.capacity.itemMs} ms per batch item of a worker` : 'capacity: unlimited',
    ...(values.observe ? [`observation: ${emu.url}/__emulator/stock-writes, /__emulator/requests, PUT /__emulator/latency, /__emulator/capacity`] : []),
    '',
  ].join('\n'),
)
const stop = () => void emu.stop().then(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
