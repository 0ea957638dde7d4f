/** Test fixtures: deps over a real store, a fixed or steppable clock, and factories with defaults. */
import type { Clock, ServiceDeps } from '../../src/service/deps.js'
import { silentLogger, ulidIds } from '../../src/service/deps.js'
import type { Store } from '../../src/store/db.js'
import { EventBus } from '../../src/service/event-bus.js'
import { createProduct, createWarehouse } from '../../src/service/catalog.js'
import type { Product } from '../../src/domain/product.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { ApiKeyVerifier, createApiKey } from '../../src/service/api-keys.js'
import { createApp } from '../../src/http/app.js'
import type { Scope } from '../../src/domain/api-key.js'

export interface TestClock extends Clock {
  set(ms: number): void
  advance(ms: number): void
}

export function testClock(start = Date.parse('2026-11-25T12:00:00Z')): TestClock {
  let t = start
  return { now: () => t, set: (ms) => void (t = ms), advance: (ms) => void (t += ms) }
}

export function testDeps(store: Store, clock: Clock = testClock()): ServiceDeps {
  return { store, clock, ids: ulidIds(), log: silentLogger, events: new EventBus() }
}

let seq = 0

export async function makeWarehouse(deps: ServiceDeps, over: Partial<{ code: string; priority: number; isActive: boolean }> = {}): Promise<Warehouse> {
  seq++
  return createWarehouse(deps, { code: over.code ?? `WH${seq}`, name: `Warehouse ${seq}`, location: null, priority: over.priority ?? 1, isActive: over.isActive ?? true })
}

export async function makeProduct(deps: ServiceDeps, over: Partial<Omit<Product, 'createdAt' | 'updatedAt'>> = {}): Promise<Product> {
  seq++
  return createProduct(deps, {
    sku: over.sku ?? `SKU-${seq}`,
    productId: over.productId ?? 10_000 + seq,
    parentId: over.parentId ?? null,
    name: over.name ?? null,
    allowsBackorders: over.allowsBackorders ?? false,
    safetyStock: over.safetyStock ?? 0,
    lowStockThreshold: over.lowStockThreshold ?? 5,
  })
}

/** An in-process app over the given deps, and keys for each scope combination tests need. */
export async function testApp(deps: ServiceDeps, limits = { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024 }) {
  const verifier = new ApiKeyVerifier(deps, 0)
  const app = createApp({ ...deps, verifier, limits })
  const key = async (scopes: Scope[]) => (await createApiKey(deps, `test ${scopes.join('+')}`, scopes)).secret
  const keys = { admin: await key(['admin']), write: await key(['read', 'write']), read: await key(['read']), writeOnly: await key(['write']) }
  const call = (method: string, path: string, opts: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) }
    const k = opts.key === undefined ? keys.admin : opts.key
    if (k !== null) headers['x-api-key'] = k
    let body: string | undefined
    if (opts.raw !== undefined) body = opts.raw
    else if (opts.body !== undefined) body = JSON.stringify(opts.body)
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json'
    return app.request(path.startsWith('/') ? path : `/inventory/v1/${path}`, { method, headers, body })
  }
  return { app, keys, call, verifier }
}
