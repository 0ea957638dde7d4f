/**
 * Provider webhooks (#14): one signed webhook of 1,000 items, mapped by the warehouse_system_a
 * preset (JSONata in the mapping worker) and applied item by item through the level writer in one
 * transaction, timed from send to answer. Beside it: the same 1,000 counts as one
 * `POST /stock/bulk-sync` (set-based, no mapping) on the same server, the service's own floor.
 */
import { createHmac } from 'node:crypto'
import path from 'node:path'
import { Api, skuAt } from './api.js'
import { startServer } from './procs.js'
import { createDatabase, pgUnavailable } from './raw-pg.js'
import { below, row, type Row } from './table.js'

const ITEMS = 1_000
const SECRET = 'bench-provider-secret-00000001'
const PREFIX = 'PROV-'

export interface ProviderBenchSettings {
  readonly log: (msg: string) => void
  readonly tempDir: (tag: string) => string
  readonly pgAdmin: string
  readonly cleanups: Array<() => Promise<void> | void>
  readonly rounds: number
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function one(db: 'sqlite' | 'postgres', databaseUrl: string, s: ProviderBenchSettings): Promise<Row[]> {
  const srv = await startServer({ databaseUrl })
  if (!srv.adminKey) throw new Error('the first start printed no admin key')
  const api = new Api(srv.url, srv.adminKey)
  const wh = await api.createWarehouse('PW1')
  const code = 'PW1'
  await api.createProducts(PREFIX, ITEMS, 5_000_000)
  await api.call('POST', '/providers', { name: 'bench_wms', secret: SECRET, preset: 'warehouse_system_a' })
  let round = 0
  const send = async (): Promise<{ seconds: number; applied: number; note: string }> => {
    round++
    const body = JSON.stringify({
      event_type: 'inventory_sync',
      timestamp: new Date().toISOString(),
      data: { sync_id: `BENCH-${round}`, items: Array.from({ length: ITEMS }, (_, i) => ({ product_code: skuAt(PREFIX, i + 1), warehouse_code: code, quantity: 100 + ((i + round) % 50) })) },
    })
    const t0 = performance.now()
    const res = await fetch(`${srv.url}/inventory/v1/webhook/bench_wms`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-webhook-signature': createHmac('sha256', SECRET).update(body).digest('hex') } })
    const text = await res.text()
    const seconds = (performance.now() - t0) / 1000
    const r = res.status === 200 ? (JSON.parse(text) as { data: { applied: number; refused: number } }) : null
    return { seconds, applied: r?.data.applied ?? 0, note: r ? (r.data.refused ? `UNEXPECTED: ${r.data.refused} refused` : '') : `UNEXPECTED: ${res.status} ${text.slice(0, 200)}` }
  }
  const first = await send()
  const steady: number[] = []
  const notes = new Set<string>([first.note])
  for (let i = 0; i < s.rounds; i++) {
    const r = await send()
    steady.push(r.seconds)
    notes.add(r.note)
  }
  // The floor: the same counts through the set-based bulk route, no mapping, no per-item path.
  const bulk: number[] = []
  for (let i = 0; i < s.rounds; i++) {
    const t0 = performance.now()
    await api.bulkSync(Array.from({ length: ITEMS }, (_, j) => ({ sku: skuAt(PREFIX, j + 1), warehouse_id: wh, quantity: 300 + ((j + i) % 40) })))
    bulk.push((performance.now() - t0) / 1000)
  }
  const note = [...notes].filter(Boolean).join('; ')
  s.log(`providers ${db}: first ${first.seconds.toFixed(3)} s, steady median ${median(steady).toFixed(3)} s, bulk-sync median ${median(bulk).toFixed(3)} s`)
  const name = db === 'sqlite' ? 'SQLite' : 'PostgreSQL'
  return [
    row(`${name} provider webhook, 1,000 items (signed, JSONata preset, levels exist)`, median(steady), 's', median(bulk), {
      limitOf: 'the same 1,000 counts as POST /stock/bulk-sync',
      target: below(1),
      note: [`median of ${s.rounds}`, note].filter(Boolean).join('; '),
    }),
    row(`${name} provider webhook, 1,000 items, first (creates levels)`, first.seconds, 's', null, { target: below(1), note: first.note }),
  ]
}

export async function providerWebhookRows(s: ProviderBenchSettings): Promise<Row[]> {
  const out: Row[] = []
  out.push(...(await one('sqlite', `sqlite:${path.join(s.tempDir('providers'), 'bench.db')}`, s)))
  const pgProblem = await pgUnavailable(s.pgAdmin)
  if (pgProblem) {
    out.push(row('PostgreSQL provider webhook, 1,000 items', null, 's', null, { note: `skipped: ${pgProblem}` }))
    return out
  }
  const database = await createDatabase(s.pgAdmin, 'providers')
  s.cleanups.push(() => database.drop())
  out.push(...(await one('postgres', database.url, s)))
  return out
}
