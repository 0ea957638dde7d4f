/**
 * @module store/delivery-repo: pending deliveries, one slot per (target, SKU).
 * A newer event replaces the one waiting in the slot, so deliveries coalesce and a target never
 * gets an older figure after a newer one. Workers claim slots under a lease.
 */

import { sql } from 'kysely'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import { pastCursor } from './keyset.js'

export interface DeliverySlot {
  readonly targetId: string
  readonly sku: string
  readonly eventSeq: number
  /** Attempts so far, counting the one being made (bumped at claim time, so a crash counts). */
  readonly attempts: number
  /** When its pending change became due (epoch ms): enqueued, or its retry came due. */
  readonly dueSince?: number
}

/**
 * A change that comes while its slot is claimed (its SKU in flight) is not in that delivery's
 * figure for certain: remember when the first such change was written, so completing the
 * delivery makes the slot due as of then (completeDelivery), not as of the completion.
 */
const PENDING_SINCE = sql<number | null>`case when delivery.locked_by is not null and delivery.pending_since is null then excluded.created_at else delivery.pending_since end`

/** Point each target's slot for this SKU at the event, unless it already holds a newer one. */
export async function enqueueDeliveries(ex: Executor, targetIds: ReadonlyArray<string>, sku: string, eventSeq: number, now: number): Promise<void> {
  if (targetIds.length === 0) return
  await ex
    .insertInto('delivery')
    .values(targetIds.map((t) => ({ target_id: t, sku, event_seq: eventSeq, attempts: 0, next_attempt_at: now, locked_by: null, locked_until: null, last_error: null, last_status: null, created_at: now })))
    .onConflict((oc) =>
      oc
        .columns(['target_id', 'sku'])
        // A newer event starts with a fresh attempt count: it must not inherit the retries the
        // older one used up (and be dead-lettered after a single try).
        .doUpdateSet({ event_seq: (eb) => eb.ref('excluded.event_seq'), attempts: 0, pending_since: PENDING_SINCE })
        .where('delivery.event_seq', '<', (eb) => eb.ref('excluded.event_seq')),
    )
    .execute()
}

/**
 * Claim due slots: not leased (or the lease ran out: a crashed worker's slots come back), due now.
 * PostgreSQL skips rows other workers hold (SKIP LOCKED); SQLite has a single writer anyway.
 * `excludeTargets`: targets the caller has no room for right now (their slots stay for later).
 */
export async function claimDeliveries(ex: Executor, caps: DialectCaps, workerId: string, now: number, leaseMs: number, limit: number, excludeTargets: ReadonlyArray<string> = []): Promise<DeliverySlot[]> {
  const due = ex
    .selectFrom('delivery')
    .select(['target_id', 'sku'])
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .$if(excludeTargets.length > 0, (qb) => qb.where('target_id', 'not in', [...excludeTargets]))
    .orderBy('next_attempt_at')
    .limit(limit)
    .$if(caps.rowLocks, (qb) => qb.forUpdate().skipLocked())
    .$asTuple('target_id', 'sku')
  const rows = await ex
    .updateTable('delivery')
    .set((eb) => ({ locked_by: workerId, locked_until: now + leaseMs, attempts: eb('attempts', '+', 1), pending_since: null }))
    .where((eb) => eb(eb.refTuple('target_id', 'sku'), 'in', due))
    .returning(['target_id', 'sku', 'event_seq', 'attempts', 'created_at', 'next_attempt_at'])
    .execute()
  return rows.map((r) => ({ targetId: r.target_id, sku: r.sku, eventSeq: Number(r.event_seq), attempts: Number(r.attempts), dueSince: Math.max(Number(r.created_at), Number(r.next_attempt_at)) }))
}

/**
 * Extend the lease of slots this worker still holds (a request may outlive the lease): only rows
 * it still holds, so a slot another worker took after a lapse is not touched. Returns rows renewed.
 */
export async function renewLeases(ex: Executor, caps: DialectCaps, workerId: string, targetId: string, skus: ReadonlyArray<string>, lockedUntil: number): Promise<number> {
  let n = 0
  const chunk = Math.max(1, caps.maxParams - 10)
  for (let i = 0; i < skus.length; i += chunk) {
    const res = await ex
      .updateTable('delivery')
      .set({ locked_until: lockedUntil })
      .where('locked_by', '=', workerId)
      .where('target_id', '=', targetId)
      .where('sku', 'in', skus.slice(i, i + chunk))
      .executeTakeFirst()
    n += Number(res.numUpdatedRows)
  }
  return n
}

