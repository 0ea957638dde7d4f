/**
 * @module service/warehouse-cache: the warehouse list, held for a few seconds per store. Answers
 * carry each level's warehouse code and active flag; reading the list on every request cost a
 * query per read. A warehouse this node has not seen (made on another node) reloads it at once,
 * and changes made through this node forget it; another node's rename or deactivation shows
 * here within WAREHOUSE_CACHE_MS (on SQLite an unchanged database keeps the list past that).
 */
import type { Warehouse } from '../domain/warehouse.js'
import type { Executor } from '../store/db.js'
import { listWarehouses } from '../store/warehouse-repo.js'
import type { ServiceDeps } from './deps.js'

const WAREHOUSE_CACHE_MS = 5000

interface Loaded {
  at: number
  /** Which load this is (see warehouseGeneration). */
  readonly generation: number
  /** listStamp taken just before the load, or null when there is none. */
  readonly stamp: string | null
  readonly byId: Map<number, Warehouse>
}

const warehouseCache = new WeakMap<object, Loaded>()
let loads = 0

/** Warehouse rows written through each store's connection (SQLite), counted by its write watch. */
const warehouseWrites = new WeakMap<object, { n: number }>()

/**
 * What says the list may have changed: commits by other connections and warehouse writes
 * through this one. Null where there is no such knowledge (PostgreSQL), or while a transaction
 * is open on the connection (what it reads may yet be rolled back).
 */
function listStamp(deps: ServiceDeps, ex: Executor): string | null {
  const watch = deps.store.writeWatch
  if (!watch || ex.isTransaction || watch.inTransaction()) return null
  let writes = warehouseWrites.get(deps.store)
  if (!writes) {
    const counter = { n: 0 }
    if (!watch.watch((table) => void (table === 'warehouse' && counter.n++))) return null
    warehouseWrites.set(deps.store, (writes = counter))
  }
  const foreign = watch.foreignVersion()
  return foreign === null ? null : `${foreign}:${writes.n}`
}

/**
 * Young enough, or old but nothing written since the load: on SQLite the list stamp says so
 * exactly (a warehouse write through this connection or a commit by any other), so an unchanged
 * list is kept without reloading and the answers built from it stay valid.
 */
function isCurrent(deps: ServiceDeps, c: Loaded, now: number): boolean {
  if (now - c.at <= WAREHOUSE_CACHE_MS) return true
  if (c.stamp === null || listStamp(deps, deps.store.db) !== c.stamp) return false
  c.at = now
  return true
}

/** Every warehouse by id; reloaded when old or when one of `ids` is unknown. */
export async function cachedWarehouses(deps: ServiceDeps, ex: Executor, ids: Iterable<number>): Promise<ReadonlyMap<number, Warehouse>> {
  const now = Date.now()
  let c = warehouseCache.get(deps.store)
  let fresh = c !== undefined && isCurrent(deps, c, now)
  if (fresh) for (const id of ids) if (!c!.byId.has(id)) fresh = false
  if (!fresh) {
    // Taken before reading, so a write that lands meanwhile moves the stamp.
    const stamp = listStamp(deps, ex)
    c = { at: now, generation: ++loads, stamp, byId: new Map((await listWarehouses(ex)).map((w) => [w.id, w])) }
    warehouseCache.set(deps.store, c)
  }
  return c!.byId
}

export async function cachedWarehouse(deps: ServiceDeps, ex: Executor, id: number): Promise<Warehouse | undefined> {
  return (await cachedWarehouses(deps, ex, [id])).get(id)
}

/**
 * Which load of the list answers now: a number that changes with every reload, or null when
 * there is no list or the next read reloads it. Answers built from the list
 * (service/read-generation.ts) are reused only while it stays the same.
 */
export function warehouseGeneration(deps: ServiceDeps): number | null {
  const c = warehouseCache.get(deps.store)
  return c !== undefined && isCurrent(deps, c, Date.now()) ? c.generation : null
}

/** After a warehouse changed through this node. */
export function forgetWarehouses(deps: ServiceDeps): void {
  warehouseCache.delete(deps.store)
}
