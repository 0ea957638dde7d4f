/**
 * @module service/read-generation: when may an answer read earlier be given again? A stock read
 * depends on the database (product, levels, warehouses) and on the warehouse list this node holds
 * (service/warehouse-cache.ts). Its generation names both; while it stays the same, reading again
 * would give the same answer, because nothing it depends on can have changed.
 */
import type { ServiceDeps } from './deps.js'
import { warehouseGeneration } from './warehouse-cache.js'

/**
 * The current read generation, or null when reads cannot be reused (PostgreSQL, where another
 * node's commit is heard of only later; or a warehouse list due for reload).
 *
 * Take it BEFORE reading, and keep what was read under it: a write committed after it was taken
 * changes the next generation, so an answer that may or may not include that write is never
 * given under a generation that follows the write.
 */
export function readGeneration(deps: ServiceDeps): string | null {
  const data = deps.store.changeStamp?.() ?? null
  if (data === null) return null
  const warehouses = warehouseGeneration(deps)
  return warehouses === null ? null : `${data}/${warehouses}`
}
