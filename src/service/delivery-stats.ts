/** @module service/delivery-stats: how far behind deliveries are (outbox lag). */
import { deliveryBacklog, type DeliveryBacklog } from '../store/delivery-repo.js'
import type { ServiceDeps } from './deps.js'

export function deliveryBacklogOf(deps: ServiceDeps): Promise<DeliveryBacklog> {
  return deliveryBacklog(deps.store.db)
}
