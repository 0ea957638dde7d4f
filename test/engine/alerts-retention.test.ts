/**
 * Retention of the alert tables (#15): closed alerts go after RETENTION_DELIVERY_LOG_DAYS, watch
 * states settled at ok after RETENTION_EVENTS_DAYS; open alerts, states still low, and alerts a
 * digest channel has yet to send stay. Pruning changes nothing about what is raised next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { createChannel } from '../../src/service/alert-channels.js'
import { evaluateAlerts } from '../../src/service/alerts.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { pruneOldRecords } from '../../src/service/retention.js'
import { updateStock } from '../../src/service/stock.js'
import { markDigestSent } from '../../src/store/alert-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps, type TestClock } from '../support/fixtures.js'

const DAY = 24 * 60 * 60 * 1000
const POLICY = { eventsDays: 7, deliveryLogDays: 30, idempotencyDays: 7 }

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: alert retention`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let clock: TestClock
    let wh: Warehouse
    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      wh = await makeWarehouse(deps, { code: 'AR-W' })
    })
    afterAll(async () => {
      await ts?.drop()
    })

    const move = (p: Product, changeType: 'sale' | 'restock', quantity: number) => updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType, quantity, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
    async function evaluateAll() {
      let raised = 0
      for (;;) {
        const r = await evaluateAlerts(deps)
        raised += r.raised.length
        if (r.events === 0 && !r.more) return raised
      }
    }
    const alertsOf = async (p: Product) => (await ts.store.db.selectFrom('alert').select(['kind', 'scope', 'status']).where('sku', '=', p.sku).execute()).map((a) => `${a.scope}:${a.kind}:${a.status}`).sort()
    const statesOf = async (p: Product) => (await ts.store.db.selectFrom('alert_state').select(['key', 'state']).where('key', 'like', `%${p.sku}`).execute()).map((s) => `${s.key.split(':')[0]}:${s.state}`).sort()

    it('prunes closed alerts and settled watch states, keeps open ones and what a digest still has to send', async () => {
      const recovered = await makeProduct(deps, { sku: 'AR-RECOVERED', lowStockThreshold: 5 })
      const low = await makeProduct(deps, { sku: 'AR-LOW', lowStockThreshold: 5 })
      await move(recovered, 'restock', 10)
      await move(recovered, 'sale', 6)
      await move(recovered, 'restock', 6)
      await move(low, 'restock', 10)
      await move(low, 'sale', 8)
      expect(await evaluateAll()).toBe(6) // low + back for each figure of one, low for each of the other
      // a digest channel made now waits for the next crossings
      await createChannel(deps, { name: 'ar-digest', kind: 'webhook', mode: 'digest', digestSeconds: 3600, kinds: ['low_stock'], scopes: ['total'], config: { url: 'http://127.0.0.1:9/digest' } })
      const digested = await makeProduct(deps, { sku: 'AR-DIGESTED', lowStockThreshold: 5 })
      await move(digested, 'restock', 10)
      await move(digested, 'sale', 6)
      await move(digested, 'restock', 6)
      expect(await evaluateAll()).toBe(4)

      clock.advance(8 * DAY) // past the events' age, not yet the alerts'
      const early = await pruneOldRecords(deps, POLICY)
      expect(early).toMatchObject({ closedAlerts: 0, alertStates: 4 }) // the ok states of the two recovered SKUs
      expect(await statesOf(low)).toEqual(['level:low', 'total:low'])
      expect(await statesOf(recovered)).toEqual([])

      clock.advance(23 * DAY) // 31 days
      const report = await pruneOldRecords(deps, POLICY)
      // the recovered SKU's four, and the digested SKU's alerts the digest does not take (it takes
      // total low_stock only): both level alerts and the total back_in_stock
      expect(report.closedAlerts).toBe(7)
      expect(await alertsOf(recovered)).toEqual([])
      expect(await alertsOf(low)).toEqual(['level:low_stock:open', 'total:low_stock:open'])
      expect(await alertsOf(digested)).toEqual(['total:low_stock:closed'])

      // once the digest went out, those go too
      const ch = await ts.store.db.selectFrom('alert_channel').select('id').where('name', '=', 'ar-digest').executeTakeFirstOrThrow()
      const lastSeq = Number((await ts.store.db.selectFrom('outbox_event').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirstOrThrow()).m)
      await markDigestSent(ts.store.db, ch.id, lastSeq)
      expect((await pruneOldRecords(deps, POLICY)).closedAlerts).toBe(1)
      expect(await alertsOf(digested)).toEqual([])

      // forgetting a settled figure changes nothing about its next crossing: one alert per figure
      await move(recovered, 'sale', 6)
      expect(await evaluateAll()).toBe(2)
      expect(await alertsOf(recovered)).toEqual(['level:low_stock:open', 'total:low_stock:open'])
      // and the figure still low raises nothing more while it stays low
      await move(low, 'sale', 1)
      expect(await evaluateAll()).toBe(0)
    })
  })
}
