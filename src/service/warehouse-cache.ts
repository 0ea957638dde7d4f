/**
 * @module service/warehouse-cache: the warehouse list, held for a few seconds per store. Answers
 * carry each level's warehouse code and active flag; reading the list on every request cost a
 * query per read. A warehouse this node has not seen (made on another node) reloads it at once,
 * and changes made through this node forget it; another node's rename or deactivation shows
 * here within WAREHOUSE_CACHE_MS.
 */
import type { Warehouse } from '../domain/warehouse.js'
import type { Executor } from '../store/db.js'
import { listWarehouses } from '../store/warehouse-repo.js'
import type { ServiceDeps } from './deps.js'

const WAREHOUSE_CACHE_MS = 5000
const warehouseCache = new WeakMap<object, { at: number; generation: number; byId: Map<number, Warehouse> }>()
let loads = 0

/** Every warehouse by id; reloaded when old or when one of `ids` is unknown. */
export async function cachedWarehouses(deps: ServiceDeps, ex: Executor, ids: Iterable<number>): Promise<ReadonlyMap<number, Warehouse>> {
  const now = Date.now()
  let c = warehouseCache.get(deps.store)
  let fresh = c !== undefined && now - c.at <= WAREHOUSE_CACHE_MS
  if (fresh) for (const id of ids) if (!c!.byId.has(id)) fresh = false
  if (!fresh) {
    c = { at: now, generation: ++loads, byId: new Map((await listWarehouses(ex)).map((w) => [w.id, w])) }
    warehouseCache.set(deps.store, c)
  }
  return c!.byId
}

export async function cachedWarehouse(deps: ServiceDeps, ex: Executor, id: number): Promise<Warehouse | undefined> {
  return (await cachedWarehouses(deps, ex, [id])).get(id)
}

/**
 * Which load of the list answers now: a number that changes with every reload, or null when
 * there is no list or it is old enough that the next read reloads it. Answers built from the list
 * (service/read-generation.ts) are reused only while it stays the same.
 */
export function warehouseGeneration(deps: ServiceDeps): number | null {
  const c = warehouseCache.get(deps.store)
  return c !== undefined && Date.now() - c.at <= WAREHOUSE_CACHE_MS ? c.generation : null
}

/** After a warehouse changed through this node. */
export function forgetWarehouses(deps: ServiceDeps): void {
  warehouseCache.delete(deps.store)
}
