/**
 * The load generator: autocannon's programmatic API, in its own process so it never shares an
 * event loop with the server or the bench driver. Takes one JSON argument (a LoadSpec, see
 * lib/load.ts), prints one JSON line (a LoadResult) on stdout.
 */
import http from 'node:http'
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

const headers = { 'content-type': 'application/json', ...(spec.apiKey ? { 'x-api-key': spec.apiKey } : {}) }
const base = {
  url: spec.url,
  connections: spec.connections,
  pipelining: 1,
  timeout: 30,
  headers,
  requests: [{ setupRequest }],
}

const run = (opts: object) =>
  new Promise<AcResult>((resolve, reject) => {
    autocannon(opts, (err, r) => (err ? reject(err) : resolve(r)))
  })

const pct = (sorted: ReadonlyArray<number>, p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0)

/**
 * An open-loop load at an even pace: one request every 1000/rate ms, whatever the answers do.
 * autocannon's overallRate sends each second's quota back to back at the top of the second (its
 * per-connection counters reset on a 1 s interval), which is a burst of `rate` requests every
 * second, not `rate` changes a second; propagation is measured under an even pace instead.
 */
async function paced(rate: number, seconds: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, spec.connections) })
  const target = new URL(spec.url)
  const latencies: number[] = []
  const statusCounts: Record<string, number> = {}
  let errors = 0
  const inflight = new Set<Promise<void>>()
  const send = () => {
    const r = setupRequest({})
    const started = performance.now()
    const p = new Promise<void>((resolve) => {
      const req = http.request(
        { host: target.hostname, port: target.port, method: r.method ?? 'GET', path: r.path, headers: { ...headers, ...(r.headers ?? {}) }, agent },
        (res) => {
          res.resume()
          res.on('end', () => {
            latencies.push(performance.now() - started)
            const code = String(res.statusCode)
            statusCounts[code] = (statusCounts[code] ?? 0) + 1
            resolve()
          })
        },
      )
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')))
      req.on('error', () => {
        errors++
        resolve()
      })
      req.end(r.body)
    })
    inflight.add(p)
    void p.then(() => inflight.delete(p))
  }
  const t0 = performance.now()
  const total = Math.round(rate * seconds)
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    send()
  }
  await Promise.all(inflight)
  agent.destroy()
  const elapsed = (performance.now() - t0) / 1000
  const sorted = [...latencies].sort((a, b) => a - b)
  const ok = Object.entries(statusCounts).reduce((n, [code, c]) => (code.startsWith('2') ? n + c : n), 0)
  const round = (x: number) => Math.round(x * 100) / 100
  return {
    seconds: elapsed,
    ok,
    okPerSec: ok / elapsed,
    statusCounts,
    non2xx: latencies.length - ok,
    errors,
    timeouts: 0,
    resets: 0,
    p50: round(pct(sorted, 0.5)),
    p99: round(pct(sorted, 0.99)),
    max: round(sorted[sorted.length - 1] ?? 0),
    avg: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
    loadgenCpuMs: 0,
  }
}

const fail = (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
}

if (spec.overallRate) {
  process.stdout.write('measuring\n')
  const cpu0 = process.cpuUsage()
  paced(spec.overallRate, spec.duration ?? 1).then((r) => {
    const cpu = process.cpuUsage(cpu0)
    process.stdout.write(`${JSON.stringify({ ...r, loadgenCpuMs: (cpu.user + cpu.system) / 1000 })}\n`)
  }, fail)
} else {
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
  }, fail)
}
