/** @module store/subscription-repo: outbound webhook subscriptions (ERPs, marketplaces, BI). */
import type { EventType } from '../domain/events.js'
import type { Executor } from './db.js'
import { pastCursor } from './keyset.js'

export interface Subscription {
  readonly id: string
  readonly url: string
  readonly secret: string
  readonly events: ReadonlyArray<EventType>
  readonly skus: ReadonlyArray<string> | null
  readonly warehouses: ReadonlyArray<number> | null
  readonly isActive: boolean
  readonly createdAt: number
}

function toSubscription(r: { id: string; url: string; secret: string; events: string; skus: string | null; warehouses: string | null; is_active: number; created_at: number | string }): Subscription {
  return {
    id: r.id,
    url: r.url,
    secret: r.secret,
    events: JSON.parse(r.events) as EventType[],
    skus: r.skus === null ? null : (JSON.parse(r.skus) as string[]),
    warehouses: r.warehouses === null ? null : (JSON.parse(r.warehouses) as number[]),
    isActive: Number(r.is_active) === 1,
    createdAt: Number(r.created_at),
  }
}

export async function insertSubscription(ex: Executor, s: Subscription): Promise<void> {
  await ex
    .insertInto('subscription')
    .values({
      id: s.id,
      url: s.url,
      secret: s.secret,
      events: JSON.stringify(s.events),
      skus: s.skus === null ? null : JSON.stringify(s.skus),
      warehouses: s.warehouses === null ? null : JSON.stringify(s.warehouses),
      is_active: s.isActive ? 1 : 0,
      created_at: s.createdAt,
    })
    .execute()
}

export async function listSubscriptions(ex: Executor): Promise<Subscription[]> {
  return (await ex.selectFrom('subscription').selectAll().orderBy('created_at').orderBy('id').execute()).map(toSubscription)
}

/** One page oldest first, after the (created_at, id) key `after` (#12). */
export async function listSubscriptionPage(ex: Executor, take: number, after?: { readonly createdAt: number; readonly id: string }): Promise<Subscription[]> {
  const rows = await ex
    .selectFrom('subscription')
    .selectAll()
    .$if(after !== undefined, (qb) => qb.where((eb) => pastCursor(eb, '>', 'created_at', after!.createdAt, 'id', after!.id)))
    .orderBy('created_at')
    .orderBy('id')
    .limit(take)
    .execute()
  return rows.map(toSubscription)
}

export async function findSubscription(ex: Executor, id: string): Promise<Subscription | undefined> {
  const r = await ex.selectFrom('subscription').selectAll().where('id', '=', id).executeTakeFirst()
  return r ? toSubscription(r) : undefined
}

/** Remove a subscription and anything still waiting to be delivered to it. */
export async function deleteSubscription(ex: Executor, id: string): Promise<boolean> {
  await ex.deleteFrom('delivery').where('target_id', '=', id).execute()
  const res = await ex.deleteFrom('subscription').where('id', '=', id).executeTakeFirst()
  return Number(res.numDeletedRows) === 1
}
