/**
 * A SIGKILL between an alert's commit and its delivery (#15), with the real server process: the
 * alert's channel is down when the sale commits, so the alert is committed with its delivery slot
 * but not delivered; the server is killed; the channel comes back; a new server delivers it. The
 * receiver sees the alert (same id as the one stored), and no second alert exists for the crossing.
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiKey } from '../../src/service/api-keys.js'
import { createChannel } from '../../src/service/alert-channels.js'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { killHard, pollUntil, startServerProcess, Subscriber, type ServerProcess } from './support-engine.js'

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: alerts survive a SIGKILL between commit and delivery`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let sink: Subscriber
    const servers: ServerProcess[] = []
    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store, systemClock)
      sink = await Subscriber.start()
    })
    afterAll(async () => {
      for (const s of servers) await killHard(s)
      await sink?.close()
      await ts?.drop()
    })

    it('delivers the committed alert after the restart, once, with the same id', async () => {
      const key = (await createApiKey(deps, 'crash', ['read', 'write'])).secret
      const wh = await makeWarehouse(deps, { code: 'AC-W' })
      const p = await makeProduct(deps, { sku: 'AC-1', lowStockThreshold: 5 })
      await updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType: 'restock', quantity: 10, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
      const ch = await createChannel(deps, { name: 'crash', kind: 'webhook', config: { url: sink.url }, scopes: ['total'] })
      await sink.down()
      const env = { DATABASE_URL: ts.url, DELIVERY_POLL_MS: '100', METRICS_SAMPLE_SECONDS: '3600' }

      const first = await startServerProcess(env)
      servers.push(first)
      const res = await fetch(`${first.url}/inventory/v1/stock/update`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ sku: p.sku, warehouse_id: wh.id, change_type: 'sale', quantity: 6 }),
      })
      expect(res.status).toBe(200)
      // committed: the alert and its delivery slot; the first attempt failed (nothing listens)
      const alert = await pollUntil(async () => ts.store.db.selectFrom('alert').selectAll().where('sku', '=', p.sku).where('scope', '=', 'total').executeTakeFirst(), 30_000, 50, 'the alert to be committed')
      await pollUntil(async () => ts.store.db.selectFrom('delivery_attempt').select('id').where('target_id', '=', ch.id).executeTakeFirst(), 30_000, 50, 'a failed delivery attempt')
      expect(sink.received).toHaveLength(0)
      await killHard(first)

      await sink.listen()
      // The restarted node also serves /metrics on a loopback-only METRICS_PORT, without a token.
      const metricsPort = await freePort()
      const second = await startServerProcess({ ...env, METRICS_PORT: String(metricsPort) })
      servers.push(second)
      const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
      expect(scraped.status).toBe(200)
      expect(await scraped.text()).toContain('stockbridge_alerts_sent_total')
      expect((await fetch(`${second.url}/metrics`)).status).toBe(404) // no METRICS_TOKEN: not on the API port
      await sink.waitFor(() => sink.received.length >= 1, 60_000, 'the alert after the restart')
      const bodies = sink.received.map((r) => JSON.parse(r.raw) as { type: string; data: { id: string; kind: string; sku: string } })
      expect(bodies[0]!).toMatchObject({ type: 'alert.raised', data: { id: alert.id, kind: 'low_stock', sku: p.sku } })
      // nothing evaluated twice: one alert for the crossing, and the delivery slot is done
      await pollUntil(async () => ((await ts.store.db.selectFrom('delivery').select('sku').where('target_id', '=', ch.id).execute()).length === 0 ? true : undefined), 30_000, 50, 'the slot to be completed')
      const alerts = await ts.store.db.selectFrom('alert').select(['id', 'kind']).where('sku', '=', p.sku).where('scope', '=', 'total').execute()
      expect(alerts.map((a) => a.id)).toEqual([alert.id])
      expect(new Set(bodies.map((b) => b.data.id))).toEqual(new Set([alert.id]))
    })
  })
}
