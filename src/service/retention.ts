/** @module service/retention: pruning what is old and no longer needed (the seed's cleanup_old_data). */
import { pruneClosedAlerts, pruneSettledWatchStates } from '../store/alert-repo.js'
import { pruneAttempts } from '../store/delivery-repo.js'
import { deleteIdempotencyRecordsBefore } from '../store/idempotency-repo.js'
import { pruneInboundWebhooks } from '../store/inbound-webhook-repo.js'
import { pruneOutbox } from '../store/outbox-repo.js'
import { pruneWebhookDeliveries } from '../store/woo-repo.js'
import type { ServiceDeps } from './deps.js'

export interface RetentionPolicy {
  /**
   * Delivered events older than this are removed (events still waiting for a target stay), and
   * alert watch states that settled at ok this long ago.
   */
  readonly eventsDays: number
  /** Outbound delivery attempts, received provider webhooks (inbound_webhook), processed WooCommerce webhook deliveries and closed alerts are kept this long. */
  readonly deliveryLogDays: number
  readonly idempotencyDays: number
}

export interface PruneReport {
  readonly events: number
  readonly attempts: number
  readonly inboundWebhooks: number
  readonly storeWebhookDeliveries: number
  readonly idempotencyRecords: number
  readonly closedAlerts: number
  readonly alertStates: number
}

const DAY = 24 * 60 * 60 * 1000

/** Batched deletes, each its own short statement, so the hot tables are never locked for long. The ledger is never pruned here. */
export async function pruneOldRecords(deps: ServiceDeps, p: RetentionPolicy): Promise<PruneReport> {
  const now = deps.clock.now()
  const db = deps.store.db
  return {
    events: await pruneOutbox(db, now - p.eventsDays * DAY),
    attempts: await pruneAttempts(db, now - p.deliveryLogDays * DAY),
    inboundWebhooks: await pruneInboundWebhooks(db, now - p.deliveryLogDays * DAY),
    storeWebhookDeliveries: await pruneWebhookDeliveries(db, now - p.deliveryLogDays * DAY),
    idempotencyRecords: await deleteIdempotencyRecordsBefore(db, now - p.idempotencyDays * DAY),
    closedAlerts: await pruneClosedAlerts(db, now - p.deliveryLogDays * DAY),
    alertStates: await pruneSettledWatchStates(db, now - p.eventsDays * DAY),
  }
}
