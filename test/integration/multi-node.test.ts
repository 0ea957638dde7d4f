/**
 * Two nodes, one PostgreSQL database (#4). Two real `stockbridge serve` processes share a fresh
 * database; parallel clients drive both with sales, restocks, transfers and reservations (held
 * then committed or released on the other node, or left to expire for the nodes' sweepers) on
 * the same few SKUs. Afterwards every level equals its ledger replay and equals what the clients
 * saw succeed, and the ledger holds exactly the rows those successes imply.
 *
 * Then one node is SIGKILLed while requests are in flight to it. Clients resend what had no
 * answer to the surviving node under the same Idempotency-Key, which either replays the first
 * result (it had committed) or does the work (it had not). Nothing half-written remains: every
 * level still replays, transfer legs come in pairs, every reservation has exactly its rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { replayLedger } from '../../src/domain/ledger.js'
import { createApiKey } from '../../src/service/api-keys.js'
import { systemClock } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { listLevelEntries } from '../../src/store/ledger-repo.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'
import { waitUntil } from '../support/pg-admin.js'
import { killAllNodes, startNode, type NodeProcess } from '../support/process.js'

const pgDb = DATABASES.find((d) => d.name === 'postgres')

const CLIENTS = 12
const OPS_PER_CLIENT = 40
const INITIAL = 25

function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Line = { warehouse_id: number; quantity: number }
type Reply = { status: number; body: { data?: Record<string, unknown>; code?: string }; replayed: boolean; node: string }

/** What the clients saw succeed, as the level figures and ledger rows it implies. */
class Expectation {
  readonly levels = new Map<string, { onHand: number; reserved: number }>()
  readonly rows = { sale: 0, restock: 0, transfer: 0, reserve: 0, commit: 0, release: 0 }
  readonly outcomes = { succeeded: 0, refused: 0, resent: 0, replayed: 0 }
  readonly expiring: Array<{ id: string; sku: string; lines: Line[] }> = []
  move(sku: string, wh: number, onHand: number, reserved: number) {
    const k = `${sku}|${wh}`
    const l = this.levels.get(k) ?? { onHand: 0, reserved: 0 }
    this.levels.set(k, { onHand: l.onHand + onHand, reserved: l.reserved + reserved })
  }
}

