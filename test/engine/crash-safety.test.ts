/**
 * Crash safety with real processes. The real server (`node --import tsx src/cli/index.ts serve`)
 * runs on a fresh database with its delivery worker; an HTTP subscriber in this process records
 * every delivery. 2,000 changes over HTTP across 20 SKUs; the server is killed with SIGKILL in the
 * middle and started again on the same database; the driver retries what got no answer under
 * the same Idempotency-Key. Then: every SKU's newest version reaches the subscriber, none is lost,
 * no version goes back, and a duplicate (same event id) carries the same body.
 */
import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { createApiKey } from '../../src/service/api-keys.js'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { createSubscription } from '../../src/service/subscriptions.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'
import { killHard, latencySummary, startServerProcess, Subscriber, versionRegressions, type Received, type ServerProcess } from './support-engine.js'

const CHANGES = 2000
const SKUS = 20
const LANES = 8
const KILL_AFTER = 1000
/** Changed only before the kill: whatever was in flight for them at the kill is delivered again. */
const QUIET = new Set(['CR-18', 'CR-19'])
/** Each quiet SKU gets exactly 50 restocks (every 20th of the first 1,000 changes). */
const QUIET_FINAL_VERSION = KILL_AFTER / SKUS
/** The killed worker's leases (30 s) must run out before its slots are delivered again. */
const DELIVERY_DEADLINE_MS = 120_000

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: crash safety with real processes`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let sub: Subscriber
    let key: string
    let w1: Warehouse
    let w2: Warehouse
    const servers: ServerProcess[] = []
    let killed = false
    // a generous delivery timeout: the held delivery must still be in flight when the kill comes
    const env = () => ({ DATABASE_URL: ts.url, LOG_LEVEL: 'warn', DELIVERY_POLL_MS: '200', DELIVERY_TIMEOUT_MS: '60000' })

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, systemClock)
      key = (await createApiKey(deps, 'crash test', ['read', 'write'])).secret
      w1 = await makeWarehouse(deps, { code: 'CR-W1' })
      w2 = await makeWarehouse(deps, { code: 'CR-W2' })
      // A subscriber that takes a moment to answer. The quiet SKUs change only before the kill;
      // their newest version is left unanswered, so the kill cuts that delivery after the
      // subscriber got it: after the restart it is sent again, a duplicate with the same event id.
      sub = await Subscriber.start((_n, r) => {
        // the newest version of a quiet SKU is held unanswered until the server is killed
        if (QUIET.has(r.body.data.sku) && r.body.data.version === QUIET_FINAL_VERSION && !killed) return 'hang'
        return new Promise((resolve) => setTimeout(() => resolve({ status: 200 }), 1 + Math.floor(Math.random() * 3)))
      })
      await createSubscription(deps, { url: sub.url })
    })
    afterAll(async () => {
      for (const s of servers) await killHard(s)
      await sub?.close()
      await ts?.drop()
    })

    async function post(base: string, body: unknown, idempotencyKey?: string) {
      const res = await fetch(`${base}/inventory/v1/stock/update`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key, ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
        body: JSON.stringify(body),
      })
      const text = await res.text()
      return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', text }
    }

    it('commit → webhook latency through the real server process (local subscriber)', async () => {
      const server = await startServerProcess(env())
      servers.push(server)
      const p = await makeProduct(deps, { sku: 'CR-LAT' })
      const fromCall: number[] = []
      const fromResponse: number[] = []
      const N = 120
      for (let i = 1; i <= N; i++) {
        const called = performance.now()
        const r = await post(server.url, { sku: p.sku, warehouse_id: w1.id, quantity: 1, change_type: 'restock' })
        const answered = performance.now()
        expect(r.status).toBe(200)
        await sub.waitFor(() => sub.of(p.sku).some((x) => x.body.data.version === i), 5000, `CR-LAT version ${i}`)
        const got = sub.of(p.sku).find((x) => x.body.data.version === i)!
        fromCall.push(got.at - called)
        fromResponse.push(got.at - answered)
      }
      const c = latencySummary(fromCall)
      const r = latencySummary(fromResponse)
      console.log(
        `[crash ${db.name}] real process: request sent → webhook received p50 ${c.p50} ms, p99 ${c.p99} ms, max ${c.max} ms (n=${c.n}); ` +
          `HTTP answer received → webhook received p50 ${r.p50} ms, p99 ${r.p99} ms (negative: the webhook came first)`,
      )
      await killHard(server)
    })

    it(`${CHANGES} changes over HTTP, SIGKILL in the middle, restart: every SKU's newest version arrives, none lost, duplicates identical`, { timeout: 240_000 }, async () => {
      const products: Product[] = []
      for (let i = 0; i < SKUS; i++) products.push(await makeProduct(deps, { sku: `CR-${String(i).padStart(2, '0')}` }))
      const skuSet = new Set(products.map((p) => p.sku))
      const expected = new Map<string, number>()
      for (const p of products) for (const w of [w1, w2]) expected.set(`${p.sku}@${w.id}`, 0)

      let server = await startServerProcess(env())
      servers.push(server)
      let restarting: Promise<void> | null = null
      let killedAt = 0
      let restartedAt = 0
      let dispatched = 0
      let lostAnswers = 0
      let replayedAfterRetry = 0
      let refused = 0

      let killSoon: Promise<void> | null = null
      let dispatchedAtKill = 0
      async function killAndRestart() {
        const victim = server
        killedAt = performance.now()
        dispatchedAtKill = dispatched
        killed = true
        await killHard(victim)
        server = await startServerProcess(env())
        servers.push(server)
        restartedAt = performance.now()
      }

      async function lane() {
        for (;;) {
          const i = dispatched++
          if (i >= CHANGES) return
          if (i === KILL_AFTER) {
            // The kill comes while the subscriber holds a quiet SKU's newest version unanswered,
            // and while the lanes keep sending changes (some get no answer: retried after it).
            killSoon = sub
              .waitFor(() => sub.received.some((r) => QUIET.has(r.body.data.sku) && r.body.data.version === QUIET_FINAL_VERSION && r.status === null), 60_000, 'a quiet SKU’s newest version in flight')
              .then(() => {
                restarting = killAndRestart()
                return restarting
              })
          }
          const p = i < KILL_AFTER ? products[i % SKUS]! : products[i % (SKUS - QUIET.size)]!
          const w = Math.floor(i / SKUS) % 2 === 0 ? w1 : w2
          const quantity = 1 + (i % 5)
          const body = { sku: p.sku, warehouse_id: w.id, quantity, change_type: 'restock' }
          for (let attempt = 1; ; attempt++) {
            if (restarting) await restarting
            const r = await post(server.url, body, `crash-${i}`).catch(() => null)
            if (r === null) {
              // no answer: the server died under us. The same key again, on the new server.
              lostAnswers++
              if (attempt > 20) throw new Error(`change ${i} got no answer ${attempt} times`)
              if (!restarting) throw new Error(`change ${i} failed while no restart was under way`)
              continue
            }
            if (r.status !== 200) {
              refused++
              throw new Error(`change ${i} answered ${r.status}: ${r.text.slice(0, 200)}`)
            }
            if (attempt > 1 && r.replayed) replayedAfterRetry++
            expected.set(`${p.sku}@${w.id}`, expected.get(`${p.sku}@${w.id}`)! + quantity)
            break
          }
        }
      }
      const started = performance.now()
      await Promise.all(Array.from({ length: LANES }, lane))
      await killSoon
      const driven = performance.now()
      expect(killed).toBe(true)
      expect(servers.length).toBeGreaterThanOrEqual(3)
      expect(refused).toBe(0)

      // The database: exactly once per change (the idempotency keys held across the crash), one
      // event per applied movement, and levels equal to their ledger.
      const levels = await ts.store.db.selectFrom('stock_level').select(['sku', 'warehouse_id', 'on_hand']).where('sku', 'in', [...skuSet]).execute()
      const actual = new Map(levels.map((l) => [`${l.sku}@${l.warehouse_id}`, Number(l.on_hand)]))
      for (const [k, v] of expected) expect({ level: k, onHand: actual.get(k) ?? 0 }).toEqual({ level: k, onHand: v })
      await expectOneEventPerAppliedMovement(ts.store, [...skuSet])
      await expectLevelsMatchLedger(ts.store, [...skuSet])
      const versions = new Map(
        (await ts.store.db.selectFrom('product').select(['sku', 'stock_version']).where('sku', 'in', [...skuSet]).execute()).map((r) => [r.sku, Number(r.stock_version)]),
      )
      expect([...versions.values()].reduce((a, b) => a + b, 0)).toBe(CHANGES)

      // The subscriber: wait (bounded) until every SKU's newest version has arrived.
      const mine = () => sub.received.filter((r) => skuSet.has(r.body.data.sku))
      const newestArrived = () => products.every((p) => sub.of(p.sku).some((r) => r.status === 200 && r.body.data.version === versions.get(p.sku)))
      await sub.waitFor(newestArrived, DELIVERY_DEADLINE_MS, 'every SKU’s newest version').catch((e: unknown) => {
        const missing = products.filter((p) => !sub.of(p.sku).some((r) => r.body.data.version === versions.get(p.sku))).map((p) => `${p.sku} (newest v${versions.get(p.sku)}, got up to v${Math.max(0, ...sub.of(p.sku).map((r) => r.body.data.version))})`)
        throw new Error(`${String(e)}; missing: ${missing.join(', ')}\nserver output:\n${server.output().slice(-2000)}`)
      })
      const complete = performance.now()

      // none lost: the last figure each SKU's consumer holds is the final one
      for (const p of products) {
        const last = sub.of(p.sku).filter((r) => r.status === 200).at(-1)!
        const wid = last.body.data.warehouse_id
        expect({ sku: p.sku, version: last.body.data.version, onHand: last.body.data.after.on_hand, total: last.body.data.totals.on_hand }).toEqual({
          sku: p.sku,
          version: versions.get(p.sku),
          onHand: actual.get(`${p.sku}@${wid}`),
          total: (actual.get(`${p.sku}@${w1.id}`) ?? 0) + (actual.get(`${p.sku}@${w2.id}`) ?? 0),
        })
      }
      // never out of order, across the crash
      expect(versionRegressions(mine())).toEqual([])
      // duplicates (the same event id delivered twice) carry the same body
      const byId = new Map<string, Received[]>()
      for (const r of mine()) byId.set(r.body.id, [...(byId.get(r.body.id) ?? []), r])
      const duplicates = [...byId.values()].filter((rs) => rs.length > 1)
      for (const rs of duplicates) for (const r of rs) expect(r.raw).toBe(rs[0]!.raw)
      // the delivery the kill cut was sent again after the restart: same event id, same body
      const cut = mine().filter((r) => QUIET.has(r.body.data.sku) && r.body.data.version === QUIET_FINAL_VERSION && r.status === null)
      expect(cut.length).toBeGreaterThan(0)
      for (const c of cut) expect(byId.get(c.body.id)!.filter((r) => r.status === 200).map((r) => r.raw)).toContain(c.raw)
      // each delivery names its event in the header too
      for (const r of mine()) expect(r.headers['x-stockbridge-event-id']).toBe(r.body.id)

      console.log(
        `[crash ${db.name}] ${CHANGES} changes in ${Math.round(driven - started)} ms over ${servers.length - 1} server processes; SIGKILL after ${dispatchedAtKill} dispatched, ` +
          `restart took ${Math.round(restartedAt - killedAt)} ms; ${lostAnswers} requests got no answer and were retried (${replayedAfterRetry} of those had committed before the kill: replayed, not applied twice); ` +
          `subscriber got ${mine().length} deliveries for ${CHANGES} changes (${duplicates.length} event ids twice or more, identical bodies); ` +
          `every newest version arrived ${Math.round(complete - driven)} ms after the last change (slots the killed worker held wait out its 30 s lease)`,
      )
    })
  })
}
