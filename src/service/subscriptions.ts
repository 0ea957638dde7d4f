/** @module service/subscriptions: outbound webhook subscriptions, their delivery log and dead letters. */
import { DomainError, invalid } from '../domain/errors.js'
import { undeliverableReason } from '../domain/delivery-url.js'
import { EVENT_TYPES, eventEnvelope, type EventType, type OutboxEvent } from '../domain/events.js'
import { generateWebhookSecret } from '../security/webhook-signature.js'
import * as deliveries from '../store/delivery-repo.js'
import { findEventsBySeq, findLatestEventForSku } from '../store/outbox-repo.js'
import * as repo from '../store/subscription-repo.js'
import type { Executor } from '../store/db.js'
import { findStore } from '../store/woo-repo.js'
import type { ServiceDeps } from './deps.js'
import { inTransaction } from './transaction.js'

export interface NewSubscription {
  readonly url: string
  readonly events?: ReadonlyArray<string> | undefined
  readonly skus?: ReadonlyArray<string> | undefined
  readonly warehouses?: ReadonlyArray<number> | undefined
}

export async function createSubscription(deps: ServiceDeps, input: NewSubscription): Promise<repo.Subscription> {
  let url: URL
  try {
    url = new URL(input.url)
  } catch {
    throw invalid('/url', 'must be an absolute URL')
  }
  const never = undeliverableReason(url)
  if (never) throw invalid('/url', never)
  if (url.username || url.password) throw invalid('/url', 'must not carry credentials; deliveries are signed instead')
  const events = input.events ?? [...EVENT_TYPES]
  const unknown = events.find((e) => !(EVENT_TYPES as ReadonlyArray<string>).includes(e))
  if (unknown !== undefined) throw invalid('/events', `unknown event type "${unknown.slice(0, 40)}"; known: ${EVENT_TYPES.join(', ')}`)
  const sub: repo.Subscription = {
    id: deps.ids.next('sub'),
    url: url.toString(),
    secret: generateWebhookSecret(),
    events: [...new Set(events)] as EventType[],
    skus: input.skus?.length ? [...new Set(input.skus)] : null,
    warehouses: input.warehouses?.length ? [...new Set(input.warehouses)] : null,
    isActive: true,
    createdAt: deps.clock.now(),
  }
  await repo.insertSubscription(deps.store.db, sub)
  deps.events.invalidateTargets()
  return sub
}

export function listSubscriptions(deps: ServiceDeps): Promise<repo.Subscription[]> {
  return repo.listSubscriptions(deps.store.db)
}

export async function getSubscription(deps: ServiceDeps, id: string): Promise<repo.Subscription> {
  const s = await repo.findSubscription(deps.store.db, id)
  if (!s) throw new DomainError('subscription_not_found', `No subscription has id ${id}`, { subscription_id: id })
  return s
}

export async function deleteSubscription(deps: ServiceDeps, id: string): Promise<void> {
  const gone = await inTransaction(deps, (trx) => repo.deleteSubscription(trx, id))
  deps.events.invalidateTargets()
  if (!gone) throw new DomainError('subscription_not_found', `No subscription has id ${id}`, { subscription_id: id })
}

export async function listDeliveryAttempts(deps: ServiceDeps, targetId: string, beforeId: number | undefined, limit: number) {
  return deliveries.listAttempts(deps.store.db, targetId, beforeId, limit)
}

export function listDeadLetters(deps: ServiceDeps, f: { targetId?: string | undefined; includeReplayed?: boolean; limit: number }) {
  return deliveries.listDeadLetters(deps.store.db, f)
}

export interface DeadLetterDetail extends deliveries.DeadLetterRow {
  readonly event: ReturnType<typeof eventEnvelope> | null
}

export async function getDeadLetter(deps: ServiceDeps, id: string): Promise<DeadLetterDetail> {
  const dl = await deliveries.findDeadLetter(deps.store.db, id)
  if (!dl) throw new DomainError('dead_letter_not_found', `No dead letter has id ${id}`, { dead_letter_id: id })
  const ev: OutboxEvent | undefined = (await findEventsBySeq(deps.store.db, [dl.eventSeq])).get(dl.eventSeq)
  return { ...dl, event: ev ? eventEnvelope(ev) : null }
}

/** Whether a delivery target still exists: a subscription (`sub_…`) or a WooCommerce store (`sto_…`). */
async function targetExists(ex: Executor, targetId: string): Promise<boolean> {
  if (targetId.startsWith('sto_')) return (await findStore(ex, targetId)) !== undefined
  return (await repo.findSubscription(ex, targetId)) !== undefined
}

/**
 * Send a dead letter again. What is sent is the SKU's newest event, not necessarily the one that
 * failed: a consumer must never get an older figure after a newer one.
 */
export async function replayDeadLetter(deps: ServiceDeps, id: string): Promise<{ eventSeq: number }> {
  const result = await inTransaction(deps, async (trx) => {
    const dl = await deliveries.findDeadLetter(trx, id)
    if (!dl) throw new DomainError('dead_letter_not_found', `No dead letter has id ${id}`, { dead_letter_id: id })
    // A target that is gone would take the replay and drop it: refuse instead of answering 202.
    if (!(await targetExists(trx, dl.targetId))) {
      throw new DomainError('dead_letter_target_gone', `Dead letter ${id} was for ${dl.targetId}, which no longer exists; nothing can deliver it`, { dead_letter_id: id, target_id: dl.targetId })
    }
    if (!(await deliveries.markDeadLetterReplayed(trx, id, deps.clock.now()))) {
      throw new DomainError('dead_letter_replayed', `Dead letter ${id} was already replayed`, { dead_letter_id: id })
    }
    const latest = await findLatestEventForSku(trx, dl.sku)
    const seq = Math.max(dl.eventSeq, latest?.seq ?? 0)
    await deliveries.enqueueDeliveries(trx, [dl.targetId], dl.sku, seq, deps.clock.now())
    deps.events.expect('deliveries')
    return { eventSeq: seq }
  })
  deps.events.notify()
  return result
}