describe.skipIf(!pgDb || pgDb.skipReason !== null)('postgres: two server processes on one database', () => {
  let ts: TestStore
  let apiKey: string
  let skus: string[]
  let whs: number[]
  let nodeA: NodeProcess
  let nodeB: NodeProcess
  const expected = new Expectation()

  beforeAll(async () => {
    ts = await createTestStore('postgres')
    const deps = testDeps(ts.store, systemClock)
    // A key made through the service before the nodes start, as an operator would with the CLI.
    apiKey = (await createApiKey(deps, 'multi-node test', ['read', 'write', 'admin'])).secret
    whs = [(await makeWarehouse(deps)).id, (await makeWarehouse(deps)).id, (await makeWarehouse(deps)).id]
    skus = []
    for (let i = 0; i < 6; i++) skus.push((await makeProduct(deps, { sku: `MN-${i}` })).sku)
    for (const sku of skus) {
      for (const wh of whs) {
        await updateStock(deps, { sku, warehouseId: wh, changeType: 'restock', quantity: INITIAL, source: 'setup', referenceId: null, notes: null }, { actor: 'setup' })
        expected.move(sku, wh, INITIAL, 0)
        expected.rows.restock++
      }
    }
    const env = { DATABASE_URL: ts.url, DATABASE_POOL_SIZE: '8', RESERVATION_SWEEP_SECONDS: '1' }
    ;[nodeA, nodeB] = await Promise.all([startNode('node A', env), startNode('node B', env)])
  }, 180_000)

  afterAll(async () => {
    await killAllNodes()
    await ts?.drop()
  })

  async function send(node: NodeProcess, method: string, path: string, body: unknown, key: string): Promise<Reply> {
    const res = await fetch(`${node.url}/inventory/v1/${path}`, {
      method,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Reply['body'], replayed: res.headers.get('idempotent-replayed') === 'true', node: node.name }
  }

  /**
   * Drive both nodes. `pick` chooses the node for each request; a request whose node dies
   * under it is resent, same key, to the survivor. Refusals must be insufficient_stock;
   * anything else unexpected is collected and fails the test.
   */
  async function drive(phase: string, alive: () => ReadonlyArray<NodeProcess>, onDispatch: (node: NodeProcess) => void = () => {}, onDone: (node: NodeProcess) => void = () => {}) {
    const survivor = () => alive()[alive().length - 1]!
    const problems: string[] = []
    let seq = 0
    const call = async (node: NodeProcess, method: string, path: string, body: unknown): Promise<Reply> => {
      const key = `${phase}-${seq++}`
      onDispatch(node)
      try {
        return await send(node, method, path, body, key)
      } catch {
        // No answer (the node died under the request): the outcome is unknown, so ask again.
        expected.outcomes.resent++
        const again = await send(survivor(), method, path, body, key)
        if (again.replayed) expected.outcomes.replayed++
        return again
      } finally {
        onDone(node)
      }
    }
    const ok = (r: Reply, status = 200) => {
      if (r.status === status) {
        expected.outcomes.succeeded++
        return true
      }
      if (r.status === 409 && r.body.code === 'insufficient_stock') {
        expected.outcomes.refused++
        return false
      }
      problems.push(`${r.node}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
      return false
    }
    const client = async (c: number) => {
      const rand = rng(1000 * c + phase.length)
      const pickOf = <T>(xs: ReadonlyArray<T>) => xs[Math.floor(rand() * xs.length)]!
      for (let op = 0; op < OPS_PER_CLIENT; op++) {
        const nodes = alive()
        const node = nodes[(c + op) % nodes.length]!
        const sku = pickOf(skus)
        const wh = pickOf(whs)
        const r = rand()
        if (r < 0.3) {
          const q = 1 + Math.floor(rand() * 3)
          if (ok(await call(node, 'POST', 'stock/update', { sku, warehouse_id: wh, quantity: q, change_type: 'sale' }))) {
            expected.move(sku, wh, -q, 0)
            expected.rows.sale++
          }
        } else if (r < 0.5) {
          const q = 1 + Math.floor(rand() * 5)
          if (ok(await call(node, 'POST', 'stock/update', { sku, warehouse_id: wh, quantity: q, change_type: 'restock' }))) {
            expected.move(sku, wh, q, 0)
            expected.rows.restock++
          }
        } else if (r < 0.7) {
          const to = whs[(whs.indexOf(wh) + 1 + Math.floor(rand() * 2)) % 3]!
          const q = 1 + Math.floor(rand() * 4)
          if (ok(await call(node, 'POST', 'stock/transfer', { sku, from_warehouse_id: wh, to_warehouse_id: to, quantity: q }))) {
            expected.move(sku, wh, -q, 0)
            expected.move(sku, to, q, 0)
            expected.rows.transfer += 2
          }
        } else {
          const expiring = r >= 0.95
          const q = 1 + Math.floor(rand() * 3)
          const body = { sku, quantity: q, ...(rand() < 0.5 ? { warehouse_id: wh } : {}), ...(expiring ? { ttl_seconds: 1 } : {}) }
          const created = await call(node, 'POST', 'reservations', body)
          if (!ok(created, 201)) continue
          const id = created.body.data!.id as string
          const lines = created.body.data!.lines as Line[]
          for (const l of lines) expected.move(sku, l.warehouse_id, 0, l.quantity)
          expected.rows.reserve += lines.length
          if (expiring) {
            expected.expiring.push({ id, sku, lines })
            continue
          }
          // Closed through the other node (or the survivor, once one is gone).
          const commit = rand() < 0.5
          const closers = alive()
          const closer = closers.find((n) => n !== node) ?? closers[0]!
          if (ok(await call(closer, 'POST', `reservations/${id}/${commit ? 'commit' : 'release'}`, {}))) {
            for (const l of lines) expected.move(sku, l.warehouse_id, commit ? -l.quantity : 0, -l.quantity)
            expected.rows[commit ? 'commit' : 'release'] += lines.length
          }
        }
      }
    }
    const t0 = performance.now()
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)))
    expect(problems).toEqual([])
    return (performance.now() - t0) / 1000
  }

  /** Everything the issue asks to hold after a run. */
  async function checkEverything(label: string) {
    // The nodes' sweepers release the reservations left to expire (ttl 1 s, sweep every second).
    const expiringIds = expected.expiring.map((e) => e.id)
    await waitUntil('the expiring reservations to be released by a sweeper', async () => {
      if (expiringIds.length === 0) return true
      const r = await ts.store.db.selectFrom('reservation').select('id').where('status', '=', 'active').where('id', 'in', expiringIds).limit(1).execute()
      return r.length === 0
    })
    const statuses = new Map((await ts.store.db.selectFrom('reservation').select(['id', 'status']).execute()).map((r) => [r.id, r.status]))
    for (const e of expected.expiring.splice(0)) {
      expect(statuses.get(e.id)).toBe('expired')
      for (const l of e.lines) expected.move(e.sku, l.warehouse_id, 0, -l.quantity)
      expected.rows.release += e.lines.length
    }

    // Every level is what the clients saw succeed, and what its ledger replays to.
    const levels = await findLevelsBySkus(ts.store.db, skus)
    expect(levels).toHaveLength(skus.length * whs.length)
    const actual = Object.fromEntries(levels.map((l) => [`${l.sku}|${l.warehouseId}`, { onHand: l.onHand, reserved: l.reserved }]))
    expect(actual).toEqual(Object.fromEntries(expected.levels))
    await expectLevelsMatchLedger(ts.store, skus)
    for (const l of levels) expect(replayLedger(await listLevelEntries(ts.store.db, l.sku, l.warehouseId)).breaks).toEqual([])

    // The ledger holds exactly the rows those successes imply.
    const byType = await ts.store.db.selectFrom('ledger_entry').select(['change_type', (eb) => eb.fn.countAll<number | string>().as('n')]).groupBy('change_type').execute()
    expect(Object.fromEntries(byType.map((r) => [r.change_type, Number(r.n)]))).toEqual(Object.fromEntries(Object.entries(expected.rows).filter(([, n]) => n > 0)))

    // Transfer legs come in pairs: one out, one in, same quantity, per transfer reference.
    const legs = await ts.store.db.selectFrom('ledger_entry').select(['reference_id', 'warehouse_id', 'on_hand_before', 'on_hand_after']).where('change_type', '=', 'transfer').execute()
    const pairs = new Map<string, number[]>()
    for (const l of legs) pairs.set(l.reference_id!, [...(pairs.get(l.reference_id!) ?? []), l.on_hand_after - l.on_hand_before])
    const unpaired = [...pairs].filter(([, d]) => d.length !== 2 || d[0]! + d[1]! !== 0)
    expect(unpaired).toEqual([])

    // Every reservation has exactly its rows: a reserve row per line, and one closing row per
    // line matching its status; and no ledger row names a reservation that does not exist.
    const lines = await ts.store.db.selectFrom('reservation_line').select(['reservation_id', (eb) => eb.fn.countAll<number | string>().as('n')]).groupBy('reservation_id').execute()
    const lineCount = new Map(lines.map((l) => [l.reservation_id, Number(l.n)]))
    const rows = await ts.store.db.selectFrom('ledger_entry').select(['reservation_id', 'change_type', (eb) => eb.fn.countAll<number | string>().as('n')]).where('reservation_id', 'is not', null).groupBy(['reservation_id', 'change_type']).execute()
    const found = new Map<string, Record<string, number>>()
    for (const r of rows) found.set(r.reservation_id!, { ...(found.get(r.reservation_id!) ?? {}), [r.change_type]: Number(r.n) })
    const wrong: string[] = []
    for (const [id, status] of statuses) {
      const n = lineCount.get(id) ?? 0
      const want: Record<string, number> = { reserve: n, ...(status === 'committed' ? { commit: n } : status === 'active' ? {} : { release: n }) }
      const canonical = (o: Record<string, number>) => JSON.stringify(Object.entries(o).sort())
      if (n === 0 || canonical(found.get(id) ?? {}) !== canonical(want)) wrong.push(`${id} ${status}: ${JSON.stringify(found.get(id))} (want ${JSON.stringify(want)})`)
      found.delete(id)
    }
    expect(wrong).toEqual([])
    expect([...found.keys()]).toEqual([])
    await expectOneEventPerAppliedMovement(ts.store, skus)
    const totals = levels.reduce((t, l) => ({ onHand: t.onHand + l.onHand, reserved: t.reserved + l.reserved }), { onHand: 0, reserved: 0 })
    console.log(`[multi-node ${label}] since setup: requests ${JSON.stringify(expected.outcomes)}; ledger rows ${JSON.stringify(expected.rows)}; totals on hand ${totals.onHand}, reserved ${totals.reserved}`)
  }

  it('keeps every level equal to its ledger and to what clients saw, with both nodes serving', async () => {
    const seconds = await drive('both', () => [nodeA, nodeB])
    console.log(`[multi-node both] ${CLIENTS} clients × ${OPS_PER_CLIENT} operations in ${seconds.toFixed(1)} s`)
    expect(expected.outcomes.resent).toBe(0)
    await checkEverything('both nodes')
  }, 240_000)

  it('leaves nothing half-written when one node is SIGKILLed mid-run', async () => {
    let completed = 0
    let inFlightA = 0
    let inFlightAtKill = -1
    let aDead = false
    const total = CLIENTS * OPS_PER_CLIENT
    const onDispatch = (node: NodeProcess) => {
      if (node !== nodeA) return
      inFlightA++
      // Kill A a third of the way in, at a moment when several requests are in its hands.
      if (!aDead && completed >= total / 3 && inFlightA >= 3) {
        aDead = true
        inFlightAtKill = inFlightA
        void nodeA.kill('SIGKILL')
      }
    }
    const onDone = (node: NodeProcess) => {
      completed++
      if (node === nodeA) inFlightA--
    }
    const seconds = await drive('kill', () => (aDead ? [nodeB] : [nodeA, nodeB]), onDispatch, onDone)
    expect(aDead).toBe(true)
    const exit = await nodeA.exited
    expect(exit.signal).toBe('SIGKILL')
    console.log(`[multi-node kill] node A (pid ${nodeA.pid}) SIGKILLed with ${inFlightAtKill} requests in flight to it; run took ${seconds.toFixed(1)} s`)
    await checkEverything('after SIGKILL')
    // The survivor still serves.
    const health = await fetch(`${nodeB.url}/healthz`)
    expect(health.status).toBe(200)
  }, 240_000)
})
