/**
 * Inbound providers (#14) on both databases over a real socket: every built-in preset fed its
 * signed example, unknown-SKU policies (reject, create, hold then resolve), mapping failures
 * answered 422 with nothing changed, redelivery idempotent per provider event, and hostile input
 * (mappings that loop, recurse or allocate; bad bodies and credentials on the provider routes).
 */
import { serve, type ServerType } from '@hono/node-server'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { closeMappingRunner, useMappingLimits } from '../../src/service/provider-mapping.js'
import { PROVIDER_PRESETS } from '../../src/service/provider-presets.js'
import { parseSealKey } from '../../src/security/secret-box.js'
import { listInboundWebhooks } from '../../src/store/inbound-webhook-repo.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { expectLevelsMatchLedger } from '../support/ledger-check.js'
import { provider, providerSignature, secureApp } from '../security/support-security.js'
import { expectJson, expectProblem, snapshot } from './support-e2e.js'

const SEED_SECRET = 'seed-provider-secret-000000001'
const SHIPHERO_SECRET = 'shiphero-api-secret-0000000002'
const SEAL_KEY = parseSealKey('11'.repeat(32))
const ROOT = path.resolve(import.meta.dirname, '../..')
const run = promisify(execFile)

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: inbound providers over HTTP`, () => {
    let ts: TestStore
    let clock: TestClock
    let deps: ServiceDeps
    let t: ReturnType<typeof secureApp>
    let server: ServerType
    let base: string
    let admin: string
    let wh: Record<string, number>

    const send = (path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
      fetch(`${base}/inventory/v1/${path}`, { method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.body !== undefined ? { body: init.body } : {}) })
    const api = (method: string, path: string, body?: unknown, key: string | null = admin) =>
      send(path, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), headers: { ...(key ? { 'x-api-key': key } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) } })
    const hook = (name: string, payload: unknown, secret: string, opts: { header?: string; encoding?: 'hex' | 'base64' } = {}) => {
      const body = typeof payload === 'string' ? payload : JSON.stringify(payload)
      return send(`webhook/${name}`, { method: 'POST', body, headers: { 'content-type': 'application/json', [opts.header ?? 'X-Webhook-Signature']: providerSignature(secret, body, opts.encoding ?? 'hex') } })
    }
    const onHand = async (sku: string, code: string) => (await findLevelsBySkus(ts.store.db, [sku])).find((l) => l.warehouseId === wh[code])?.onHand ?? null
    const ledgerOf = (sku: string) => ts.store.db.selectFrom('ledger_entry').selectAll().where('sku', '=', sku).orderBy('id').execute()
    const eventsOf = async (sku: string) => Number((await ts.store.db.selectFrom('outbox_event').select((eb) => eb.fn.countAll<number | string>().as('n')).where('sku', '=', sku).executeTakeFirstOrThrow()).n)
    const addProvider = async (body: Record<string, unknown>) => expectJson(await api('POST', 'providers', { secret: SEED_SECRET, ...body }), 201)

    beforeAll(async () => {
      // A tighter bound than the default 5 s, so the hostile cases end sooner.
      useMappingLimits({ timeoutMs: 1000 })
      ts = await createTestStore(db.name)
      clock = testClock(Date.parse('2026-12-03T09:00:00Z'))
      deps = testDeps(ts.store, clock)
      wh = {}
      for (const code of ['MAIN', 'EAST', 'DROPSHIP-ACME', 'Primary']) wh[code] = (await makeWarehouse(deps, { code })).id
      for (const [i, sku] of ['TEE-001-M', 'MUG-002', 'CAP-003'].entries()) await makeProduct(deps, { sku, productId: 900 + i })
      t = secureApp(deps, {
        security: {
          keyEncryptionKey: SEAL_KEY,
          webhooks: {
            // The seed's providers from the environment take the preset of their own name.
            warehouse_system_a: provider('warehouse_system_a', SEED_SECRET),
            erp_system_b: provider('erp_system_b', SEED_SECRET),
            supplier_portal_c: provider('supplier_portal_c', SEED_SECRET),
            // An environment provider with neither a mapping nor a preset of its name.
            bare_env: provider('bare_env', SEED_SECRET),
            // The seed's format under another name, limited to one warehouse.
            limited_a: provider('limited_a', SEED_SECRET, { warehouses: [wh.MAIN!], preset: 'warehouse_system_a' }),
          },
        },
      })
      admin = (await t.key('admin', ['admin'])).secret
      await new Promise<void>((resolve) => {
        server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve())
      })
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })
    afterAll(async () => {
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
      await closeMappingRunner()
      await ts?.drop()
    })

    describe('built-in presets, each fed its signed example', () => {
      it('warehouse_system_a: inventory_sync counts applied through the ledger and the outbox', async () => {
        const events = await eventsOf('TEE-001-M')
        const r = await expectJson(await hook('warehouse_system_a', PROVIDER_PRESETS.warehouse_system_a!.example, SEED_SECRET))
        expect(r).toMatchObject({ success: true, event_id: 'SYNC-20261203-0800', replayed: false, data: { applied: 2, refused: 0 } })
        expect(r.data.results.map((x: { sku: string; status: string; current: number }) => [x.sku, x.status, x.current])).toEqual([
          ['TEE-001-M', 'applied', 42],
          ['MUG-002', 'applied', 7],
        ])
        expect([await onHand('TEE-001-M', 'MAIN'), await onHand('MUG-002', 'MAIN')]).toEqual([42, 7])
        expect((await ledgerOf('TEE-001-M')).at(-1)).toMatchObject({ change_type: 'sync', source: 'warehouse_system_a', actor: 'webhook:warehouse_system_a', reference_id: 'SYNC-20261203-0800' })
        expect(await eventsOf('TEE-001-M')).toBe(events + 1)
        expect((await listInboundWebhooks(ts.store.db, 'warehouse_system_a'))[0]).toMatchObject({ status: 'processed' })
      })

      it('warehouse_system_a: stock_update and stock_adjustment as the seed sends them (unix seconds)', async () => {
        const sale = { event_type: 'stock_update', timestamp: Math.floor(clock.now() / 1000), data: { product_code: 'MUG-002', warehouse_code: 'MAIN', quantity: 2, change_type: 'sale', transaction_id: 'TX-1' } }
        const r = await expectJson(await hook('warehouse_system_a', sale, SEED_SECRET))
        expect(r.data.results[0]).toMatchObject({ status: 'applied', previous: 7, current: 5, change_type: 'sale' })
        const adj = { event_type: 'stock_adjustment', timestamp: '2026-12-03T08:59:00Z', data: { product_code: 'MUG-002', warehouse_code: 'MAIN', quantity: 5, transaction_id: 'ADJ-1' } }
        expect((await expectJson(await hook('warehouse_system_a', adj, SEED_SECRET))).data.results[0]).toMatchObject({ status: 'unchanged', previous: 5, current: 5, change_type: 'adjustment' })
        const oversell = { ...sale, data: { ...sale.data, quantity: 50, transaction_id: 'TX-2' } }
        const refused = await expectJson(await hook('warehouse_system_a', oversell, SEED_SECRET))
        expect(refused).toMatchObject({ success: false, data: { refused: 1 } })
        expect(refused.data.results[0]).toMatchObject({ status: 'refused', code: 'insufficient_stock' })
        expect(await onHand('MUG-002', 'MAIN')).toBe(5)
      })

      it('erp_system_b: receipts, issues and counts per plant', async () => {
        const r = await expectJson(await hook('erp_system_b', PROVIDER_PRESETS.erp_system_b!.example, SEED_SECRET))
        expect(r).toMatchObject({ success: true, event_id: 'ERP-2026-000123', data: { applied: 3 } })
        expect([await onHand('TEE-001-M', 'MAIN'), await onHand('MUG-002', 'MAIN'), await onHand('CAP-003', 'EAST')]).toEqual([66, 3, 40])
        expect((await ledgerOf('MUG-002')).at(-1)).toMatchObject({ change_type: 'sale', reference_id: 'DN-7781', notes: 'walk-in sale', source: 'erp_system_b' })
      })

      it('supplier_portal_c: counts in the drop-ship warehouse; an unknown supplier SKU is refused (reject policy)', async () => {
        const r = await expectJson(await hook('supplier_portal_c', PROVIDER_PRESETS.supplier_portal_c!.example, SEED_SECRET))
        expect(r).toMatchObject({ success: false, data: { applied: 1, refused: 1 } })
        expect(r.data.results[1]).toMatchObject({ sku: 'ACME-MUG', status: 'refused', code: 'sku_not_found' })
        expect(await onHand('TEE-001-M', 'DROPSHIP-ACME')).toBe(120)
      })

      it('shiphero_inventory_update: added over the API from the preset, signed base64 in X-ShipHero-HMAC-SHA256', async () => {
        const p = await addProvider({ name: 'shiphero', preset: 'shiphero_inventory_update', secret: SHIPHERO_SECRET })
        expect(p.data).toMatchObject({ name: 'shiphero', header: 'X-ShipHero-HMAC-SHA256', encoding: 'base64', preset: 'shiphero_inventory_update', origin: 'database' })
        expect(JSON.stringify(p)).not.toContain(SHIPHERO_SECRET)
        const stored = await ts.store.db.selectFrom('provider').select('secret').where('name', '=', 'shiphero').executeTakeFirstOrThrow()
        expect(stored.secret.startsWith('aesgcm:')).toBe(true)
        const r = await expectJson(await hook('shiphero', PROVIDER_PRESETS.shiphero_inventory_update!.example, SHIPHERO_SECRET, { header: 'X-ShipHero-HMAC-SHA256', encoding: 'base64' }))
        expect(r).toMatchObject({ success: true, data: { applied: 1 } })
        expect(await onHand('TEE-001-M', 'Primary')).toBe(48)
        // Signed hex where base64 is expected: refused, as for any provider.
        await expectProblem(await hook('shiphero', PROVIDER_PRESETS.shiphero_inventory_update!.example, SHIPHERO_SECRET, { header: 'X-ShipHero-HMAC-SHA256' }), 401, 'invalid_signature')
        await expectLevelsMatchLedger(ts.store, ['TEE-001-M', 'MUG-002', 'CAP-003'])
      })
    })

    describe('unknown SKUs and outcomes', () => {
      const mapping = `{"event_id": id, "movements": [lines.{"sku": sku, "warehouse_code": "MAIN", "quantity": qty, "change_type": kind, "observed_at": at}]}`

      it('create: a new SKU is registered and counted in the same transaction', async () => {
        await addProvider({ name: 'creator', mapping, unknown_sku: 'create' })
        const r = await expectJson(await hook('creator', { id: 'c-1', lines: [{ sku: 'NEW-001', qty: 9, kind: 'sync' }] }, SEED_SECRET))
        expect(r.data.results[0]).toMatchObject({ sku: 'NEW-001', status: 'applied', current: 9 })
        expect(await ts.store.db.selectFrom('product').select(['sku', 'product_id']).where('sku', '=', 'NEW-001').executeTakeFirst()).toMatchObject({ sku: 'NEW-001' })
        expect(await onHand('NEW-001', 'MAIN')).toBe(9)
      })

      it('hold, then resolve by mapping the SKU: held items apply in arrival order, later payloads use the alias', async () => {
        await addProvider({ name: 'holder', mapping, unknown_sku: 'hold' })
        const before = await onHand('CAP-003', 'MAIN')
        const first = await expectJson(await hook('holder', { id: 'h-1', lines: [{ sku: 'THEIR-CAP', qty: 10, kind: 'restock' }, { sku: 'TEE-001-M', qty: 1, kind: 'sale' }] }, SEED_SECRET))
        expect(first).toMatchObject({ success: true, data: { held: 1, applied: 1 } })
        expect(first.data.results[0]).toMatchObject({ sku: 'THEIR-CAP', status: 'held' })
        await expectJson(await hook('holder', { id: 'h-2', lines: [{ sku: 'THEIR-CAP', qty: 3, kind: 'sale' }] }, SEED_SECRET))
        const held = await expectJson(await api('GET', 'providers/holder/held'))
        expect(held.data.map((h: { external_sku: string; change_type: string; quantity: number }) => [h.external_sku, h.change_type, h.quantity])).toEqual([
          ['THEIR-CAP', 'restock', 10],
          ['THEIR-CAP', 'sale', 3],
        ])
        expect(await onHand('CAP-003', 'MAIN')).toBe(before)
        // In order: the restock first, so the sale after it has stock to take.
        const resolved = await expectJson(await api('POST', 'providers/holder/held/resolve', { external_sku: 'THEIR-CAP', sku: 'CAP-003' }))
        expect(resolved.data).toMatchObject({ action: 'mapped', sku: 'CAP-003' })
        expect(resolved.data.results.map((x: { status: string; change_type: string }) => [x.change_type, x.status])).toEqual([
          ['restock', 'applied'],
          ['sale', 'applied'],
        ])
        expect(await onHand('CAP-003', 'MAIN')).toBe((before ?? 0) + 7)
        expect((await expectJson(await api('GET', 'providers/holder/held'))).data).toEqual([])
        // Resolving again finds nothing held and changes nothing.
        expect((await expectJson(await api('POST', 'providers/holder/held/resolve', { external_sku: 'THEIR-CAP', sku: 'CAP-003' }))).data.results).toEqual([])
        const later = await expectJson(await hook('holder', { id: 'h-3', lines: [{ sku: 'THEIR-CAP', qty: 1, kind: 'sale' }] }, SEED_SECRET))
        expect(later.data.results[0]).toMatchObject({ sku: 'CAP-003', external_sku: 'THEIR-CAP', status: 'applied' })
        await expectLevelsMatchLedger(ts.store, ['CAP-003'])
      })

      it('a held count that an applied newer count overtook is stale when resolved; discard drops held items', async () => {
        const a = await expectJson(await hook('holder', { id: 'h-4', lines: [{ sku: 'LATE-1', qty: 4, kind: 'sync', at: '2026-12-03T08:00:00Z' }, { sku: 'GONE-1', qty: 4, kind: 'sync' }] }, SEED_SECRET))
        expect(a.data.held).toBe(2)
        await makeProduct(deps, { sku: 'OURS-LATE' })
        await expectJson(await api('POST', 'stock/update', { sku: 'OURS-LATE', warehouse_id: wh.MAIN, quantity: 11, change_type: 'sync', observed_at: '2026-12-03T08:30:00Z' }))
        const r = await expectJson(await api('POST', 'providers/holder/held/resolve', { external_sku: 'LATE-1', sku: 'OURS-LATE' }))
        expect(r.data.results[0]).toMatchObject({ status: 'stale' })
        expect(await onHand('OURS-LATE', 'MAIN')).toBe(11)
        const d = await expectJson(await api('POST', 'providers/holder/held/resolve', { external_sku: 'GONE-1', discard: true }))
        expect(d.data).toMatchObject({ action: 'discarded', results: [{ status: 'discarded' }] })
        expect((await expectJson(await api('GET', 'providers/holder/held?external_sku=GONE-1'))).data).toEqual([])
      })

      it('items are checked one by one: a bad item is refused with its code, the rest apply', async () => {
        const r = await expectJson(
          await hook('creator', { id: 'c-2', lines: [{ sku: 'TEE-001-M', qty: -3, kind: 'sync' }, { sku: 'TEE-001-M', qty: 1, kind: 'teleport' }, { sku: 'bad\u0007sku', qty: 1, kind: 'sync' }, { sku: 'MUG-002', qty: 8, kind: 'sync' }] }, SEED_SECRET),
        )
        expect(r.data.results.map((x: { status: string; code?: string }) => x.code ?? x.status)).toEqual(['validation_failed', 'unknown_change_type', 'validation_failed', 'applied'])
        expect(r.success).toBe(false)
      })
    })

    describe('failures change nothing; redelivery is a replay', () => {
      const single = (data: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
        event_type: 'stock_update',
        timestamp: '2026-12-03T08:59:00Z',
        data: { product_code: 'MUG-002', warehouse_code: 'MAIN', quantity: 1, change_type: 'sale', transaction_id: 'L-1', ...data },
        ...over,
      })
      const refusals: ReadonlyArray<[string, unknown, string]> = [
        ['a negative sale quantity', single({ quantity: -3 }), 'validation_failed'],
        ['an unknown change type', single({ change_type: 'gift' }), 'unknown_change_type'],
        ['an unregistered SKU', single({ product_code: 'NOPE-404', change_type: 'restock' }), 'sku_not_found'],
        ['an unknown warehouse code', single({ warehouse_code: 'NOWHERE' }), 'warehouse_not_found'],
        ['a sale beyond available', single({ quantity: 9999 }), 'insufficient_stock'],
        ['a warehouse the provider may not write', single({ warehouse_code: 'EAST', change_type: 'restock' }), 'warehouse_forbidden'],
        ['an inventory sync naming that warehouse', single({}, { event_type: 'inventory_sync', data: { sync_id: 'L-2', items: [{ product_code: 'MUG-002', warehouse_code: 'EAST', quantity: 0 }] } }), 'warehouse_forbidden'],
        ['an item without its fields', single({}, { data: {} }), 'validation_failed'],
      ]
      for (const [what, payload, code] of refusals) {
        it(`a delivery whose only item is refused (${what}): 200, success false, the code, nothing changed`, async () => {
          const before = await snapshot(ts.store.db)
          const r = await expectJson(await hook('limited_a', payload, SEED_SECRET))
          expect(r).toMatchObject({ success: false, data: { refused: 1, applied: 0 } })
          expect(r.data.results[0]).toMatchObject({ status: 'refused', code })
          expect(await snapshot(ts.store.db)).toEqual(before)
        })
      }

      it('a refused delivery is not remembered: the retry after the cause is fixed applies', async () => {
        const payload = single({ product_code: 'LATE-REG', change_type: 'restock', quantity: 3, transaction_id: 'L-3' })
        expect((await expectJson(await hook('limited_a', payload, SEED_SECRET))).data.results[0]).toMatchObject({ code: 'sku_not_found' })
        await makeProduct(deps, { sku: 'LATE-REG' })
        const again = await expectJson(await hook('limited_a', payload, SEED_SECRET))
        expect(again).toMatchObject({ success: true, replayed: false, data: { applied: 1 } })
        expect(await onHand('LATE-REG', 'MAIN')).toBe(3)
      })

      it('a mapping that fails answers 422 with where it failed, and nothing changes', async () => {
        const before = await snapshot(ts.store.db)
        const r = await expectProblem(await hook('warehouse_system_a', { event_type: 'teleport', timestamp: 0, data: {} }, SEED_SECRET), 422, 'mapping_failed')
        expect(r.mapping_error).toMatchObject({ code: 'D3137', position: expect.any(Number) })
        expect(r.detail).toMatch(/event_type must be/)
        // A payload the mapping finds nothing in is no silent success either.
        await addProvider({ name: 'strict', mapping: 'orders.{"sku": sku, "warehouse_code": "MAIN", "quantity": 1, "change_type": "restock"}' })
        expect((await expectProblem(await hook('strict', { something: 'else' }, SEED_SECRET), 422, 'mapping_failed')).mapping_error).toMatchObject({ code: 'no_result' })
        // An environment provider with no mapping at all: refused, not acknowledged and dropped.
        await expectProblem(await hook('bare_env', { a: 1 }, SEED_SECRET), 422, 'mapping_failed')
        expect(await snapshot(ts.store.db)).toEqual(before)
        expect((await listInboundWebhooks(ts.store.db, 'bare_env'))[0]).toMatchObject({ status: 'rejected' })
      })

      it('the same event delivered again returns the first answer and changes nothing, even with a retry counter added', async () => {
        const payload = { event_type: 'stock_update', timestamp: '2026-12-03T08:58:00Z', data: { product_code: 'TEE-001-M', warehouse_code: 'EAST', quantity: 5, change_type: 'restock', transaction_id: 'TX-REDELIVER' } }
        const first = await expectJson(await hook('warehouse_system_a', payload, SEED_SECRET))
        const before = await snapshot(ts.store.db)
        const again = await hook('warehouse_system_a', payload, SEED_SECRET)
        expect(again.headers.get('idempotent-replayed')).toBe('true')
        const second = await expectJson(again)
        expect(second).toMatchObject({ replayed: true, event_id: 'TX-REDELIVER' })
        expect(second.data).toEqual(first.data)
        // Same transaction id, a body that differs (a provider's retry marker): the same event.
        const retried = await expectJson(await hook('warehouse_system_a', { ...payload, timestamp: '2026-12-03T08:59:30Z' }, SEED_SECRET))
        expect(retried.replayed).toBe(true)
        expect(await snapshot(ts.store.db)).toEqual(before)
        // Without an event id from the mapping, the body's hash is the event.
        const anon = { lines: [{ sku: 'MUG-002', qty: 1, kind: 'restock' }] }
        const a1 = await expectJson(await hook('creator', anon, SEED_SECRET))
        const a2 = await expectJson(await hook('creator', anon, SEED_SECRET))
        expect([a1.replayed, a2.replayed, a2.event_id]).toEqual([false, true, a1.event_id])
      })
    })

    describe('a custom provider added over the CLI', () => {
      it('add → list → test (changes nothing) → signed webhook applies → held SKU resolved from the CLI', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-providers-'))
        const env = { ...process.env, DATABASE_URL: ts.url, KEY_ENCRYPTION_KEY: '11'.repeat(32), LOG_LEVEL: 'warn' }
        const cli = async (...args: string[]) => (await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: ROOT, env, timeout: 60_000 })).stdout
        try {
          const mappingFile = path.join(dir, 'acme.jsonata')
          fs.writeFileSync(mappingFile, '{ "event_id": batch, "movements": [stock.{ "sku": code, "warehouse_code": site, "quantity": units, "change_type": "sync", "observed_at": $$.taken_at }] }')
          const secret = 'acme-wms-shared-secret-0000001'
          expect(await cli('providers', 'add', 'acme-wms', '--secret', secret, '--mapping', mappingFile, '--header', 'X-Acme-Signature', '--encoding', 'base64', '--unknown-sku', 'hold')).toMatch(/Added provider acme-wms: signature base64 HMAC-SHA256 in X-Acme-Signature, unknown SKUs: hold/)
          const list = await cli('providers', 'list', '--json')
          expect(JSON.parse(list)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'acme-wms', origin: 'database', unknown_sku: 'hold' })]))
          expect(list).not.toContain(secret)
          const payload = { batch: 'B-77', taken_at: '2026-12-03T08:55:00Z', stock: [{ code: 'MUG-002', site: 'EAST', units: 13 }, { code: 'ACME-99', site: 'EAST', units: 2 }] }
          const payloadFile = path.join(dir, 'payload.json')
          fs.writeFileSync(payloadFile, JSON.stringify(payload))
          const before = await snapshot(ts.store.db)
          const tried = await cli('providers', 'test', 'acme-wms', '--payload', payloadFile)
          expect(tried).toMatch(/event B-77: 2 movement\(s\); nothing was changed/)
          expect(tried).toMatch(/#0\tMUG-002\twarehouse \d+\tsync 13 @ 2026-12-03T08:55:00.000Z\tready/)
          expect(tried).toMatch(/#1\tACME-99.*unknown SKU: would be held/)
          expect(await snapshot(ts.store.db)).toEqual(before)

          const r = await expectJson(await hook('acme-wms', payload, secret, { header: 'X-Acme-Signature', encoding: 'base64' }))
          expect(r).toMatchObject({ success: true, event_id: 'B-77', data: { applied: 1, held: 1 } })
          expect(await onHand('MUG-002', 'EAST')).toBe(13)
          expect(await cli('providers', 'resolve', 'acme-wms', 'ACME-99', '--create')).toMatch(/ACME-99: created; 1 held item\(s\): 1 applied/)
          expect(await onHand('ACME-99', 'EAST')).toBe(2)
        } finally {
          fs.rmSync(dir, { recursive: true, force: true })
        }
      }, 180_000)
    })

    describe('hostile mappings are bounded in time, depth and memory', () => {
      const hostile: ReadonlyArray<[string, string]> = [
        ['an endless recursion', '($f := function($x){ $f($x + 1) }; $f(0))'],
        ['a non-terminating loop over a huge range', '$count([1..1000].([1..1000].([1..1000])))'],
        ['a range beyond the sequence limit', '[1..100000000]'],
        ['a doubling string', '$reduce([1..40], function($a, $b){ $a & $a }, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")'],
        ['a doubling array', '$reduce([1..40], function($a, $b){ $append($a, $a) }, [1, 2, 3, 4])'],
        ['a catastrophic regular expression', '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /^(a|aa)+$/)'],
      ]
      for (const [what, expression] of hostile) {
        it(`${what}: 422 mapping_failed, nothing changed, the server keeps serving`, async () => {
          const name = `hostile-${hostile.findIndex(([w]) => w === what)}`
          await addProvider({ name, mapping: expression })
          const before = await snapshot(ts.store.db)
          await expectProblem(await hook(name, { lines: [] }, SEED_SECRET), 422, 'mapping_failed')
          expect(await snapshot(ts.store.db)).toEqual(before)
          const ok = await expectJson(await hook('creator', { id: `after-${name}`, lines: [{ sku: 'MUG-002', qty: 1, kind: 'restock' }] }, SEED_SECRET))
          expect(ok.data.applied).toBe(1)
        }, 30_000)
      }
    })

    describe('provider routes refuse bad input and change nothing', () => {
      it('needs an admin key; never shows a secret', async () => {
        await expectProblem(await api('GET', 'providers', undefined, null), 401, 'unauthenticated')
        const writer = (await t.key('writer', ['read', 'write'])).secret
        await expectProblem(await api('POST', 'providers', { name: 'x-1', secret: SEED_SECRET, preset: 'erp_system_b' }, writer), 403, 'forbidden')
        await expectProblem(await api('GET', 'providers/holder/held', undefined, writer), 403, 'forbidden')
        const list = await expectJson(await api('GET', 'providers'))
        expect(list.data.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['warehouse_system_a', 'shiphero', 'holder', 'bare_env']))
        expect(JSON.stringify(list)).not.toContain(SEED_SECRET)
        expect(JSON.stringify(list)).not.toContain(SHIPHERO_SECRET)
        expect((await expectJson(await api('GET', 'providers/presets'))).data.map((p: { name: string }) => p.name)).toEqual(Object.keys(PROVIDER_PRESETS))
      })

      it('bad JSON, wrong types, unknown fields, a mapping that is not JSONata, a huge body: problems, nothing stored', async () => {
        const before = await ts.store.db.selectFrom('provider').selectAll().orderBy('name').execute()
        const raw = (body: string, type = 'application/json') => send('providers', { method: 'POST', body, headers: { 'x-api-key': admin, 'content-type': type } })
        await expectProblem(await raw('{"name": "x",'), 400, 'malformed_json')
        await expectProblem(await api('POST', 'providers', { name: 42, secret: SEED_SECRET, preset: 'erp_system_b' }), 422, 'validation_failed')
        await expectProblem(await api('POST', 'providers', { name: 'x-2', secret: 'short', preset: 'erp_system_b' }), 422, 'validation_failed')
        await expectProblem(await api('POST', 'providers', { name: 'x-3', secret: SEED_SECRET, preset: 'erp_system_b', admin: true }), 422, 'validation_failed')
        await expectProblem(await api('POST', 'providers', { name: 'x-4', secret: SEED_SECRET, preset: 'no_such_preset' }), 422, 'validation_failed')
        await expectProblem(await api('POST', 'providers', { name: 'x-5', secret: SEED_SECRET }), 422, 'validation_failed')
        const syntax = await expectProblem(await api('POST', 'providers', { name: 'x-6', secret: SEED_SECRET, mapping: 'items.{"sku": sku' }), 422, 'mapping_failed')
        expect(syntax.mapping_error).toMatchObject({ position: expect.any(Number) })
        await expectProblem(await api('POST', 'providers', { name: 'Bad Name', secret: SEED_SECRET, preset: 'erp_system_b' }), 422, 'validation_failed')
        await expectProblem(await api('POST', 'providers', { name: 'warehouse_system_a', secret: SEED_SECRET, preset: 'erp_system_b' }), 409, 'already_exists')
        await expectProblem(await api('POST', 'providers', { name: 'holder', secret: SEED_SECRET, preset: 'erp_system_b' }), 409, 'already_exists')
        await expectProblem(await raw(JSON.stringify({ name: 'x-7', secret: SEED_SECRET, mapping: 'x'.repeat(300_000) })), 413, 'payload_too_large')
        await expectProblem(await raw('name=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type')
        await expectProblem(await api('PATCH', 'providers/nobody', { unknown_sku: 'hold' }), 404, 'provider_not_found')
        await expectProblem(await api('PATCH', 'providers/holder', { unknown_sku: 'maybe' }), 422, 'validation_failed')
        await expectProblem(await api('DELETE', 'providers/nobody'), 404, 'provider_not_found')
        await expectProblem(await api('POST', 'providers/holder/held/resolve', { external_sku: 'X-1', sku: 'CAP-003', discard: true }), 422, 'validation_failed')
        await expectProblem(await api('POST', 'providers/holder/held/resolve', { external_sku: 'X-1', sku: 'NOT-REGISTERED' }), 404, 'sku_not_found')
        expect(await ts.store.db.selectFrom('provider').selectAll().orderBy('name').execute()).toEqual(before)
      })

      it('test: prints the movements a payload would make and changes nothing; bad payloads are refused', async () => {
        const before = await snapshot(ts.store.db)
        const r = await expectJson(await send('providers/holder/test', { method: 'POST', body: JSON.stringify({ id: 't-1', lines: [{ sku: 'THEIR-CAP', qty: 2, kind: 'sale' }, { sku: 'WHO-1', qty: 1, kind: 'restock' }] }), headers: { 'x-api-key': admin, 'content-type': 'application/json' } }))
        expect(r.data).toMatchObject({ event_id: 't-1', movements: [{ sku: 'CAP-003', external_sku: 'THEIR-CAP', status: 'ready', quantity: 2 }, { sku: 'WHO-1', status: 'unknown_sku', policy: 'hold' }] })
        expect(await snapshot(ts.store.db)).toEqual(before)
        await expectProblem(await send('providers/holder/test', { method: 'POST', body: '{"lines": [', headers: { 'x-api-key': admin, 'content-type': 'application/json' } }), 400, 'malformed_json')
        await expectProblem(await send('providers/holder/test', { method: 'POST', body: 'lines', headers: { 'x-api-key': admin, 'content-type': 'text/plain' } }), 415, 'unsupported_media_type')
        await expectProblem(await send('providers/holder/test', { method: 'POST', body: '['.repeat(100) + ']'.repeat(100), headers: { 'x-api-key': admin, 'content-type': 'application/json' } }), 422, 'validation_failed')
        await expectProblem(await send('providers/nobody/test', { method: 'POST', body: '{}', headers: { 'x-api-key': admin, 'content-type': 'application/json' } }), 404, 'provider_not_found')
      })

      it('webhooks: unknown provider, missing or forged signature, wrong content type, binary body: refused before any mapping runs', async () => {
        const before = await snapshot(ts.store.db)
        await expectProblem(await hook('nobody', { a: 1 }, SEED_SECRET), 401, 'webhook_not_configured')
        await expectProblem(await send('webhook/holder', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }), 401, 'invalid_signature')
        await expectProblem(await hook('holder', { a: 1 }, 'not-the-secret-at-all-000000'), 401, 'invalid_signature')
        const bin = '\u0000\u00ff\u0001binary'
        await expectProblem(await send('webhook/holder', { method: 'POST', body: bin, headers: { 'content-type': 'application/octet-stream', 'X-Webhook-Signature': providerSignature(SEED_SECRET, bin) } }), 415, 'unsupported_media_type')
        await expectProblem(await send('webhook/holder', { method: 'POST', body: bin, headers: { 'content-type': 'application/json', 'X-Webhook-Signature': providerSignature(SEED_SECRET, bin) } }), 400, 'malformed_json')
        await expectProblem(await hook('holder', '{"lines": [' + '{"a":['.repeat(40), SEED_SECRET), 422, 'validation_failed')
        expect(await snapshot(ts.store.db)).toEqual(before)
      })

      it('the OpenAPI document lists the provider routes and the webhook answer', async () => {
        const doc = await expectJson(await send('openapi.json'))
        expect(Object.keys(doc.paths['/providers'] ?? {}).sort()).toEqual(['get', 'post'])
        expect(Object.keys(doc.paths['/providers/{name}'] ?? {}).sort()).toEqual(['delete', 'get', 'patch'])
        for (const p of ['/providers/presets', '/providers/{name}/held']) expect(Object.keys(doc.paths[p] ?? {}), p).toEqual(['get'])
        for (const p of ['/providers/{name}/test', '/providers/{name}/held/resolve', '/webhook/{provider}']) expect(Object.keys(doc.paths[p] ?? {}), p).toEqual(['post'])
        expect(doc.components.schemas.ProviderWebhookResult).toBeDefined()
        expect(doc.components.schemas.ProviderInput.properties.unknown_sku.enum).toEqual(['reject', 'create', 'hold'])
      })

      it('a removed provider\u2019s webhooks are refused', async () => {
        const r = await api('DELETE', 'providers/strict')
        expect(r.status).toBe(204)
        await expectProblem(await hook('strict', { orders: [] }, SEED_SECRET), 401, 'webhook_not_configured')
      })
    })
  })
}
