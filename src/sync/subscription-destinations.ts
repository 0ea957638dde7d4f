/** @module sync/subscription-destinations: resolving a subscription id to its webhook destination. */
import type { Executor } from '../store/db.js'
import { findSubscription } from '../store/subscription-repo.js'
import type { DestinationResolver } from './destination.js'
import { webhookDestination } from './webhook-destination.js'

/** Subscriptions change rarely; a short cache spares a query per delivery round. */
export function subscriptionResolver(db: Executor, timeoutMs: number, cacheMs = 2000): DestinationResolver {
  const cache = new Map<string, { at: number; dest: ReturnType<typeof webhookDestination> | undefined }>()
  return async (targetId) => {
    const hit = cache.get(targetId)
    if (hit && Date.now() - hit.at < cacheMs) return hit.dest
    const s = await findSubscription(db, targetId)
    const dest = s && s.isActive ? webhookDestination({ url: s.url, secret: s.secret, timeoutMs }) : undefined
    cache.set(targetId, { at: Date.now(), dest })
    return dest
  }
}
