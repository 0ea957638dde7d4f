/** @module service/transfer: moving units between two warehouses, both legs in one transaction. */
import { DomainError } from '../domain/errors.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { requireWarehouse } from './catalog.js'
import { runIdempotent, type Replayable } from './idempotency.js'
import { lockProduct, writeDelta, type WrittenMovement } from './level-writer.js'
import { countedMovement } from './movement-metrics.js'
import { claimFor, toLevelView, type MovementResult } from './stock.js'
import { assertWarehousesAllowed } from './warehouse-access.js'

export interface TransferInput {
  readonly sku: string
  readonly fromWarehouseId: number
  readonly toWarehouseId: number
  readonly quantity: number
  readonly source: string
  readonly referenceId: string | null
  readonly notes: string | null
}

export interface TransferResult {
  readonly transferId: string
  readonly from: MovementResult
  readonly to: MovementResult
}

/**
 * Take units out of one warehouse and into another. The out leg obeys available stock (backorders
 * never apply). Legs are written in warehouse-id order so two opposite transfers cannot deadlock.
 */
export async function transferStock(deps: ServiceDeps, input: TransferInput, ctx: RequestContext): Promise<Replayable<TransferResult>> {
  if (input.fromWarehouseId === input.toWarehouseId) {
    throw new DomainError('same_warehouse', 'from_warehouse_id and to_warehouse_id must differ', {
      errors: [{ pointer: '/to_warehouse_id', message: 'must differ from from_warehouse_id' }],
    })
  }
  assertWarehousesAllowed(ctx, input.fromWarehouseId, input.toWarehouseId) // security (#5): both legs must be allowed
  const natural = input.referenceId === null ? null : [input.source, input.referenceId, input.sku, input.fromWarehouseId, input.toWarehouseId].join('|')
  // Two movements (the out and the in leg), counted after the commit (#15).
  return countedMovement('transfer', () => transferOnce(deps, input, ctx, natural), () => ({ outcome: 'applied', n: 2 }))
}

function transferOnce(deps: ServiceDeps, input: TransferInput, ctx: RequestContext, natural: string | null): Promise<Replayable<TransferResult>> {
  return runIdempotent(deps, claimFor(ctx, 'stock.transfer', input, natural), async (trx) => {
    const now = deps.clock.now()
    const product = await lockProduct(trx, deps.store.caps, input.sku)
    const [fromWh, toWh] = [await requireWarehouse(trx, input.fromWarehouseId), await requireWarehouse(trx, input.toWarehouseId)]
    const transferId = deps.ids.next('trf')
    const meta = {
      changeType: 'transfer' as const,
      source: input.source,
      referenceId: input.referenceId ?? transferId,
      reservationId: null,
      actor: ctx.actor,
      notes: input.notes,
    }
    const t = { ex: trx, caps: deps.store.caps, now, deps }
    const legs: Array<() => Promise<WrittenMovement>> = [
      () => writeDelta(t, product, fromWh.id, { kind: 'transfer_out', quantity: input.quantity }, meta),
      () => writeDelta(t, product, toWh.id, { kind: 'transfer_in', quantity: input.quantity }, meta),
    ]
    const outFirst = fromWh.id < toWh.id
    const [a, b] = outFirst ? [await legs[0]!(), await legs[1]!()] : [await legs[1]!(), await legs[0]!()]
    const [outLeg, inLeg] = outFirst ? [a, b] : [b, a]
    return {
      transferId,
      from: { entry: outLeg.entry, level: toLevelView(outLeg.level, fromWh) },
      to: { entry: inLeg.entry, level: toLevelView(inLeg.level, toWh) },
    }
  })
}
