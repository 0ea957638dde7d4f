/** @module domain/reservation: checkout holds and the transitions they may make. */
import { DomainError } from './errors.js'

export const RESERVATION_STATUSES = Object.freeze(['active', 'committed', 'released', 'expired'] as const)
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number]

export const DEFAULT_RESERVATION_TTL_SECONDS = 15 * 60
export const MAX_RESERVATION_TTL_SECONDS = 7 * 24 * 60 * 60

export interface ReservationLine {
  readonly warehouseId: number
  readonly quantity: number
}

export interface Reservation {
  readonly id: string
  readonly sku: string
  readonly quantity: number
  readonly lines: ReadonlyArray<ReservationLine>
  readonly status: ReservationStatus
  readonly expiresAt: number
  readonly referenceId: string | null
  readonly source: string
  readonly actor: string
  readonly createdAt: number
  readonly updatedAt: number
}

/** Refuse a commit or release of a reservation that is not active, or has run past its expiry (swept or not). */
export function assertReservationActive(r: Reservation, now: number): void {
  if (r.status === 'expired' || (r.status === 'active' && r.expiresAt <= now)) {
    throw new DomainError('reservation_expired', `Reservation ${r.id} expired at ${new Date(r.expiresAt).toISOString()}`, {
      reservation_id: r.id,
      expires_at: new Date(r.expiresAt).toISOString(),
    })
  }
  if (r.status !== 'active') {
    throw new DomainError('reservation_not_active', `Reservation ${r.id} is ${r.status}`, { reservation_id: r.id, status: r.status })
  }
}
