/**
 * @module service/warehouse-access: the warehouse restriction of a key or token (#5). A warehouse
 * system's credential may move only its own stock; every write path asks here before it starts.
 */
import { mayWriteWarehouse } from '../domain/api-key.js'
import { DomainError, type FieldError } from '../domain/errors.js'
import type { RequestContext } from './deps.js'

function forbidden(ctx: RequestContext, warehouseIds: ReadonlyArray<number>, errors?: ReadonlyArray<FieldError>): DomainError {
  const list = warehouseIds.join(', ')
  return new DomainError('warehouse_forbidden', `This credential may not move stock in warehouse ${list}; it is limited to ${ctx.allowedWarehouses?.join(', ')}`, {
    warehouse_ids: warehouseIds,
    allowed_warehouses: ctx.allowedWarehouses,
    ...(errors ? { errors } : {}),
  })
}

/** Throw `warehouse_forbidden` unless the caller may write every one of these warehouses. */
export function assertWarehousesAllowed(ctx: RequestContext, ...warehouseIds: ReadonlyArray<number>): void {
  const refused = [...new Set(warehouseIds.filter((id) => !mayWriteWarehouse(ctx.allowedWarehouses, id)))]
  if (refused.length > 0) throw forbidden(ctx, refused)
}

/**
 * Bulk items naming a warehouse the caller may not write: the whole request is refused (a
 * credential probing other warehouses is not a partial success). Items too malformed to name a
 * warehouse are left to per-item validation.
 */
export function assertBulkItemsAllowed(ctx: RequestContext, items: ReadonlyArray<unknown>): void {
  if (ctx.allowedWarehouses === null || ctx.allowedWarehouses === undefined) return
  const errors: FieldError[] = []
  const refused = new Set<number>()
  items.forEach((item, i) => {
    const wh = item !== null && typeof item === 'object' ? (item as { warehouse_id?: unknown }).warehouse_id : undefined
    if (typeof wh === 'number' && !mayWriteWarehouse(ctx.allowedWarehouses, wh)) {
      refused.add(wh)
      if (errors.length < 100) errors.push({ pointer: `/items/${i}/warehouse_id`, message: 'is a warehouse this credential may not write' })
    }
  })
  if (refused.size > 0) throw forbidden(ctx, [...refused].slice(0, 100), errors)
}
