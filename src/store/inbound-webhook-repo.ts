/** @module store/inbound-webhook-repo: verified provider webhooks as received, for audit and later mapping. */
import type { Executor } from './db.js'

export interface NewInboundWebhook {
  readonly id: string
  readonly provider: string
  readonly eventType: string | null
  /** `accepted`: verified but not yet mapped; only databases from before providers were mapped on receipt hold these. */
  readonly status: 'processed' | 'rejected' | 'accepted'
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

/**
 * Forget received provider webhooks older than the cutoff, in batches. `accepted` ones (verified,
 * their mapping still to do) stay until they are processed or rejected: they are work, not log.
 */
export async function pruneInboundWebhooks(ex: Executor, cutoff: number, batch = 1000): Promise<number> {
  let total = 0
  for (;;) {
    const rows = await ex.selectFrom('inbound_webhook').select('seq').where('received_at', '<', cutoff).where('status', '!=', 'accepted').orderBy('seq').limit(batch).execute()
    if (rows.length === 0) return total
    const res = await ex.deleteFrom('inbound_webhook').where('seq', 'in', rows.map((r) => r.seq)).executeTakeFirst()
    total += Number(res.numDeletedRows)
    if (rows.length < batch) return total
  }
}
