/** @module service/reservations: checkout holds with expiry, committed into sales or released. */
import { allocateByPriority, type AllocationCandidate } from '../domain/allocation.js'
import { DomainError } from '../domain/errors.js'
import { assertReservationActive, DEFAULT_RESERVATION_TTL_SECONDS, type Reservation } from '../domain/reservation.js'
import { availableOf } from '../domain/stock-level.js'
import type { Executor } from '../store/db.js'
import * as repo from '../store/reservation-repo.js'
import { findLevelsBySkus } from '../store/stock-repo.js'
import { listWarehouses } from '../store/warehouse-repo.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { requireWarehouse } from './catalog.js'
import { runIdempotent, type Replayable } from './idempotency.js'
import { lockProduct, writeDelta } from './level-writer.js'
import { countedMovement, countMovements } from './movement-metrics.js'
import { claimFor, warehouseInactive } from './stock.js'
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page } from './paging.js'
import { inTransaction } from './transaction.js'
import { assertWarehousesAllowed } from './warehouse-access.js'
import { mayWriteWarehouse } from '../domain/api-key.js'

export interface ReserveInput {
  readonly sku: string
  readonly quantity: number
  /** Reserve in this warehouse only; when absent, allocate across active warehouses by priority. */
  readonly warehouseId?: number | undefined
  readonly ttlSeconds?: number | undefined
  readonly source: string
  readonly referenceId: string | null
  readonly notes: string | null
}

export interface ReservationResult {
  readonly reservation: Reservation
  /** Why the quantity was split (or not) the way it was. */
  readonly allocation: ReadonlyArray<string>
}

async function planLines(ex: Executor, sku: string, quantity: number, warehouseId: number | undefined, allowsBackorders: boolean, allowed?: ReadonlyArray<number> | null) {
  if (warehouseId !== undefined) {
    const wh = await requireWarehouse(ex, warehouseId)
    if (!wh.isActive) throw warehouseInactive(wh, 'reservations')
    return { lines: [{ warehouseId: wh.id, quantity }], explanation: [`${wh.code} requested by the caller`] }
  }
  const [levels, warehouses] = await Promise.all([findLevelsBySkus(ex, [sku]), listWarehouses(ex)])
  const candidates: AllocationCandidate[] = warehouses
    .filter((w) => w.isActive && mayWriteWarehouse(allowed, w.id)) // security (#5): allocate only where the caller may write
    .map((w) => {
      const level = levels.find((l) => l.warehouseId === w.id)
      return { warehouseId: w.id, warehouseCode: w.code, priority: w.priority, available: level ? availableOf(level) : 0 }
    })
  if (candidates.length === 0) throw new DomainError('insufficient_stock', `No active warehouse holds ${sku}`, { sku, requested: quantity, available: 0 })
  return allocateByPriority(sku, quantity, candidates, allowsBackorders)
}

/** Hold stock for a checkout. Split across warehouses by priority when no warehouse is named. */
export async function createReservation(deps: ServiceDeps, input: ReserveInput, ctx: RequestContext): Promise<Replayable<ReservationResult>> {
  if (input.warehouseId !== undefined) assertWarehousesAllowed(ctx, input.warehouseId) // security (#5)
  const natural = input.referenceId === null ? null : [input.source, input.referenceId, input.sku].join('|')
  // One movement per warehouse line, counted after the commit (#15).
  return countedMovement('reserve', () => reserveOnce(deps, input, ctx, natural), (v) => ({ outcome: 'applied', n: v.reservation.lines.length }))
}

function reserveOnce(deps: ServiceDeps, input: ReserveInput, ctx: RequestContext, natural: string | null): Promise<Replayable<ReservationResult>> {
  return runIdempotent(deps, claimFor(ctx, 'reservation.create', input, natural), async (trx) => {
    const now = deps.clock.now()
    const product = await lockProduct(trx, deps.store.caps, input.sku)
    const plan = await planLines(trx, product.sku, input.quantity, input.warehouseId, product.allowsBackorders, ctx.allowedWarehouses)
    const id = deps.ids.next('res')
    const meta = { changeType: 'reserve' as const, source: input.source, referenceId: input.referenceId, reservationId: id, actor: ctx.actor, notes: input.notes }
    const t = { ex: trx, caps: deps.store.caps, now, deps }
    // Lines in warehouse-id order: every multi-row writer locks in the same order, so none deadlock.
    const lines = [...plan.lines].sort((a, b) => a.warehouseId - b.warehouseId)
    for (const line of lines) await writeDelta(t, product, line.warehouseId, { kind: 'reserve', quantity: line.quantity }, meta)
    const reservation: Reservation = {
      id,
      sku: product.sku,
      quantity: input.quantity,
      lines,
      status: 'active',
      expiresAt: now + (input.ttlSeconds ?? DEFAULT_RESERVATION_TTL_SECONDS) * 1000,
      referenceId: input.referenceId,
      source: input.source,
      actor: ctx.actor,
      createdAt: now,
      updatedAt: now,
    }
    await repo.insertReservation(trx, reservation, input.notes)
    return { reservation, allocation: plan.explanation }
  })
}

