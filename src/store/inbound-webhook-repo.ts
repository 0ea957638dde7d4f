/** @module store/inbound-webhook-repo: verified provider webhooks as received, for audit and later mapping. */
import type { Executor } from './db.js'

export interface NewInboundWebhook {
  readonly id: string
  readonly provider: string
  readonly eventType: string | null
  readonly status: 'processed' | 'rejected'
  readonly body: string
  readonly outcome: string | null
  readonly receivedAt: number
}

export async function insertInboundWebhook(ex: Executor, w: NewInboundWebhook): Promise<void> {
  await ex
    .insertInto('inbound_webhook')
    .values({ id: w.id, provider: w.provider, event_type: w.eventType, status: w.status, body: w.body, outcome: w.outcome, received_at: w.receivedAt })
    .execute()
}

export async function listInboundWebhooks(ex: Executor, provider: string, limit = 100) {
  return ex.selectFrom('inbound_webhook').selectAll().where('provider', '=', provider).orderBy('seq', 'desc').limit(limit).execute()
}
