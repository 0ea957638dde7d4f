/** @module store/reservation-repo: checkout holds and their per-warehouse lines. */
import type { Reservation, ReservationLine, ReservationStatus } from '../domain/reservation.js'
import type { Executor } from './db.js'

interface ReservationRow {
  id: string
  sku: string
  quantity: number
  status: string
  expires_at: number | string
  reference_id: string | null
  source: string
  actor: string
  notes: string | null
  created_at: number | string
  updated_at: number | string
}

function toReservation(r: ReservationRow, lines: ReadonlyArray<ReservationLine>): Reservation {
  return {
    id: r.id,
    sku: r.sku,
    quantity: Number(r.quantity),
    lines,
    status: r.status as ReservationStatus,
    expiresAt: Number(r.expires_at),
    referenceId: r.reference_id,
    source: r.source,
    actor: r.actor,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

export async function insertReservation(ex: Executor, r: Reservation, notes: string | null): Promise<void> {
  await ex
    .insertInto('reservation')
    .values({
      id: r.id,
      sku: r.sku,
      quantity: r.quantity,
      status: r.status,
      expires_at: r.expiresAt,
      reference_id: r.referenceId,
      source: r.source,
      actor: r.actor,
      notes,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    })
    .execute()
  await ex
    .insertInto('reservation_line')
    .values(r.lines.map((l) => ({ reservation_id: r.id, warehouse_id: l.warehouseId, quantity: l.quantity })))
    .execute()
}

async function linesOf(ex: Executor, ids: ReadonlyArray<string>): Promise<Map<string, ReservationLine[]>> {
  const out = new Map<string, ReservationLine[]>()
  if (ids.length === 0) return out
  const rows = await ex.selectFrom('reservation_line').selectAll().where('reservation_id', 'in', ids).orderBy('warehouse_id').execute()
  for (const row of rows) {
    const list = out.get(row.reservation_id) ?? []
    list.push({ warehouseId: Number(row.warehouse_id), quantity: Number(row.quantity) })
    out.set(row.reservation_id, list)
  }
  return out
}

export async function findReservation(ex: Executor, id: string): Promise<Reservation | undefined> {
  const row = await ex.selectFrom('reservation').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row) return undefined
  const lines = await linesOf(ex, [id])
  return toReservation(row, lines.get(id) ?? [])
}

/**
 * Move an active reservation to a final status. Conditional on it still being active, so of two
 * racing callers (a commit and the expiry sweeper, say) exactly one wins.
 */
export async function closeReservation(ex: Executor, id: string, status: Exclude<ReservationStatus, 'active'>, now: number): Promise<boolean> {
  const res = await ex
    .updateTable('reservation')
    .set({ status, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** Ids of active reservations whose expiry has passed, oldest first. */
export async function findExpiredReservationIds(ex: Executor, now: number, limit: number): Promise<string[]> {
  const rows = await ex
    .selectFrom('reservation')
    .select('id')
    .where('status', '=', 'active')
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(limit)
    .execute()
  return rows.map((r) => r.id)
}

export interface ReservationListQuery {
  readonly sku?: string | undefined
  readonly status?: ReservationStatus | undefined
  readonly referenceId?: string | undefined
  /** Newest first: only ids below this one (ULIDs sort by creation time). */
  readonly beforeId?: string | undefined
  readonly limit: number
}

/** Reservations, newest first, with their lines. */
export async function listReservations(ex: Executor, q: ReservationListQuery): Promise<Reservation[]> {
  const rows = await ex
    .selectFrom('reservation')
    .selectAll()
    .$if(q.sku !== undefined, (qb) => qb.where('sku', '=', q.sku!))
    .$if(q.status !== undefined, (qb) => qb.where('status', '=', q.status!))
    .$if(q.referenceId !== undefined, (qb) => qb.where('reference_id', '=', q.referenceId!))
    .$if(q.beforeId !== undefined, (qb) => qb.where('id', '<', q.beforeId!))
    .orderBy('id', 'desc')
    .limit(q.limit)
    .execute()
  const lines = await linesOf(ex, rows.map((r) => r.id))
  return rows.map((r) => toReservation(r, lines.get(r.id) ?? []))
}
