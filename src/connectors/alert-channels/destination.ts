/**
 * @module connectors/alert-channels/destination: alert channels as delivery targets (`ach_…`), so
 * alert messages ride the same outbox, retries, backoff and dead letters as every other delivery.
 * An immediate channel gets one delivery per alert; a digest channel one per window, listing the
 * alerts raised since its last digest.
 */
import type { OutboxEvent } from '../../domain/events.js'
import { alertsSentTotal } from '../../observability/metrics.js'
import { alertView, channelWants, type AlertView } from '../../service/alerts.js'
import { sendToChannel } from './send.js'
import type { ServiceDeps } from '../../service/deps.js'
import { alertsBetween, findChannel, markDigestSent } from '../../store/alert-repo.js'
import type { DeliveryOutcome } from '../../sync/classify.js'
import type { Destination, DestinationResolver } from '../../sync/destination.js'
import { DIGEST_LIST_LIMIT } from './message.js'

export function alertChannelResolver(deps: ServiceDeps, timeoutMs: number, fallback: DestinationResolver): DestinationResolver {
  return async (targetId) => {
    if (!targetId.startsWith('ach_')) return fallback(targetId)
    const c = await findChannel(deps.store.db, targetId)
    if (!c || !c.isActive) return undefined
    const dest: Destination = {
      // Mail servers and chat hooks are slow and rate-limited: one message at a time per channel.
      limits: () => ({ concurrency: 1, maxBatch: 1, minBatch: 1 }),
      async deliver(events: ReadonlyArray<OutboxEvent>, signal: AbortSignal): Promise<DeliveryOutcome[]> {
        const out: DeliveryOutcome[] = []
        for (const e of events) {
          let outcome: DeliveryOutcome
          const digest = c.mode === 'digest'
          if (!digest) {
            outcome = await sendToChannel(c, { alerts: [e.data as unknown as AlertView], more: 0, digest: false }, e.id, timeoutMs, signal)
          } else {
            // Everything raised since the last digest up to this slot's event, in the order raised.
            const rows = (await alertsBetween(deps.store.db, c.digestThroughSeq, e.seq, 100_000)).filter((a) => channelWants(c, a.kind, a.scope))
            const listed = rows.slice(0, DIGEST_LIST_LIMIT).map(alertView)
            outcome = rows.length === 0 ? { kind: 'ok', status: 0 } : await sendToChannel(c, { alerts: listed, more: rows.length - listed.length, digest: true }, e.id, timeoutMs, signal)
            if (outcome.kind === 'ok') await markDigestSent(deps.store.db, c.id, e.seq)
          }
          alertsSentTotal.inc({ channel_kind: c.kind, delivery: digest ? 'digest' : 'immediate', result: outcome.kind === 'ok' ? 'ok' : 'failed' })
          out.push(outcome)
        }
        return out
      },
    }
    return dest
  }
}
