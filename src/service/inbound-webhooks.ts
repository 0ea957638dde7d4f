/**
 * @module service/inbound-webhooks: the record of verified provider deliveries (#5, #14). Every
 * delivery whose signature checked out is kept with what came of it (processed, or rejected with
 * the code); what a delivery does to stock is service/providers.ts.
 */
import { insertInboundWebhook, type NewInboundWebhook } from '../store/inbound-webhook-repo.js'
import type { ServiceDeps } from './deps.js'
import { inboundWebhooksTotal } from '../observability/metrics.js'

export type InboundStatus = NewInboundWebhook['status']

/** Record a verified delivery; returns its id (`whk_…`). */
export async function recordInboundWebhook(deps: ServiceDeps, provider: string, eventType: string | null, status: InboundStatus, body: string, outcome: unknown): Promise<string> {
  const id = deps.ids.next('whk')
  await insertInboundWebhook(deps.store.db, {
    id,
    provider,
    eventType,
    status,
    body,
    outcome: outcome === undefined ? null : JSON.stringify(outcome).slice(0, 10_000),
    receivedAt: deps.clock.now(),
  })
  // Only verified deliveries get here, so the provider is one configured (a bounded label).
  inboundWebhooksTotal.inc({ provider: provider.slice(0, 40), result: status })
  return id
}
