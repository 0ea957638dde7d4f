/**
 * The load generator: autocannon's programmatic API, in its own process so it never shares an
 * event loop with the server or the bench driver. Takes one JSON argument (a LoadSpec, see
 * lib/load.ts), prints one JSON line (a LoadResult) on stdout.
 */
import { createRequire } from 'node:module'
import type { LoadResult, LoadSpec } from './lib/load.js'

interface ReqParams {
  method?: string
  path?: string
  body?: string
  headers?: Record<string, string>
}
interface Histo {
  p50: number
  p90: number
  p99: number
  p99_9: number
  max: number
  average: number
}
interface AcResult {
  duration: number
  errors: number
  timeouts: number
  non2xx: number
  resets: number
  '2xx': number
  statusCodeStats: Record<string, { count: number }>
  latency: Histo
  requests: { average: number; total: number }
}
type Autocannon = (opts: object, cb: (err: Error | null, res: AcResult) => void) => unknown

const require = createRequire(import.meta.url)
const autocannon = require('autocannon') as Autocannon

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
const API = '/inventory/v1'
const skuAt = (i: number) => `${spec.skuPrefix ?? 'BENCH-'}${String(i).padStart(6, '0')}`
const randomSku = () => skuAt(1 + Math.floor(Math.random() * (spec.skuCount ?? 1)))

function setupRequest(req: ReqParams): ReqParams {
  switch (spec.scenario) {
    case 'update': {
      const changeType = Math.random() < 0.5 ? 'sale' : 'restock'
      return { ...req, method: 'POST', path: `${API}/stock/update`, body: JSON.stringify({ sku: randomSku(), warehouse_id: spec.warehouseId ?? 1, quantity: 1, change_type: changeType, source: 'bench' }) }
    }
    case 'hot':
      return { ...req, method: 'POST', path: `${API}/stock/update`, body: JSON.stringify({ sku: spec.hotSku, warehouse_id: spec.warehouseId ?? 1, quantity: 1, change_type: 'sale', source: 'bench' }) }
    case 'read-one':
      return { ...req, method: 'GET', path: `${API}/stock/${randomSku()}` }
    case 'read-batch': {
      const n = spec.batchSize ?? 50
      const skus = new Set<string>()
      while (skus.size < n) skus.add(randomSku())
      return { ...req, method: 'GET', path: `${API}/stock?skus=${[...skus].join(',')}` }
    }
  }
}

const base = {
  url: spec.url,
  connections: spec.connections,
  pipelining: 1,
  timeout: 30,
  headers: { 'content-type': 'application/json', ...(spec.apiKey ? { 'x-api-key': spec.apiKey } : {}) },
  requests: [{ setupRequest }],
  ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
}

const run = (opts: object) =>
  new Promise<AcResult>((resolve, reject) => {
    autocannon(opts, (err, r) => (err ? reject(err) : resolve(r)))
  })

// The warm-up is a run of its own, discarded; the parent reads the server's CPU time when
// "measuring" appears, so CPU per request covers the measured run only.
if (spec.warmupSeconds && spec.amount === undefined) await run({ ...base, duration: spec.warmupSeconds })
process.stdout.write('measuring\n')
const cpu0 = process.cpuUsage()
run({ ...base, ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration }) }).then((r) => {
  const cpu = process.cpuUsage(cpu0)
  const statusCounts: Record<string, number> = {}
  for (const [code, s] of Object.entries(r.statusCodeStats)) statusCounts[code] = s.count
  const ok = r['2xx']
  const out: LoadResult = {
    seconds: r.duration,
    ok,
    okPerSec: ok / r.duration,
    statusCounts,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    resets: r.resets,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    avg: r.latency.average,
    loadgenCpuMs: (cpu.user + cpu.system) / 1000,
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}, (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
