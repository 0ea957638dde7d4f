/** Large bulk syncs as background jobs: progress, results, and no chunk applied twice after a crash. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bulkSync } from '../../src/service/bulk-sync.js'
import { getJob, JobRunner, JOB_CHUNK, submitBulkSyncJob } from '../../src/service/jobs.js'
import { claimJob } from '../../src/store/job-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps } from '../support/fixtures.js'
import { expectLevelsMatchLedger } from '../support/ledger-check.js'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: bulk-sync jobs`, () => {
    let ts: TestStore
    beforeAll(async () => {
      ts = await createTestStore(db.name)
    })
    afterAll(async () => ts?.drop())

    it('runs a 2,500-item bulk sync in chunks and keeps one result per item, in request order', async () => {
      const deps = testDeps(ts.store)
      const wh = await makeWarehouse(deps)
      const products = await Promise.all(Array.from({ length: 25 }, (_, i) => makeProduct(deps, { sku: `JOB-A-${i}` })))
      const items = Array.from({ length: 2500 }, (_, i) => ({ sku: products[i % 25]!.sku, warehouse_id: wh.id, quantity: i }))
      items[7] = { sku: 'NOPE', warehouse_id: wh.id, quantity: 1 }
      const job = await submitBulkSyncJob(deps, { items, source: 'erp', referenceId: null }, { actor: 'test' })
      expect(job.value).toMatchObject({ status: 'queued', total: 2500, done: 0 })
      const runner = new JobRunner(deps, 'w1')
      expect(await runner.runOnce()).toBe(true)
      const done = await getJob(deps, job.value.id)
      expect(done).toMatchObject({ status: 'done', done: 2500, error: null })
      expect(done.result!.items.map((o) => o.index)).toEqual(items.map((_, i) => i))
      expect(done.result!.items[7]).toMatchObject({ status: 'rejected', code: 'sku_not_found' })
      expect(done.result!.rejected).toBe(1)
      // The last count per SKU wins: item 2475+i is the last for product i.
      const last = (i: number) => 2475 + i
      const level = await ts.store.db.selectFrom('stock_level').select(['sku', 'on_hand']).where('sku', '=', products[3]!.sku).executeTakeFirstOrThrow()
      expect(level.on_hand).toBe(last(3))
      expect(await runner.runOnce()).toBe(false)
    })

    it('a replacement runner after a crash replays committed chunks instead of applying them again', async () => {
      const clock = testClock()
      const deps = testDeps(ts.store, clock)
      const wh = await makeWarehouse(deps)
      const p = await makeProduct(deps, { sku: 'JOB-B' })
      const items = Array.from({ length: JOB_CHUNK * 2 + 10 }, (_, i) => ({ sku: p.sku, warehouse_id: wh.id, quantity: i }))
      const job = await submitBulkSyncJob(deps, { items, source: 'erp', referenceId: null }, { actor: 'test' })
      // The first runner claims the job, commits chunk 0, then dies (its lease simply runs out).
      const claimed = await claimJob(ts.store.db, ts.store.caps, 'dead-runner', clock.now(), 1000)
      expect(claimed?.id).toBe(job.value.id)
      const stored = JSON.parse(claimed!.input) as { observedAt: number }
      await bulkSync(deps, { items: items.slice(0, JOB_CHUNK), source: 'erp', referenceId: null, observedAt: stored.observedAt }, { actor: 'test', idempotencyKey: `${job.value.id}#0` })
      const rowsAfterCrash = Number((await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll().as('n')).where('sku', '=', p.sku).executeTakeFirstOrThrow()).n)
      expect(rowsAfterCrash).toBe(JOB_CHUNK)

      // Before the lease runs out nobody else may take it; after, a new runner finishes the job.
      const runner = new JobRunner(deps, 'w2', { leaseMs: 1000 })
      expect(await runner.runOnce()).toBe(false)
      clock.advance(1001)
      expect(await runner.runOnce()).toBe(true)
      const done = await getJob(deps, job.value.id)
      expect(done.status).toBe('done')
      expect(done.result!.items).toHaveLength(items.length)
      const rows = Number((await ts.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll().as('n')).where('sku', '=', p.sku).executeTakeFirstOrThrow()).n)
      expect(rows).toBe(items.length)
      await expectLevelsMatchLedger(ts.store, [p.sku])
    })
  })
}
