/**
 * `npx tsx bench/alerts-ab.ts [TREE_ON_2] [--rounds=5] [--seconds=3] [--profile] [--profile-off]`
 *
 * Alert evaluation's cost to SQLite writes (#15), interleaved: one server with ALERTS=off and one
 * with ALERTS=on (this tree; and a second ALERTS=on server from TREE_ON_2 when given), each on its
 * own database file with the same data and 10 alert channels, loaded in turn (c=50 writes) so
 * machine load hits all alike. Each server evaluates continuously, so no run pays for another's
 * backlog. Prints each round's rate and server CPU per movement, then medians and ratios to off.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Api } from './lib/api.js'
import { measure } from './lib/load.js'
import { killAll, SERVICE_ROOT, startServer, type ServerHandle } from './lib/procs.js'
import { renderProfile, summarizeProfile } from './lib/profile.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const trees = argv.filter((a) => !a.startsWith('--')).map((t) => path.resolve(t))
const ROUNDS = Number(opt('rounds', '5'))
const SECONDS = Number(opt('seconds', '3'))
const SKUS = Number(opt('skus', '1000'))
const PROFILE = argv.includes('--profile')
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stockbridge-alerts-ab-'))

interface Side { tag: string; srv: ServerHandle; wh: number; profDir?: string }

async function start(tag: string, root: string, alerts: 'on' | 'off', profile: boolean): Promise<Side> {
  const profDir = profile ? fs.mkdtempSync(path.join(dir, 'prof-')) : undefined
  const srv = await startServer({ root, databaseUrl: `sqlite:${path.join(dir, `${tag}.db`)}`, env: { ALERTS: alerts }, ...(profDir ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}) })
  const api = new Api(srv.url, srv.adminKey!)
  const wh = await api.createWarehouse('AW1')
  await api.createProducts('BENCH-', SKUS, 1_000_000)
  const items = Array.from({ length: SKUS }, (_, i) => ({ sku: `BENCH-${String(i + 1).padStart(6, '0')}`, warehouse_id: wh, quantity: 1_000_000 }))
  for (let i = 0; i < items.length; i += 2000) await api.bulkSync(items.slice(i, i + 2000))
  for (let i = 0; i < 10; i++) await api.call('POST', '/alert-channels', { name: `bench-${i}`, kind: 'slack', config: { url: `http://127.0.0.1:9/bench-${i}` } })
  return { tag, srv, wh, ...(profDir ? { profDir } : {}) }
}

try {
  const sides = [await start('off', SERVICE_ROOT, 'off', argv.includes('--profile-off')), await start('on', SERVICE_ROOT, 'on', PROFILE), ...(trees[0] ? [await start('on2', trees[0], 'on', false)] : [])]
  const res: Record<string, Array<{ rate: number; cpu: number }>> = {}
  process.stderr.write(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`)
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of round % 2 ? sides : [...sides].reverse()) {
      const r = await measure({ url: s.srv.url, scenario: 'update', connections: 50, duration: SECONDS, warmupSeconds: 0.5, apiKey: s.srv.adminKey!, skuPrefix: 'BENCH-', skuCount: SKUS, warehouseId: s.wh }, s.srv.pid)
      ;(res[s.tag] ??= []).push({ rate: r.okPerSec, cpu: r.serverCpuMsPerReq ?? NaN })
      process.stderr.write(`round ${round} ${s.tag}: ${Math.round(r.okPerSec)}/s, ${r.serverCpuMsPerReq} ms CPU/mov, p99 ${r.p99} ms\n`)
    }
  }
  const off = res.off!
  for (const [tag, xs] of Object.entries(res)) {
    const rate = median(xs.map((x) => x.rate))
    const cpu = median(xs.map((x) => x.cpu))
    process.stdout.write(`${tag.padEnd(4)} ${Math.round(rate)}/s ${cpu.toFixed(3)} ms CPU/mov | vs off: rate ${(rate / median(off.map((x) => x.rate))).toFixed(3)}, cpu ${(cpu / median(off.map((x) => x.cpu))).toFixed(3)}\n`)
  }
  process.stdout.write(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`)
  for (const s of sides) await s.srv.stop()
  for (const s of sides) {
    if (!s.profDir) continue
    const prof = fs.readdirSync(s.profDir).find((f) => f.endsWith('.cpuprofile'))
    if (prof) {
      const out = path.join(os.tmpdir(), `alerts-ab-${Date.now()}.cpuprofile`)
      fs.copyFileSync(path.join(s.profDir, prof), out)
      process.stdout.write(`${renderProfile(summarizeProfile(out, 5))}\nprofile kept at ${out}\n`)
    }
  }
} finally {
  await killAll()
  fs.rmSync(dir, { recursive: true, force: true })
}
