/**
 * Bulk-sync jobs keep the chunk size they were queued with: chunk n's idempotency key must stand
 * for the same items when a runner of another version (another JOB_CHUNK) resumes the job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bulkSync } from '../../src/service/bulk-sync.js'
import { getJob, JobRunner, JOB_CHUNK, submitBulkSyncJob } from '../../src/service/jobs.js'
import { claimJob, insertJob } from '../../src/store/job-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger, expectOneEventPerAppliedMovement } from '../support/ledger-check.js'

const ledgerRows = async (ts: TestStore, sku: string) =>
  Number((await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll().as('n')).where('sku', '=', sku).executeTakeFirstOrThrow()).n)

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: bulk-sync job chunks`, () => {
    let ts: TestStore
    beforeAll(async () => {
      ts = await createTestStore(db.name)
    })
    afterAll(async () => ts?.drop())

    it('stores its chunk size with the job and runs in chunks of it, results in request order', async () => {
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps)
      const products = await Promise.all(Array.from({ length: 7 }, (_, i) => makeProduct(deps, { sku: `CHUNK-A-${i}` })))
      const items = Array.from({ length: JOB_CHUNK + 3 }, (_, i) => ({ sku: products[i % 7]!.sku, warehouse_id: wh.id, quantity: i % 300 }))
      const job = await submitBulkSyncJob(deps, { items, source: 'erp', referenceId: null }, { actor: 'test' })
      const stored = JSON.parse((await ts.store.db.selectFrom('job').select('input').where('id', '=', job.value.id).executeTakeFirstOrThrow()).input) as { chunk: number }
      expect(stored.chunk).toBe(JOB_CHUNK)
      expect(await new JobRunner(deps, 'w1').runOnce()).toBe(true)
      const done = await getJob(deps, job.value.id)
      expect(done).toMatchObject({ status: 'done', done: items.length, error: null })
      expect(done.result!.items.map((o) => o.index)).toEqual(items.map((_, i) => i))
      // The first count of 0 on a new level confirms its figure: recorded as unchanged (#12).
      expect(done.result!.applied + done.result!.unchanged).toBe(items.length)
      expect(done.result!.unchanged).toBe(1)
      // Two chunks, each under its own key: exactly two idempotency records for the job.
      const keys = await ts.store.db.selectFrom('idempotency_record').select('key').where('key', 'like', `${job.value.id}#%`).execute()
      expect(keys.map((k) => k.key).sort()).toEqual([`${job.value.id}#0`, `${job.value.id}#1`])
      expect(await ledgerRows(ts, products[0]!.sku)).toBe(items.filter((i) => i.sku === products[0]!.sku).length)
      const skus = products.map((p) => p.sku)
      await expectLevelsMatchLedger(ts.store, skus)
      await expectOneEventPerAppliedMovement(ts.store, skus)
    })

    it('a job queued without a stored chunk size resumes in chunks of 1,000, replaying the committed one', async () => {
      const clock = testClock()
      const deps = testDeps(ts.store, clock)
      const wh = await makeWarehouse(deps)
      const p = await makeProduct(deps, { sku: 'CHUNK-LEGACY' })
      const items = Array.from({ length: 2500 }, (_, i) => ({ sku: p.sku, warehouse_id: wh.id, quantity: i }))
      const id = deps.ids.next('job')
      const observedAt = clock.now()
      // As an earlier version queued it: no `chunk` in the stored input.
      await insertJob(ts.store.db, { id, type: 'bulk-sync', input: JSON.stringify({ items, source: 'erp', referenceId: null, observedAt }), actor: 'test', total: items.length, now: clock.now() })
      // That version's runner committed chunk 0 (items 0…999) and died.
      expect((await claimJob(ts.store.db, ts.store.caps, 'dead-runner', clock.now(), 1000))?.id).toBe(id)
      await bulkSync(deps, { items: items.slice(0, 1000), source: 'erp', referenceId: null, observedAt }, { actor: 'test', idempotencyKey: `${id}#0` })
      expect(await ledgerRows(ts, p.sku)).toBe(1000)

      clock.advance(1001)
      expect(await new JobRunner(deps, 'w2', { leaseMs: 1000 }).runOnce()).toBe(true)
      const done = await getJob(deps, id)
      expect(done.status).toBe('done')
      expect(done.result!.items.map((o) => o.index)).toEqual(items.map((_, i) => i))
      expect(await ledgerRows(ts, p.sku)).toBe(items.length)
      const level = await ts.store.db.selectFrom('stock_level').select('on_hand').where('sku', '=', p.sku).executeTakeFirstOrThrow()
      expect(level.on_hand).toBe(2499)
      await expectLevelsMatchLedger(ts.store, [p.sku])
      await expectOneEventPerAppliedMovement(ts.store, [p.sku])
    })
  })
}
