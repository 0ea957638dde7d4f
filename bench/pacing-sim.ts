/**
 * The store pacer in virtual time (test/support/store-sim.ts) against the bench's stores, in the
 * bench's order: a 10,000-SKU burst on a latency-free store that serves one request at a time,
 * the realistic store (90 ms + 20 ms an item, unlimited parallelism) at 100 changes/s, then the
 * capacity model (2 workers, 60 ms + 35 ms an item) at 1, 20 and 60 changes/s over 100 SKUs.
 * Seconds of CPU, not minutes: for trying pacing rules before the real bench.
 *
 *   npx tsx bench/pacing-sim.ts [--max-window=600] [--seeds=5] [--jitter=0.5]
 */
import { simulate, type Phase } from '../test/support/store-sim.js'

const arg = (name: string, dflt: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt)
const maxWindowMs = arg('max-window', 600)
const seeds = arg('seeds', 5)
const jitter = arg('jitter', 0.5)
const seconds = arg('seconds', 10)

const CAPACITY = { workers: 2, requestMs: 60, itemMs: 35 }
const phases: Phase[] = [
  { rate: 100_000, seconds: 0.1, store: { workers: 1, requestMs: 5, itemMs: 0.3 }, skus: 10_000, measured: false },
  { rate: 100, seconds, store: { workers: 0, requestMs: 90, itemMs: 20 }, skus: 1000, jitter },
  { rate: 1, seconds, store: CAPACITY, skus: 100, jitter },
  { rate: 20, seconds, store: CAPACITY, skus: 100, jitter },
  { rate: 60, seconds, store: CAPACITY, skus: 100, jitter },
]
const names = ['burst', 'realistic 100/s', 'capacity 1/s', 'capacity 20/s', 'capacity 60/s']
const rows: string[][] = []
for (let seed = 1; seed <= seeds; seed++) {
  const out = simulate({ minWindowMs: 40, maxWindowMs, maxConcurrency: 4 }, phases, seed * 7919)
  out.forEach((r, i) => {
    if (i === 0) return
    rows.push([String(seed), names[i]!, String(Math.round(r.p50)), String(Math.round(r.p99)), r.workerMsPerChange.toFixed(1), String(r.requests), (r.items / Math.max(1, r.requests)).toFixed(1), String(r.maxWindow), String(r.maxConcurrency), String(r.capacity)])
  })
}
const head = ['seed', 'phase', 'p50', 'p99', 'ms/change', 'requests', 'items/req', 'max window', 'max conc', 'capacity']
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i]!)).join('  ')
console.log(`max window ${maxWindowMs} ms, jitter ${jitter}, ${seconds} s a phase`)
console.log(line(head))
for (const r of rows.sort((a, b) => names.indexOf(a[1]!) - names.indexOf(b[1]!) || Number(a[0]) - Number(b[0]))) console.log(line(r))
