/** @module service/subscriptions: outbound webhook subscriptions, their delivery log and dead letters. */
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page, type PageParams } from './paging.js'
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

/** Subscriptions oldest first, one page at a time (#12). */
export function listSubscriptionPage(deps: ServiceDeps, p: PageParams = {}): Promise<Page<repo.Subscription>> {
  const key = p.cursor === undefined ? undefined : decodeCursor(p.cursor, ['number', 'string'])
  const after = key ? { createdAt: key[0] as number, id: key[1] as string } : undefined
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listSubscriptionPage(deps.store.db, take, after), (s) => [s.createdAt, s.id])
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

/**
 * A target's delivery attempts newest first, one page at a time (#12). `before` (an attempt id)
 * is the older way to page and still works when no cursor is given.
 */
export function listDeliveryAttemptPage(deps: ServiceDeps, targetId: string, p: PageParams & { before?: number | undefined }) {
  const beforeId = p.cursor === undefined ? p.before : (decodeCursor(p.cursor, ['number'])[0] as number)
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => deliveries.listAttempts(deps.store.db, targetId, beforeId, take), (a) => [a.id])
}

/** Dead letters newest first, one page at a time (#12). */
export function listDeadLetters(deps: ServiceDeps, f: { targetId?: string | undefined; includeReplayed?: boolean } & PageParams): Promise<Page<deliveries.DeadLetterRow>> {
  const key = f.cursor === undefined ? undefined : decodeCursor(f.cursor, ['number', 'string'])
  const before = key ? { createdAt: key[0] as number, id: key[1] as string } : undefined
  return pageOf(f.limit ?? DEFAULT_PAGE_LIMIT, (take) => deliveries.listDeadLetters(deps.store.db, { targetId: f.targetId, includeReplayed: f.includeReplayed ?? false, limit: take, before }), (d) => [d.createdAt, d.id])
}

export type DeadLetterRow = deliveries.DeadLetterRow

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
