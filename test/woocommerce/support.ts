/**
 * Helpers for the WooCommerce suites: a hub (real database, real HTTP server for webhooks, its
 * delivery worker with a fast backoff) wired to a WooCommerce emulator with a seeded catalogue.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import { seedCatalog, type Seeded } from '../../emulator/woocommerce/seed.js'
import { WooEmulator, type EmulatorOptions } from '../../emulator/woocommerce/server.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { silentLogger, ulidIds } from '../../src/service/deps.js'
import { EventBus, subscriptionTargets } from '../../src/service/event-bus.js'
import { addStore } from '../../src/service/stores.js'
import { connectorFor, dropConnector } from '../../src/service/woocommerce-runtime.js'
import type { WooConnector } from '../../src/service/woocommerce.js'
import { storeTargets } from '../../src/service/stores.js'
import { createProduct, createWarehouse } from '../../src/service/catalog.js'
import { bulkSync } from '../../src/service/bulk-sync.js'
import { JobRunner } from '../../src/service/jobs.js'
import { storeJobHandlers } from '../../src/service/store-jobs.js'
import type { WooStore } from '../../src/store/woo-repo.js'
import { subscriptionResolver } from '../../src/sync/subscription-destinations.js'
import { DeliveryWorker } from '../../src/sync/worker.js'
import { createTestStore, type TestDatabase, type TestStore } from '../support/databases.js'
import { testApp } from '../support/fixtures.js'
import type { Warehouse } from '../../src/domain/warehouse.js'

export interface Hub {
  readonly db: TestStore
  readonly deps: ServiceDeps
  readonly woo: WooConnector
  readonly worker: DeliveryWorker
  readonly url: string
  readonly call: Awaited<ReturnType<typeof testApp>>['call']
  readonly warehouses: Warehouse[]
  close(): Promise<void>
}

export async function startHub(
  kind: TestDatabase,
  o: { driftGraceMs?: number; warehouses?: Array<{ code: string; priority: number }>; jobs?: boolean; backoff?: { baseMs: number; capMs: number }; random?: () => number; probeMs?: number; requestTimeoutMs?: number } = {},
): Promise<Hub> {
  const db = await createTestStore(kind)
  const deps: ServiceDeps = { store: db.store, clock: { now: () => Date.now() }, ids: ulidIds(), log: silentLogger, events: new EventBus([subscriptionTargets, storeTargets], 0) }
  const woo = connectorFor(deps, { requestTimeoutMs: o.requestTimeoutMs ?? 5000, driftGraceMs: o.driftGraceMs ?? 0, reconcileMinutes: 0, ...(o.probeMs !== undefined ? { probeMs: o.probeMs } : {}) })
  const worker = new DeliveryWorker(deps, woo.resolver(subscriptionResolver(deps.store.db, 5000)), {
    workerId: `test-${process.pid}`,
    batchSize: 400,
    pollMs: 50,
    maxAttempts: 12,
    backoff: o.backoff ?? { baseMs: 20, capMs: 250 },
    ...(o.random ? { random: o.random } : {}),
  })
  // The job runner a server runs (store map/sync/reconcile queued over HTTP or from the admin UI), when asked.
  const jobs = o.jobs ? new JobRunner(deps, `test-jobs-${process.pid}`, { pollMs: 100, handlers: storeJobHandlers(deps) }) : null
  jobs?.start()
  const { app, call } = await testApp(deps)
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
  })
  const port = (server.address() as AddressInfo).port
  const warehouses: Warehouse[] = []
  for (const w of o.warehouses ?? [
    { code: 'BER', priority: 1 },
    { code: 'HAM', priority: 2 },
  ]) {
    warehouses.push(await createWarehouse(deps, { code: w.code, name: w.code, location: null, priority: w.priority, isActive: true }))
  }
  return {
    db,
    deps,
    woo,
    worker,
    url: `http://127.0.0.1:${port}`,
    call,
    warehouses,
    async close() {
      await jobs?.stop()
      await worker.stop()
      await woo.stop()
      dropConnector(deps)
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        if ('closeAllConnections' in server) server.closeAllConnections()
      })
      await db.drop()
    },
  }
}

export interface Shop {
  readonly emu: WooEmulator
  readonly seeded: Seeded
  readonly key: { consumerKey: string; consumerSecret: string }
}

export async function startShop(o: EmulatorOptions & { simple?: number; variable?: number; stock?: number } = {}): Promise<Shop> {
  const emu = new WooEmulator({ asyncDelayMs: 20, ...o })
  const key = emu.addKey('read_write')
  const seeded = seedCatalog(emu.shop, { simple: o.simple ?? 5, variable: o.variable ?? 2, stock: o.stock ?? 0 })
  await emu.start()
  return { emu, seeded, key }
}

/** Register the shop's SKUs in the hub with on-hand figures (in the first warehouse unless split). */
export async function registerSkus(hub: Hub, skus: ReadonlyArray<string>, onHand: (sku: string, i: number) => Array<number>): Promise<void> {
  for (const [i, sku] of skus.entries()) {
    await createProduct(hub.deps, { sku, productId: 900_000 + i, parentId: null, name: null, allowsBackorders: false, safetyStock: 0, lowStockThreshold: 0 })
  }
  const items: Array<{ sku: string; warehouse_id: number; quantity: number }> = []
  skus.forEach((sku, i) => onHand(sku, i).forEach((q, w) => hub.warehouses[w] && items.push({ sku, warehouse_id: hub.warehouses[w]!.id, quantity: q })))
  await setCounts(hub, items)
}

/** Absolute counts through bulk sync, 5,000 a call. */
export async function setCounts(hub: Hub, items: ReadonlyArray<{ sku: string; warehouse_id: number; quantity: number }>): Promise<void> {
  for (let i = 0; i < items.length; i += 5000) await bulkSync(hub.deps, { source: 'test', referenceId: null, items: items.slice(i, i + 5000) }, { actor: 'test' })
}

export async function connectStore(hub: Hub, shop: Shop, over: Partial<Parameters<typeof addStore>[1]> = {}): Promise<WooStore> {
  return addStore(hub.deps, {
    name: 'shop1',
    url: shop.emu.url,
    consumerKey: shop.key.consumerKey,
    consumerSecret: shop.key.consumerSecret,
    warehouses: hub.warehouses.map((w) => w.code),
    ...over,
  })
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** A self-signed certificate for 127.0.0.1 made with openssl (null when openssl is missing). */
export function selfSignedCert(): { key: string; cert: string; certFile: string } | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-tls-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  } catch {
    return null
  }
  return { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'), certFile: path.join(dir, 'cert.pem') }
}

const indexes = new WeakMap<Shop, { size: number; bySku: Map<string, number> }>()

/** The store's current figure of a SKU (through an index of SKU → product id). */
export function stockOf(shop: Shop, sku: string): number | null {
  let idx = indexes.get(shop)
  if (!idx || idx.size !== shop.emu.shop.products.size) {
    idx = { size: shop.emu.shop.products.size, bySku: new Map([...shop.emu.shop.products.values()].map((p) => [p.sku, p.id])) }
    indexes.set(shop, idx)
  }
  const id = idx.bySku.get(sku)
  const p = id === undefined ? undefined : shop.emu.shop.products.get(id)
  return p ? shop.emu.shop.stockHolder(p).stockQuantity : null
}