/** Delivered: free the slot, or, if a newer event arrived meanwhile, leave it due at once. */
export async function completeDelivery(ex: Executor, slot: DeliverySlot, workerId: string, now: number): Promise<void> {
  const del = await ex
    .deleteFrom('delivery')
    .where('target_id', '=', slot.targetId)
    .where('sku', '=', slot.sku)
    .where('event_seq', '=', slot.eventSeq)
    .where('locked_by', '=', workerId)
    .executeTakeFirst()
  if (Number(del.numDeletedRows) === 1) return
  // What waits now arrived during this delivery: it is due, and its lag counts, from when the
  // first of it was written (now, for a slot whose pending time is unknown).
  const since = sql<number>`coalesce(pending_since, ${now})`
  await ex
    .updateTable('delivery')
    .set({ locked_by: null, locked_until: null, attempts: 0, next_attempt_at: since, last_error: null, last_status: null, created_at: since, pending_since: null })
    .where('target_id', '=', slot.targetId)
    .where('sku', '=', slot.sku)
    .where('locked_by', '=', workerId)
    .execute()
}

/** Failed, to be retried at `nextAttemptAt`. */
export async function retryDelivery(ex: Executor, slot: DeliverySlot, workerId: string, nextAttemptAt: number, error: string, status: number | null): Promise<void> {
  await ex
    .updateTable('delivery')
    .set({ locked_by: null, locked_until: null, next_attempt_at: nextAttemptAt, last_error: error.slice(0, 500), last_status: status, pending_since: null })
    .where('target_id', '=', slot.targetId)
    .where('sku', '=', slot.sku)
    .where('locked_by', '=', workerId)
    .execute()
}

/**
 * The attempt was cut short by this worker stopping, not by the target: hand the slot back, due
 * at once and without charging the attempt (so a shutdown never dead-letters a delivery).
 */
export async function releaseDelivery(ex: Executor, slot: DeliverySlot, workerId: string, now: number): Promise<void> {
  await ex
    .updateTable('delivery')
    // Never below 0: a newer event may have reset the count while this attempt was in flight.
    .set((eb) => ({ locked_by: null, locked_until: null, next_attempt_at: now, pending_since: null, attempts: eb.case().when('attempts', '>', 0).then(eb('attempts', '-', 1)).else(0).end() }))
    .where('target_id', '=', slot.targetId)
    .where('sku', '=', slot.sku)
    .where('locked_by', '=', workerId)
    .execute()
}

/** Given up: record a dead letter; the slot is freed, or kept for a newer event that arrived. */
export async function deadLetterDelivery(ex: Executor, slot: DeliverySlot, workerId: string, deadLetterId: string, now: number, error: string, status: number | null): Promise<void> {
  await ex
    .insertInto('dead_letter')
    .values({ id: deadLetterId, target_id: slot.targetId, sku: slot.sku, event_seq: slot.eventSeq, attempts: slot.attempts, last_error: error.slice(0, 500), last_status: status, created_at: now, replayed_at: null })
    .execute()
  await completeDelivery(ex, slot, workerId, now)
}

export interface AttemptRecord {
  readonly targetId: string
  readonly eventId: string
  readonly sku: string
  readonly outcome: 'ok' | 'retry' | 'dead'
  readonly statusCode: number | null
  readonly error: string | null
  readonly durationMs: number
  readonly attemptedAt: number
}

export async function recordAttempts(ex: Executor, caps: DialectCaps, attempts: ReadonlyArray<AttemptRecord>): Promise<void> {
  const chunk = Math.floor(caps.maxParams / 8)
  for (let i = 0; i < attempts.length; i += chunk) {
    await ex
      .insertInto('delivery_attempt')
      .values(
        attempts.slice(i, i + chunk).map((a) => ({
          target_id: a.targetId,
          event_id: a.eventId,
          sku: a.sku,
          outcome: a.outcome,
          status_code: a.statusCode,
          error: a.error?.slice(0, 500) ?? null,
          duration_ms: Math.round(a.durationMs),
          attempted_at: a.attemptedAt,
        })),
      )
      .execute()
  }
}

export async function listAttempts(ex: Executor, targetId: string, beforeId: number | undefined, limit: number) {
  const rows = await ex
    .selectFrom('delivery_attempt')
    .selectAll()
    .where('target_id', '=', targetId)
    .$if(beforeId !== undefined, (qb) => qb.where('id', '<', beforeId as number))
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
  return rows.map((r) => ({ ...r, id: Number(r.id), attempted_at: Number(r.attempted_at) }))
}

export async function pruneAttempts(ex: Executor, cutoff: number, batch = 1000): Promise<number> {
  let total = 0
  for (;;) {
    const ids = await ex.selectFrom('delivery_attempt').select('id').where('attempted_at', '<', cutoff).orderBy('id').limit(batch).execute()
    if (ids.length === 0) return total
    const res = await ex.deleteFrom('delivery_attempt').where('id', 'in', ids.map((r) => r.id)).executeTakeFirst()
    total += Number(res.numDeletedRows)
    if (ids.length < batch) return total
  }
}

