/**
 * Stock alerts end to end (#15), on each database: committed movements → the evaluator → alert
 * rows → the delivery worker → real receivers in this process (an SMTP server, a Slack-style
 * sink, a signed-webhook sink). The evaluator and the worker are driven by hand and the clock is
 * injected, so nothing waits on timers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { alertChannelResolver } from '../../src/connectors/alert-channels/destination.js'
import { registry } from '../../src/observability/metrics.js'
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../src/security/webhook-signature.js'
import { evaluateAlerts, raiseOperationalAlert, resolveOperationalAlert } from '../../src/service/alerts.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { subscriptionResolver } from '../../src/sync/subscription-destinations.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { SmtpSink } from '../support/smtp-sink.js'
import { deadLetterRows, deliveryRows, drain } from './support-delivery.js'
import { Subscriber } from './support-engine.js'

const ctx = { actor: 'test:alerts' }

async function evaluateAll(deps: ServiceDeps) {
  let n = 0
  for (;;) {
    const r = await evaluateAlerts(deps)
    n += r.raised.length
    if (r.events === 0 && !r.more) return n
  }
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getSingleMetric(name)?.get())?.values ?? []
  return m.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((s, v) => s + v.value, 0)
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: stock alerts through real channels`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let clock: TestClock
    let t: Awaited<ReturnType<typeof testApp>>
    let wh: Warehouse
    let worker: DeliveryWorker
    const cleanups: Array<() => Promise<unknown>> = []
    let seq = 0

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      t = await testApp(deps)
      wh = await makeWarehouse(deps, { code: 'AL-W1' })
      worker = new DeliveryWorker(deps, alertChannelResolver(deps, 5000, subscriptionResolver(ts.store.db, 5000, 0)), { workerId: 'alerts-test', maxAttempts: 3, random: () => 0.5 })
    })
    afterEach(async () => {
      while (cleanups.length) await cleanups.pop()!()
      // Channels are gone: let what they left behind settle, so the next test starts clean.
      await evaluateAll(deps)
      await drain(worker)
    })
    afterAll(async () => {
      await ts?.drop()
    })

    const move = (p: Product, changeType: 'sale' | 'restock', quantity: number) =>
      updateStock(deps, { sku: p.sku, warehouseId: wh.id, changeType, quantity, source: 'test', referenceId: null, notes: null }, ctx)

    async function channel(body: Record<string, unknown>) {
      const res = await t.call('POST', 'alert-channels', { body: { name: `ch-${++seq}`, ...body } })
      expect(res.status, await res.clone().text()).toBe(201)
      const c = ((await res.json()) as { data: { id: string; name: string; config: Record<string, unknown> } }).data
      cleanups.push(async () => t.call('DELETE', `alert-channels/${c.id}`))
      return c
    }

    it('100 concurrent sales crossing the threshold send one low_stock mail; the restock one back_in_stock', async () => {
      const smtp = await SmtpSink.start()
      cleanups.push(() => smtp.close())
      await channel({ kind: 'email', scopes: ['total'], config: { host: '127.0.0.1', port: smtp.port, tls: 'none', from: 'hub@example.test', to: ['ops@example.test'] } })
      const p = await makeProduct(deps, { sku: `AL-MAIL-${seq}`, lowStockThreshold: 60 })
      await move(p, 'restock', 150)
      expect(await evaluateAll(deps)).toBe(0)
      const sentBefore = await counter('stockbridge_alerts_sent_total', { channel_kind: 'email', delivery: 'immediate', result: 'ok' })

      await Promise.all(Array.from({ length: 100 }, () => move(p, 'sale', 1)))
      await evaluateAll(deps)
      await drain(worker)
      expect(smtp.mails).toHaveLength(1)
      expect(smtp.mails[0]!.subject).toContain('Low stock')
      expect(smtp.mails[0]!.subject).toContain(p.sku)
      expect(smtp.mails[0]!.to).toEqual(['ops@example.test'])
      // plain text and HTML alternatives
      expect(smtp.mails[0]!.raw).toMatch(/Content-Type: text\/plain/i)
      expect(smtp.mails[0]!.raw).toMatch(/Content-Type: text\/html/i)

      // one open alert per watched figure (the level and the total), listed and acknowledgeable
      const open = (await (await t.call('GET', `alerts?state=open&sku=${p.sku}`)).json()) as { data: Array<{ id: string; kind: string; scope: string; available: number; threshold: number }> }
      expect(open.data.map((a) => `${a.scope}:${a.kind}`).sort()).toEqual(['level:low_stock', 'total:low_stock'])
      const total = open.data.find((a) => a.scope === 'total')!
      // the figure at the crossing: the sale that took it to the threshold
      expect(total).toMatchObject({ available: 60, threshold: 60 })
      const ack = await t.call('POST', `alerts/${total.id}/acknowledge`, { key: t.keys.write })
      expect(ack.status).toBe(200)
      expect(((await ack.json()) as { data: { status: string; acknowledged_by: string } }).data.status).toBe('acknowledged')

      // more sales while low: nothing new
      await move(p, 'sale', 5)
      await evaluateAll(deps)
      await drain(worker)
      expect(smtp.mails).toHaveLength(1)

      await move(p, 'restock', 100)
      await evaluateAll(deps)
      await drain(worker)
      expect(smtp.mails).toHaveLength(2)
      expect(smtp.mails[1]!.subject).toContain('Back in stock')
      // the recovery closed both alerts; acknowledging a closed one is refused
      const after = (await (await t.call('GET', `alerts?state=open&sku=${p.sku}`)).json()) as { data: unknown[] }
      expect(after.data).toEqual([])
      const again = await t.call('POST', `alerts/${total.id}/acknowledge`, { key: t.keys.write })
      expect(again.status).toBe(409)
      expect(((await again.json()) as { code: string }).code).toBe('alert_closed')
      expect(await counter('stockbridge_alerts_sent_total', { channel_kind: 'email', delivery: 'immediate', result: 'ok' })).toBe(sentBefore + 2)
    })

    it('a digest channel gets one message for 30 crossings, signed, when its window closes', async () => {
      const sink = await Subscriber.start()
      cleanups.push(() => sink.close())
      const c = await channel({ kind: 'webhook', mode: 'digest', digest_seconds: 600, kinds: ['low_stock'], scopes: ['total'], config: { url: sink.url } })
      const secret = c.config.secret as string
      expect(secret).toMatch(/^whsec_/)
      const products: Product[] = []
      for (let i = 0; i < 30; i++) products.push(await makeProduct(deps, { sku: `AL-DIG-${seq}-${i}`, lowStockThreshold: 5 }))
      for (const p of products) await move(p, 'restock', 10)
      await evaluateAll(deps)
      for (const p of products) await move(p, 'sale', 6)
      expect(await evaluateAll(deps)).toBe(60) // level and total for each
      await drain(worker)
      expect(sink.received).toHaveLength(0) // the window is still open
      clock.set(clock.now() + 601_000)
      await drain(worker)
      expect(sink.received).toHaveLength(1)
      const r = sink.received[0]!
      expect(verifyWebhookSignature(secret, String(r.headers[SIGNATURE_HEADER.toLowerCase()]), r.raw, Math.floor(Date.now() / 1000))).toBe(true)
      const body = JSON.parse(r.raw) as { type: string; data: { alerts: Array<{ sku: string; kind: string }>; more: number } }
      expect(body.type).toBe('alert.digest')
      expect(body.data.more).toBe(0)
      expect(body.data.alerts.map((a) => a.sku).sort()).toEqual(products.map((p) => p.sku).sort())
      expect(new Set(body.data.alerts.map((a) => a.kind))).toEqual(new Set(['low_stock']))
      // nothing more to send
      clock.set(clock.now() + 601_000)
      await drain(worker)
      expect(sink.received).toHaveLength(1)
    })

    it('a Slack-style sink receives valid Block Kit JSON', async () => {
      const sink = await Subscriber.start()
      cleanups.push(() => sink.close())
      await channel({ kind: 'slack', scopes: ['level'], config: { url: sink.url } })
      const p = await makeProduct(deps, { sku: `AL-SLACK-${seq}`, lowStockThreshold: 3 })
      await move(p, 'restock', 4)
      await move(p, 'sale', 4)
      await evaluateAll(deps)
      await drain(worker)
      expect(sink.received).toHaveLength(1)
      const msg = JSON.parse(sink.received[0]!.raw) as { text: string; blocks: Array<Record<string, any>> } // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(typeof msg.text).toBe('string')
      expect(msg.text).toContain(p.sku)
      expect(msg.blocks.length).toBeGreaterThan(1)
      expect(msg.blocks.length).toBeLessThanOrEqual(50)
      expect(msg.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } })
      expect(msg.blocks[0]!.text.text.length).toBeLessThanOrEqual(150)
      for (const b of msg.blocks) {
        expect(['header', 'section', 'context', 'divider']).toContain(b.type)
        if (b.type === 'section') {
          expect(b.text.type).toBe('mrkdwn')
          expect(b.text.text.length).toBeLessThanOrEqual(3000)
        }
        if (b.type === 'context') for (const e of b.elements) expect(['mrkdwn', 'plain_text', 'image']).toContain(e.type)
      }
      expect(JSON.stringify(msg)).toContain('Out of stock')
    })

    it('a failing channel is retried with backoff and then dead-lettered', async () => {
      const sink = await Subscriber.start(() => ({ status: 503 }))
      cleanups.push(() => sink.close())
      const c = await channel({ kind: 'webhook', scopes: ['total'], kinds: ['out_of_stock'], config: { url: sink.url } })
      const p = await makeProduct(deps, { sku: `AL-FAIL-${seq}`, lowStockThreshold: 1 })
      await move(p, 'restock', 2)
      await move(p, 'sale', 2)
      await evaluateAll(deps)
      const deadBefore = await counter('stockbridge_dead_letters_total', { target_kind: 'alert_channel' })
      for (let i = 0; i < 3; i++) {
        const [row] = await deliveryRows(ts, c.id)
        expect(row).toBeDefined()
        clock.set(Math.max(clock.now(), row!.nextAttemptAt))
        expect(await worker.runOnce()).toBe(1)
      }
      expect(sink.received).toHaveLength(3)
      // every attempt carried the same alert
      expect(new Set(sink.received.map((r) => (JSON.parse(r.raw) as { data: { id: string } }).data.id)).size).toBe(1)
      expect(await deliveryRows(ts, c.id)).toEqual([])
      const dead = await deadLetterRows(ts, c.id)
      expect(dead).toHaveLength(1)
      expect(await counter('stockbridge_dead_letters_total', { target_kind: 'alert_channel' })).toBe(deadBefore + 1)
    })

    it('operational alerts are raised once while firing and re-arm when resolved', async () => {
      const sink = await Subscriber.start()
      cleanups.push(() => sink.close())
      await channel({ kind: 'webhook', scopes: ['operational'], config: { url: sink.url } })
      const first = await raiseOperationalAlert(deps, 'warehouse_pull_failing', `WH-${seq}`, 'SFTP login refused')
      expect(first).not.toBeNull()
      expect(await raiseOperationalAlert(deps, 'warehouse_pull_failing', `WH-${seq}`, 'again')).toBeNull()
      await drain(worker)
      expect(sink.received).toHaveLength(1)
      expect((JSON.parse(sink.received[0]!.raw) as { data: { kind: string; subject: string } }).data).toMatchObject({ kind: 'warehouse_pull_failing', subject: `WH-${seq}` })
      expect(await resolveOperationalAlert(deps, 'warehouse_pull_failing', `WH-${seq}`)).toBe(true)
      expect(((await (await t.call('GET', `alerts/${first!.id}`)).json()) as { data: { status: string } }).data.status).toBe('closed')
      const second = await raiseOperationalAlert(deps, 'warehouse_pull_failing', `WH-${seq}`, 'failing again')
      expect(second?.id).not.toBe(first!.id)
    })

    it('channels test: a reachable channel answers ok, an unreachable one 502 with the reason', async () => {
      const smtp = await SmtpSink.start()
      cleanups.push(() => smtp.close())
      const good = await channel({ kind: 'email', config: { host: '127.0.0.1', port: smtp.port, tls: 'none', from: 'hub@example.test', to: ['ops@example.test'] } })
      const ok = await t.call('POST', `alert-channels/${good.name}/test`)
      expect(ok.status).toBe(200)
      expect(smtp.mails).toHaveLength(1)
      smtp.refuseWith = 550
      const refused = await t.call('POST', `alert-channels/${good.name}/test`)
      expect(refused.status).toBe(502)
      expect(((await refused.json()) as { code: string; detail: string }).detail).toMatch(/550/)
      // nothing listens on the closed port
      const closed = await SmtpSink.start()
      const port = closed.port
      await closed.close()
      const bad = await channel({ kind: 'email', config: { host: '127.0.0.1', port, tls: 'none', from: 'hub@example.test', to: ['ops@example.test'] } })
      const res = await t.call('POST', `alert-channels/${bad.id}/test`)
      expect(res.status).toBe(502)
      expect(res.headers.get('content-type')).toContain('application/problem+json')
      expect(((await res.json()) as { code: string }).code).toBe('alert_channel_failed')
    })
  })
}