export async function getReservation(deps: ServiceDeps, id: string): Promise<Reservation> {
  const r = await repo.findReservation(deps.store.db, id)
  if (!r) throw new DomainError('reservation_not_found', `No reservation has id ${id}`, { reservation_id: id })
  return r
}

type Closing = 'committed' | 'released' | 'expired'

async function closeWithLedger(deps: ServiceDeps, trx: Executor, id: string, status: Closing, actor: string, notes: string | null, checkExpiry: boolean): Promise<Reservation> {
  const now = deps.clock.now()
  const r = await repo.findReservation(trx, id)
  if (!r) throw new DomainError('reservation_not_found', `No reservation has id ${id}`, { reservation_id: id })
  assertReservationActive(r, checkExpiry ? now : Number.NEGATIVE_INFINITY)
  // Conditional on status = 'active': of a commit and the expiry sweeper racing, one wins.
  if (!(await repo.closeReservation(trx, id, status, now))) {
    throw new DomainError('reservation_not_active', `Reservation ${id} is no longer active`, { reservation_id: id })
  }
  const product = await lockProduct(trx, deps.store.caps, r.sku)
  const t = { ex: trx, caps: deps.store.caps, now, deps }
  const changeType = status === 'committed' ? ('commit' as const) : ('release' as const)
  const meta = { changeType, source: r.source, referenceId: r.referenceId, reservationId: id, actor, notes }
  for (const line of r.lines) await writeDelta(t, product, line.warehouseId, { kind: changeType, quantity: line.quantity }, meta)
  return { ...r, status, updatedAt: now }
}

/** Turn a reservation into a sale: reserved and on hand both fall by its quantity. */
export async function commitReservation(deps: ServiceDeps, id: string, ctx: RequestContext): Promise<Replayable<Reservation>> {
  await assertReservationAllowed(deps, id, ctx) // security (#5)
  return countedMovement('commit', () => runIdempotent(deps, claimFor(ctx, 'reservation.commit', { id }, null), (trx) => closeWithLedger(deps, trx, id, 'committed', ctx.actor, null, true)), (r) => ({ outcome: 'applied', n: r.lines.length }))
}

/** Give the held units back to available stock. Allowed after expiry too (it then just releases early). */
export async function releaseReservation(deps: ServiceDeps, id: string, ctx: RequestContext): Promise<Replayable<Reservation>> {
  await assertReservationAllowed(deps, id, ctx) // security (#5)
  return countedMovement('release', () => runIdempotent(deps, claimFor(ctx, 'reservation.release', { id }, null), (trx) => closeWithLedger(deps, trx, id, 'released', ctx.actor, null, false)), (r) => ({ outcome: 'applied', n: r.lines.length }))
}

/** Security (#5): a restricted credential may close only reservations held wholly in its warehouses (lines never change after creation). */
async function assertReservationAllowed(deps: ServiceDeps, id: string, ctx: RequestContext): Promise<void> {
  if (ctx.allowedWarehouses === null || ctx.allowedWarehouses === undefined) return
  const r = await repo.findReservation(deps.store.db, id)
  if (r) assertWarehousesAllowed(ctx, ...r.lines.map((l) => l.warehouseId))
}

/**
 * Release every active reservation past its expiry, each in its own transaction, recorded in the
 * ledger. Safe to run on several nodes at once: closing is conditional, so each expires once.
 */
export async function expireReservations(deps: ServiceDeps, batchSize = 100): Promise<number> {
  let expired = 0
  for (;;) {
    const ids = await repo.findExpiredReservationIds(deps.store.db, deps.clock.now(), batchSize)
    for (const id of ids) {
      try {
        const closed = await inTransaction(deps, (trx) => closeWithLedger(deps, trx, id, 'expired', 'system:expiry', 'reservation expired', false))
        countMovements('release', 'applied', closed.lines.length)
        deps.events.notify()
        expired++
      } catch (e) {
        // Another node, a commit or a release got there first.
        if (e instanceof DomainError && (e.code === 'reservation_not_active' || e.code === 'reservation_expired')) continue
        throw e
      }
    }
    if (ids.length < batchSize) return expired
  }
}

export interface ReservationListFilter {
  readonly sku?: string | undefined
  readonly status?: Reservation['status'] | undefined
  readonly referenceId?: string | undefined
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
}

/** Reservations, newest first, filtered by SKU, status and reference, cursor-paged (#12). */
export async function listReservations(deps: ServiceDeps, f: ReservationListFilter): Promise<Page<Reservation>> {
  const limit = f.limit ?? DEFAULT_PAGE_LIMIT
  const beforeId = f.cursor === undefined ? undefined : (decodeCursor(f.cursor, ['string'])[0] as string)
  return pageOf(limit, (take) => repo.listReservations(deps.store.db, { sku: f.sku, status: f.status, referenceId: f.referenceId, beforeId, limit: take }), (r) => [r.id])
}
