/**
 * @module service/movement-metrics: `stockbridge_movements_total` (and oversell refusals) for every
 * path that moves stock (#15): single updates, bulk syncs (and the CSV counts, pulls and jobs that
 * go through them), reservations and their commits, releases and expiries, transfers, provider
 * deliveries. Counted after the transaction committed (a retried or rolled-back transaction
 * counts nothing), with the ledger's change type and the outcome: applied (a count equal to the
 * figure included, as for a single update), stale (a count older than the level's), refused
 * (not enough stock). Other refusals (unknown SKU, bad input) are not movements and not counted.
 */
import { DomainError } from '../domain/errors.js'
import { LEDGER_CHANGE_TYPES } from '../domain/movement.js'
import { movementsTotal, oversellRefusalsTotal } from '../observability/metrics.js'
import type { Replayable } from './idempotency.js'

export type MovementOutcome = 'applied' | 'stale' | 'refused'

const KNOWN = new Set<string>(LEDGER_CHANGE_TYPES)

/** Count `n` movements; a change type outside the ledger's (a provider's free text) is never a label. */
export function countMovements(changeType: string | null, outcome: MovementOutcome, n = 1): void {
  if (n <= 0 || changeType === null || !KNOWN.has(changeType)) return
  movementsTotal.inc({ change_type: changeType, outcome }, n)
}

/** An error a movement failed with: counted when it is a refusal for insufficient stock. */
export function countRefusal(changeType: string, e: unknown): void {
  if (e instanceof DomainError && e.code === 'insufficient_stock') {
    countMovements(changeType, 'refused')
    oversellRefusalsTotal.inc()
  }
}

/**
 * Run one movement (or a reservation's, a transfer's lines) and count it once its transaction has
 * committed: a refusal for insufficient stock, or what `counted` says of a first answer (a replay
 * moved nothing and counts nothing).
 */
export async function countedMovement<T>(changeType: string, run: () => Promise<Replayable<T>>, counted: (value: T) => { readonly outcome: MovementOutcome; readonly n: number }): Promise<Replayable<T>> {
  let done: Replayable<T>
  try {
    done = await run()
  } catch (e) {
    countRefusal(changeType, e)
    throw e
  }
  if (!done.replayed) {
    const c = counted(done.value)
    countMovements(changeType, c.outcome, c.n)
  }
  return done
}

/** Per-item outcomes of a batch (bulk sync items, provider items). */
export function countItemOutcomes<T extends { readonly status: string; readonly code?: string }>(items: Iterable<T>, changeTypeOf: (item: T) => string | null): void {
  const tally = new Map<string, number>()
  for (const item of items) {
    const changeType = changeTypeOf(item)
    let outcome: MovementOutcome | null = null
    if (item.status === 'applied' || item.status === 'unchanged') outcome = 'applied'
    else if (item.status === 'stale') outcome = 'stale'
    else if ((item.status === 'refused' || item.status === 'rejected') && item.code === 'insufficient_stock') {
      outcome = 'refused'
      oversellRefusalsTotal.inc()
    }
    if (outcome === null || changeType === null) continue
    const k = `${changeType}\u0000${outcome}`
    tally.set(k, (tally.get(k) ?? 0) + 1)
  }
  for (const [k, n] of tally) {
    const [changeType, outcome] = k.split('\u0000') as [string, MovementOutcome]
    countMovements(changeType, outcome, n)
  }
}
