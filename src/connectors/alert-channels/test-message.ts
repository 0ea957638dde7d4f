/**
 * @module connectors/alert-channels/test-message: `alerts channels test NAME` and the UI's "Send
 * test": one marked test alert sent through the channel now, not through the queue, so the person
 * asking sees the channel's own answer.
 */
import { alertsSentTotal } from '../../observability/metrics.js'
import { getChannel, testAlertFor } from '../../service/alert-channels.js'
import type { ServiceDeps } from '../../service/deps.js'
import { sendToChannel } from './send.js'

export interface TestResult {
  readonly ok: boolean
  readonly status: number | null
  readonly detail: string
}

export async function testChannel(deps: ServiceDeps, idOrName: string, timeoutMs = 10_000): Promise<TestResult> {
  const c = await getChannel(deps, idOrName)
  const alert = testAlertFor(deps, c.name)
  const outcome = await sendToChannel(c, { alerts: [alert], more: 0, digest: false }, alert.id, timeoutMs)
  alertsSentTotal.inc({ channel_kind: c.kind, delivery: 'test', result: outcome.kind === 'ok' ? 'ok' : 'failed' })
  return outcome.kind === 'ok' ? { ok: true, status: outcome.status, detail: 'accepted' } : { ok: false, status: outcome.status, detail: outcome.error }
}