export interface DeadLetterRow {
  readonly id: string
  readonly targetId: string
  readonly sku: string
  readonly eventSeq: number
  readonly attempts: number
  readonly lastError: string | null
  readonly lastStatus: number | null
  readonly createdAt: number
  readonly replayedAt: number | null
}

function toDeadLetter(r: { id: string; target_id: string; sku: string; event_seq: number | string; attempts: number; last_error: string | null; last_status: number | null; created_at: number | string; replayed_at: number | string | null }): DeadLetterRow {
  return {
    id: r.id,
    targetId: r.target_id,
    sku: r.sku,
    eventSeq: Number(r.event_seq),
    attempts: Number(r.attempts),
    lastError: r.last_error,
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    createdAt: Number(r.created_at),
    replayedAt: r.replayed_at === null ? null : Number(r.replayed_at),
  }
}

export async function listDeadLetters(ex: Executor, f: { targetId?: string | undefined; includeReplayed?: boolean; limit: number; before?: { readonly createdAt: number; readonly id: string } | undefined }): Promise<DeadLetterRow[]> {
  const before = f.before
  const rows = await ex
    .selectFrom('dead_letter')
    .selectAll()
    .$if(f.targetId !== undefined, (qb) => qb.where('target_id', '=', f.targetId as string))
    .$if(!f.includeReplayed, (qb) => qb.where('replayed_at', 'is', null))
    .$if(before !== undefined, (qb) => qb.where((eb) => pastCursor(eb, '<', 'created_at', before!.createdAt, 'id', before!.id)))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit)
    .execute()
  return rows.map(toDeadLetter)
}

export async function findDeadLetter(ex: Executor, id: string): Promise<DeadLetterRow | undefined> {
  const r = await ex.selectFrom('dead_letter').selectAll().where('id', '=', id).executeTakeFirst()
  return r ? toDeadLetter(r) : undefined
}

export async function markDeadLetterReplayed(ex: Executor, id: string, now: number): Promise<boolean> {
  const res = await ex.updateTable('dead_letter').set({ replayed_at: now }).where('id', '=', id).where('replayed_at', 'is', null).executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

export interface DeliveryBacklog {
  readonly pending: number
  /** Creation time of the oldest change still waiting for any target (null: nothing waits). */
  readonly oldestPendingAt: number | null
}

/**
 * A slot's created_at is when its oldest undelivered change was written: newer events coalescing
 * into the slot do not move it (the event the slot points at is the newest, and would hide the lag).
 */
export async function deliveryBacklog(ex: Executor): Promise<DeliveryBacklog> {
  const r = await ex
    .selectFrom('delivery')
    .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min<number | string | null>('delivery.created_at').as('oldest')])
    .executeTakeFirstOrThrow()
  return { pending: Number(r.n), oldestPendingAt: r.oldest == null ? null : Number(r.oldest) }
}


/**
 * enqueueDeliveries for a bulk write: point many (target, SKU) slots at their newest event in
 * one statement per chunk. Callers pass each slot once, with its highest sequence number (one
 * statement may not touch a row twice through ON CONFLICT).
 */
export async function enqueueDeliverySlots(ex: Executor, caps: DialectCaps, slots: ReadonlyArray<{ readonly targetId: string; readonly sku: string; readonly eventSeq: number }>, now: number): Promise<void> {
  const chunk = Math.floor(caps.maxParams / 10)
  for (let i = 0; i < slots.length; i += chunk) {
    await ex
      .insertInto('delivery')
      .values(slots.slice(i, i + chunk).map((s) => ({ target_id: s.targetId, sku: s.sku, event_seq: s.eventSeq, attempts: 0, next_attempt_at: now, locked_by: null, locked_until: null, last_error: null, last_status: null, created_at: now })))
      .onConflict((oc) =>
        oc
          .columns(['target_id', 'sku'])
          // A newer event starts with a fresh attempt count (see enqueueDeliveries).
          .doUpdateSet({ event_seq: (eb) => eb.ref('excluded.event_seq'), attempts: 0, pending_since: PENDING_SINCE })
          .where('delivery.event_seq', '<', (eb) => eb.ref('excluded.event_seq')),
      )
      .execute()
  }
}

/**
 * Make a target's waiting retries due now (its store answers again after an outage): slots not
 * held by a worker whose next attempt lies ahead. Attempts already made still count. Returns how many.
 */
export async function expediteTarget(ex: Executor, targetId: string, now: number): Promise<number> {
  const res = await ex.updateTable('delivery').set({ next_attempt_at: now }).where('target_id', '=', targetId).where('next_attempt_at', '>', now).where('locked_by', 'is', null).executeTakeFirst()
  return Number(res.numUpdatedRows)
}
