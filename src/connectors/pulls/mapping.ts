/**
 * @module connectors/pulls/mapping: a pull source's JSONata mapping turns one response page into
 * `[{ sku, quantity }]`. It is evaluated by the same fenced worker as provider mappings
 * (service/provider-mapping.ts): jsonata's own time, stack and sequence guards inside, a small heap
 * and a wall-clock deadline outside, so an expression that loops, allocates without end or
 * backtracks in a regex stops with `mapping_failed` instead of stalling the server.
 */
import { DomainError } from '../../domain/errors.js'
import { DEFAULT_PULL_MAPPING } from '../../domain/pull-schedule.js'
import { mappingRunner } from '../../service/provider-mapping.js'

/** Items one page may map to. */
export const MAX_ITEMS_PER_PAGE = 100_000

/** One item of a mapped page, as the bulk-sync service checks it (sku and a whole count). */
export interface MappedCount {
  readonly sku: unknown
  readonly quantity: unknown
}

/** The mapping's result as a list of counts: undefined is none, one object is one item. */
export function countsOf(result: unknown, maxItems = MAX_ITEMS_PER_PAGE): MappedCount[] {
  if (result === undefined || result === null) return []
  const list = Array.isArray(result) ? result : [result]
  if (list.length > maxItems) throw new DomainError('mapping_failed', `The mapping produced ${list.length} items; a page may produce at most ${maxItems}`, { mapping_error: { code: 'too_many_items', message: `at most ${maxItems} items per page` } })
  return list.map((it: unknown) => {
    if (typeof it !== 'object' || it === null || Array.isArray(it)) return { sku: null, quantity: it }
    const o = it as Record<string, unknown>
    // Warehouse APIs often send counts as numeric strings ("12"); whole numbers only.
    const q = typeof o.quantity === 'string' && /^\s*\d{1,10}\s*$/.test(o.quantity) ? Number(o.quantity) : o.quantity
    return { sku: typeof o.sku === 'number' ? String(o.sku) : o.sku, quantity: q }
  })
}

/** Map one page (its body as received) with the source's expression, or the seed's format when it has none. */
export async function mapPage(expression: string | null, body: unknown, maxItems = MAX_ITEMS_PER_PAGE): Promise<MappedCount[]> {
  return countsOf(await mappingRunner().evaluate(expression ?? DEFAULT_PULL_MAPPING, JSON.stringify(body ?? null)), maxItems)
}
