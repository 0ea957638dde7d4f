/**
 * The live stream over a real socket (@hono/node-server on 127.0.0.1, ephemeral port): a client
 * sees a change moments after its commit, filters hold, and a reconnect with Last-Event-ID gets
 * exactly the stored events after that id, without gaps. A bad Last-Event-ID is 422.
 */
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { serve, type ServerType } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { EventBus } from '../../src/service/event-bus.js'
import { lockProduct, writeMovement } from '../../src/service/level-writer.js'
import { sql } from 'kysely'
import { updateStock } from '../../src/service/stock.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testDeps } from '../support/fixtures.js'
import { latencySummary, SseClient } from './support-engine.js'

const ctx = { actor: 'test:sse' }

/** An EventBus that knows how many listeners (live streams, here) are subscribed. */
class CountingBus extends EventBus {
  active = 0
  #waiters: Array<() => void> = []
  override subscribe(listener: () => void): () => void {
    this.active++
    const off = super.subscribe(listener)
    let done = false
    return () => {
      const r = off()
      if (!done) {
        done = true
        this.active--
        if (this.active === 0) for (const w of this.#waiters.splice(0)) w()
      }
      return r
    }
  }
  /** Resolves once no stream listens any more (every server-side stream loop has ended). */
  idle(timeoutMs: number): Promise<void> {
    if (this.active === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.active} stream(s) still running after ${timeoutMs} ms`)), timeoutMs)
      this.#waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}
/** The 100 ms is a benchmark figure; the test only refuses what is clearly broken. */
const GENEROUS_MS = 2000
/**
 * How long a test waits for a message. Longer than GENEROUS_MS: on PostgreSQL an event waits for
 * every older transaction in the whole cluster (other databases included) to end, and tests of
 * other suites sharing the server can hold one open for seconds.
 */
const WAIT_MS = 15_000

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: live event stream (SSE) over a real socket`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let bus: CountingBus
    let t: Awaited<ReturnType<typeof testApp>>
    let server: ServerType
    let base: string
    let w1: Warehouse
    let w2: Warehouse
    let a: Product
    let b: Product
    const clients: SseClient[] = []

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      bus = new CountingBus()
      deps = { ...testDeps(ts.store, systemClock), events: bus }
      t = await testApp(deps)
      w1 = await makeWarehouse(deps, { code: 'SSE-W1' })
      w2 = await makeWarehouse(deps, { code: 'SSE-W2' })
      a = await makeProduct(deps, { sku: 'SSE-A' })
      b = await makeProduct(deps, { sku: 'SSE-B' })
      await new Promise<void>((resolve) => {
        server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve())
      })
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/inventory/v1`
    })
    afterAll(async () => {
      for (const c of clients) await c.close()
      // the server side notices each disconnect and ends its loop before the store goes away
      await bus?.idle(5000)
      if (server) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        if ('closeAllConnections' in server) server.closeAllConnections()
        await closed
      }
      await ts?.drop()
    })

    const open = async (query: string, headers: Record<string, string> = {}) => {
      const c = await SseClient.open(`${base}/events${query}`, { 'x-api-key': t.keys.read, ...headers })
      clients.push(c)
      return c
    }
    const ready = (c: SseClient) => c.waitFor(() => c.messages.some((m) => m.event === 'ready'), GENEROUS_MS, 'the ready message')
    const move = (p: Product, w: Warehouse, quantity = 1) =>
      updateStock(deps, { sku: p.sku, warehouseId: w.id, changeType: 'restock', quantity, source: 'test', referenceId: null, notes: null }, ctx)
    const storedSeqs = async (sku: string, after: number) =>
      (await ts.store.db.selectFrom('outbox_event').select('seq').where('sku', '=', sku).where('seq', '>', after).orderBy('seq').execute()).map((r) => Number(r.seq))

    it('a client filtered on one SKU sees each of its changes moments after the commit, and nothing else', async () => {
      const c = await open(`?skus=${a.sku}`)
      expect(c.status).toBe(200)
      await ready(c)
      const latencies: number[] = []
      const fromCall: number[] = []
      const N = 150
      for (let i = 0; i < N; i++) {
        // changes the filter excludes, before and after, must not show up
        if (i % 3 === 0) await move(b, w1)
        const called = performance.now()
        const r = await move(a, i % 2 === 0 ? w1 : w2)
        const committed = performance.now()
        await c.waitFor(() => c.events().length === i + 1, WAIT_MS, `change ${i + 1} on the stream`)
        const got = c.events()[i]!
        expect(got.body.data.movement_id).toBe(r.value.entry.id)
        latencies.push(got.at - committed)
        fromCall.push(got.at - called)
      }
      const events = c.events()
      expect(events.every((e) => e.body.data.sku === a.sku)).toBe(true)
      expect(events.map((e) => e.body.data.version)).toEqual(Array.from({ length: N }, (_, i) => i + 1))
      // the SSE id is the outbox sequence, the same as the body's sequence
      expect(events.map((e) => e.id)).toEqual(events.map((e) => e.body.sequence))
      expect(events.map((e) => e.id)).toEqual(await storedSeqs(a.sku, 0))
      const s = latencySummary(latencies)
      console.log(`[sse ${db.name}] commit→SSE message: p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms over ${s.n} changes (${latencies.filter((x) => x > 100).length} over 100 ms); call start→message p50 ${latencySummary(fromCall).p50} ms, p99 ${latencySummary(fromCall).p99} ms`)
    })

    it('after a disconnect, Last-Event-ID resumes with exactly the stored events after that id, without gaps', async () => {
      const c1 = await open(`?skus=${a.sku},${b.sku}&warehouse_id=${w1.id}`)
      await ready(c1)
      for (let i = 0; i < 10; i++) await move(i % 2 ? a : b, i % 3 ? w1 : w2)
      const seen = await storedSeqsFiltered(0)
      await c1.waitFor(() => c1.events().length > 0 && c1.events().at(-1)!.id === seen.at(-1), WAIT_MS, 'the first changes')
      const lastId = c1.events().at(-1)!.id
      await c1.close()

      // while nobody listens: changes that match the filter and changes that do not
      for (let i = 0; i < 40; i++) await move(i % 2 ? a : b, i % 4 ? w1 : w2)
      const missed = await storedSeqsFiltered(lastId)
      expect(missed.length).toBeGreaterThan(20)

      const c2 = await open(`?skus=${a.sku},${b.sku}&warehouse_id=${w1.id}`, { 'last-event-id': String(lastId) })
      await c2.waitFor(() => c2.events().length === missed.length, WAIT_MS, 'the missed events')
      expect(c2.events().map((e) => e.id)).toEqual(missed)
      expect(c2.events().every((e) => e.body.data.warehouse_id === w1.id)).toBe(true)
      // and then it is live again, still without gaps
      await move(a, w1)
      await move(a, w2)
      await move(b, w1)
      const all = await storedSeqsFiltered(lastId)
      await c2.waitFor(() => c2.events().length === all.length, WAIT_MS, 'the live events after the resume')
      expect(c2.events().map((e) => e.id)).toEqual(all)

      // the query parameter resumes the same way
      const c3 = await open(`?skus=${a.sku},${b.sku}&warehouse_id=${w1.id}&last_event_id=${lastId}`)
      await c3.waitFor(() => c3.events().length === all.length, WAIT_MS, 'the resume by query parameter')
      expect(c3.events().map((e) => e.id)).toEqual(all)

      async function storedSeqsFiltered(after: number) {
        return (
          await ts.store.db
            .selectFrom('outbox_event')
            .select('seq')
            .where('sku', 'in', [a.sku, b.sku])
            .where('warehouse_id', '=', w1.id)
            .where('seq', '>', after)
            .orderBy('seq')
            .execute()
        ).map((r) => Number(r.seq))
      }
    })

    it('a bad Last-Event-ID is 422; no key is 401', async () => {
      for (const bad of ['abc', '-1', '1.5', '9999999999999999999']) {
        const res = await fetch(`${base}/events?skus=${a.sku}`, { headers: { 'x-api-key': t.keys.read, 'last-event-id': bad } })
        expect({ bad, status: res.status }).toEqual({ bad, status: 422 })
        expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/)
        await res.body?.cancel()
      }
      const q = await fetch(`${base}/events?last_event_id=x1`, { headers: { 'x-api-key': t.keys.read } })
      expect(q.status).toBe(422)
      await q.body?.cancel()
      const none = await fetch(`${base}/events`)
      expect(none.status).toBe(401)
      await none.body?.cancel()
    })

    it('a disconnected client’s stream ends on the server (its listener is removed)', async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()))
      await bus.idle(5000)
      const c = await open(`?skus=${a.sku}`)
      await ready(c)
      expect(bus.active).toBe(1)
      await c.close()
      clients.splice(clients.indexOf(c), 1)
      await bus.idle(GENEROUS_MS)
      expect(bus.active).toBe(0)
    })

    it.skipIf(db.name !== 'postgres')('a client connecting while an older transaction is still open does not miss its event (PostgreSQL)', async () => {
      // T1 takes a sequence number and stays open; T2 takes a higher one and commits first.
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      let taken!: () => void
      const tookSeq = new Promise<void>((resolve) => (taken = resolve))
      const t1 = ts.store.db.transaction().execute(async (trx) => {
        const p = await lockProduct(trx, ts.store.caps, a.sku)
        const meta = { changeType: 'restock' as const, source: 'test', referenceId: null, reservationId: null, actor: 'test', notes: null }
        const written = await writeMovement({ ex: trx, caps: ts.store.caps, now: Date.now(), deps }, p, w1.id, { kind: 'restock', quantity: 1 }, meta)
        taken()
        await gate
        return written
      })
      await tookSeq
      await move(b, w1)
      // a new client, no Last-Event-ID: "from now on"
      const c = await open('')
      await ready(c)
      release()
      const w = await t1
      deps.events.notify()
      const slow = (await ts.store.db.selectFrom('outbox_event').select('seq').where('sku', '=', a.sku).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq
      expect(w.entry.sku).toBe(a.sku)
      // T1 committed after the client connected: the client must see it
      await c.waitFor(() => c.events().some((e) => e.id === Number(slow)), WAIT_MS, `the event of the transaction that committed after the connect (seq ${slow})`)
    })

    it.skipIf(db.name !== 'postgres')('PostgreSQL: an event waiting for an older transaction is sent once it ends, soon; events go out in transaction order', async () => {
      const meta = { changeType: 'restock' as const, source: 'test', referenceId: null, reservationId: null, actor: 'test', notes: null }
      const c = await open(`?skus=${a.sku},${b.sku}`)
      await ready(c)
      const before = c.events().length
      let go0!: () => void
      const gate0 = new Promise<void>((r) => (go0 = r))
      let endBlocker!: () => void
      const blockerGate = new Promise<void>((r) => (endBlocker = r))
      let locked0!: () => void
      const t0Locked = new Promise<void>((r) => (locked0 = r))
      let blocking!: () => void
      const blockerUp = new Promise<void>((r) => (blocking = r))
      // T0 takes the oldest transaction id (locks A) and writes its event last
      const t0 = ts.store.db.transaction().execute(async (trx) => {
        const p = await lockProduct(trx, ts.store.caps, a.sku)
        locked0()
        await gate0
        return writeMovement({ ex: trx, caps: ts.store.caps, now: Date.now(), deps }, p, w1.id, { kind: 'restock', quantity: 1 }, meta)
      })
      await t0Locked
      try {
        // a blocker: a transaction with an id, open, writing no event (think: a long bulk job elsewhere)
        const blocker = ts.store.db.transaction().execute(async (trx) => {
          await sql`select pg_current_xact_id()`.execute(trx)
          blocking()
          await blockerGate
        })
        await blockerUp
        // B commits (a younger id than the blocker: held back), then T0 commits (older id: ready)
        await move(b, w1)
        go0()
        await t0
        deps.events.notify()
        const seqB = Number((await ts.store.db.selectFrom('outbox_event').select('seq').where('sku', '=', b.sku).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq)
        const seqA = Number((await ts.store.db.selectFrom('outbox_event').select('seq').where('sku', '=', a.sku).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq)
        expect(seqB).toBeLessThan(seqA)
        // T0 is older than everything still running, so its event (A) may go out; B, younger than
        // the open blocker, must wait for it.
        await c.waitFor(() => c.events().some((e) => e.id === seqA), WAIT_MS, 'A (its transaction is final and oldest)')
        expect(c.events().slice(before).map((e) => e.id)).toEqual([seqA])
        const released = performance.now()
        endBlocker()
        await blocker
        // no commit wakes the stream now: it must look again by itself
        await c.waitFor(() => c.events().some((e) => e.id === seqB), WAIT_MS, 'B after the blocker ended')
        expect(c.events().slice(before).map((e) => e.id)).toEqual([seqA, seqB])
        console.log(`[sse ${db.name}] held back behind an open transaction: sent ${Math.round(c.events().find((e) => e.id === seqB)!.at - released)} ms after it ended`)
      } finally {
        // on a failure, let the open transactions end so the store can close
        go0()
        endBlocker()
      }
    })

    /**
     * A transaction's id is assigned at its first write (the product lock), its sequence number
     * later, at the outbox insert; so T0 can hold the lower transaction id and the higher sequence
     * number. A stream walking sequence order would pass T0's event while T1's (lower number) is
     * not yet visible and never send T1's. Streams walk (transaction id, sequence) order instead,
     * so T1's event, committed later, still lies ahead of the cursor.
     */
    const inversion = { reproduced: false, slowSeen: false }
    it.skipIf(db.name !== 'postgres')('PostgreSQL: transaction-id order and sequence order can disagree (the scenario is set up)', async () => {
      const meta = { changeType: 'restock' as const, source: 'test', referenceId: null, reservationId: null, actor: 'test', notes: null }
      const c = await open(`?skus=${a.sku},${b.sku}`)
      await ready(c)
      const xidOf = async (trx: Parameters<Parameters<ReturnType<typeof ts.store.db.transaction>['execute']>[0]>[0]) =>
        Number((await sql<{ x: string }>`select pg_current_xact_id()::text as x`.execute(trx)).rows[0]!.x)
      let go0!: () => void
      const gate0 = new Promise<void>((r) => (go0 = r))
      let go1!: () => void
      const gate1 = new Promise<void>((r) => (go1 = r))
      let x0!: number
      let x1!: number
      let s1!: number
      let locked0!: () => void
      const t0Locked = new Promise<void>((r) => (locked0 = r))
      let took1!: () => void
      const t1Took = new Promise<void>((r) => (took1 = r))
      // T0: takes its transaction id first (locks A), writes its event only later
      const t0 = ts.store.db.transaction().execute(async (trx) => {
        const p = await lockProduct(trx, ts.store.caps, a.sku)
        x0 = await xidOf(trx)
        locked0()
        await gate0
        return writeMovement({ ex: trx, caps: ts.store.caps, now: Date.now(), deps }, p, w1.id, { kind: 'restock', quantity: 1 }, meta)
      })
      await t0Locked
      // T1: a later transaction id, but it takes its sequence number first, then stays open
      const t1 = ts.store.db.transaction().execute(async (trx) => {
        const p = await lockProduct(trx, ts.store.caps, b.sku)
        x1 = await xidOf(trx)
        const w = await writeMovement({ ex: trx, caps: ts.store.caps, now: Date.now(), deps }, p, w1.id, { kind: 'restock', quantity: 1 }, meta)
        s1 = Number((await trx.selectFrom('outbox_event').select('seq').where('sku', '=', b.sku).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq)
        took1()
        await gate1
        return w
      })
      await t1Took
      try {
        go0()
        await t0
        deps.events.notify()
        const s0 = Number((await ts.store.db.selectFrom('outbox_event').select('seq').where('sku', '=', a.sku).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq)
        expect(x0).toBeLessThan(x1)
        expect(s1).toBeLessThan(s0)
        // T0's event reaches the client while T1 is still open …
        await c.waitFor(() => c.events().some((e) => e.id === s0), WAIT_MS, 'T0’s event')
        go1()
        await t1
        deps.events.notify()
        // … then T1 commits; the stream's safety poll runs every second: allow two rounds
        inversion.reproduced = true
        inversion.slowSeen = await c.waitFor(() => c.events().some((e) => e.id === s1), 2500, 'T1’s event').then(
          () => true,
          () => false,
        )
        console.log(`[sse ${db.name}] inversion: T0 xid ${x0} seq ${s0} committed first, T1 xid ${x1} seq ${s1} committed later → T1's event ${inversion.slowSeen ? 'delivered' : 'NEVER delivered'}`)
      } finally {
        go0()
        go1()
      }
    })
    it.skipIf(db.name !== 'postgres')('… and the stream still sends the event of the transaction with the lower sequence number', () => {
      expect(inversion.reproduced).toBe(true)
      expect(inversion.slowSeen).toBe(true)
    })
  })
}
