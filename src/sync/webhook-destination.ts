/** @module sync/webhook-destination: signed JSON POSTs to a subscriber's URL, one per event. */
import { eventEnvelope, type OutboxEvent } from '../domain/events.js'
import { SIGNATURE_HEADER, signWebhook } from '../security/webhook-signature.js'
import { classifyError, classifyResponse, type DeliveryOutcome } from './classify.js'
import type { Destination } from './destination.js'

export interface WebhookOptions {
  readonly url: string
  readonly secret: string
  readonly timeoutMs: number
  /** Events of different SKUs go out in parallel up to this many at once. */
  readonly concurrency?: number
}

export function webhookDestination(o: WebhookOptions): Destination {
  async function post(e: OutboxEvent, signal: AbortSignal): Promise<DeliveryOutcome> {
    const body = JSON.stringify(eventEnvelope(e))
    const t = Math.floor(Date.now() / 1000)
    try {
      const res = await fetch(o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'stockbridge-webhooks/1',
          [SIGNATURE_HEADER]: signWebhook(o.secret, t, body),
          'X-Stockbridge-Event-Id': e.id,
          'X-Stockbridge-Event-Type': e.type,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
      })
      // Drain the body so the connection returns to the pool.
      await res.arrayBuffer().catch(() => undefined)
      return classifyResponse(res.status, res.headers.get('retry-after'), Date.now())
    } catch (err) {
      return classifyError(err)
    }
  }
  const concurrency = Math.max(1, o.concurrency ?? 8)
  return {
    // One POST per event: a slow answer holds back only its own SKU, up to `concurrency` at once.
    limits: () => ({ concurrency, maxBatch: 1, minBatch: 1 }),
    async deliver(events, signal) {
      const out: DeliveryOutcome[] = new Array(events.length)
      let next = 0
      const lanes = Array.from({ length: Math.min(concurrency, events.length) }, async () => {
        while (next < events.length) {
          const i = next++
          out[i] = await post(events[i]!, signal)
        }
      })
      await Promise.all(lanes)
      return out
    },
  }
}
