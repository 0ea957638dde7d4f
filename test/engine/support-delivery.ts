/** Shared set-up of the delivery suites: a store, an injected clock, the app, and a worker per test. */
import type { DeliveryWorker } from '../../src/sync/worker.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import type { TestStore } from '../support/databases.js'

export interface DeliveryRow {
  readonly targetId: string
  readonly sku: string
  readonly eventSeq: number
  readonly attempts: number
  readonly nextAttemptAt: number
  readonly lockedBy: string | null
  readonly lockedUntil: number | null
  readonly lastError: string | null
  readonly lastStatus: number | null
}

export async function deliveryRows(ts: TestStore, targetId: string): Promise<DeliveryRow[]> {
  const rows = await ts.store.db.selectFrom('delivery').selectAll().where('target_id', '=', targetId).orderBy('sku').execute()
  return rows.map((r) => ({
    targetId: r.target_id,
    sku: r.sku,
    eventSeq: Number(r.event_seq),
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    lockedBy: r.locked_by,
    lockedUntil: r.locked_until === null ? null : Number(r.locked_until),
    lastError: r.last_error,
    lastStatus: r.last_status === null ? null : Number(r.last_status),
  }))
}

export async function attemptRows(ts: TestStore, targetId: string) {
  const rows = await ts.store.db.selectFrom('delivery_attempt').selectAll().where('target_id', '=', targetId).orderBy('id').execute()
  return rows.map((r) => ({ eventId: r.event_id, sku: r.sku, outcome: r.outcome, statusCode: r.status_code === null ? null : Number(r.status_code), error: r.error, attemptedAt: Number(r.attempted_at) }))
}

export async function deadLetterRows(ts: TestStore, targetId: string) {
  const rows = await ts.store.db.selectFrom('dead_letter').selectAll().where('target_id', '=', targetId).orderBy('created_at').orderBy('id').execute()
  return rows.map((r) => ({ id: r.id, sku: r.sku, eventSeq: Number(r.event_seq), attempts: Number(r.attempts), lastStatus: r.last_status === null ? null : Number(r.last_status), lastError: r.last_error, replayedAt: r.replayed_at === null ? null : Number(r.replayed_at) }))
}

export async function latestSeq(ts: TestStore, sku: string): Promise<number> {
  const r = await ts.store.db.selectFrom('outbox_event').select('seq').where('sku', '=', sku).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()
  return Number(r.seq)
}

/** Run the worker until a round handles nothing (every due slot was tried once more). */
export async function drain(worker: DeliveryWorker, maxRounds = 1000): Promise<number> {
  let total = 0
  for (let i = 0; i < maxRounds; i++) {
    const n = await worker.runOnce()
    if (n === 0) return total
    total += n
  }
  throw new Error(`the worker still had work after ${maxRounds} rounds`)
}

export type { ServiceDeps }
