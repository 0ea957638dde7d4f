/**
 * @module connectors/alert-channels/send: putting a message on the wire for each channel kind (#15):
 * SMTP (nodemailer, plain text + HTML), Slack-compatible incoming webhooks (Block Kit JSON), and
 * generic webhooks signed like subscriptions (X-Stockbridge-Signature).
 */
import nodemailer from 'nodemailer'
import { SIGNATURE_HEADER, signWebhook } from '../../security/webhook-signature.js'
import type { AlertView } from '../../service/alerts.js'
import { classifyError, classifyResponse, type DeliveryOutcome } from '../../sync/classify.js'
import type { ChannelKind, EmailConfig, SlackConfig, WebhookConfig } from '../../service/alert-channels.js'
import type { ChannelRow } from '../../store/alert-repo.js'
import { messageOf, slackPayloadOf } from './message.js'

export interface Batch {
  readonly alerts: ReadonlyArray<AlertView>
  /** Alerts left out of a long digest (counted, not listed). */
  readonly more: number
  readonly digest: boolean
}

/**
 * SMTP answers: 4xx is a temporary refusal (retry), 5xx a permanent one (bad address, auth
 * refused: retrying cannot help). No answer at all (connection refused, timeout, TLS) retries.
 */
export function classifySmtpError(e: unknown): DeliveryOutcome {
  const code = (e as { responseCode?: unknown }).responseCode
  const msg = e instanceof Error ? e.message.slice(0, 300) : String(e).slice(0, 300)
  if (typeof code === 'number' && code >= 500 && code < 600) return { kind: 'permanent', status: code, error: `SMTP ${code}: ${msg}` }
  if (typeof code === 'number') return { kind: 'retry', status: code, error: `SMTP ${code}: ${msg}`, retryAfterMs: 0 }
  return classifyError(e)
}

export async function sendEmail(c: EmailConfig, b: Batch, timeoutMs: number): Promise<DeliveryOutcome> {
  const m = messageOf(b.alerts, b.more, b.digest)
  const transport = nodemailer.createTransport({
    host: c.host,
    port: c.port,
    secure: c.tls === 'implicit',
    requireTLS: c.tls === 'starttls',
    ignoreTLS: c.tls === 'none',
    ...(c.username ? { auth: { user: c.username, pass: c.password ?? '' } } : {}),
    tls: { rejectUnauthorized: c.verify_tls !== false },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  })
  try {
    const info = await transport.sendMail({ from: c.from, to: c.to.join(', '), subject: m.subject, text: m.text, html: m.html })
    if (info.rejected.length > 0 && info.accepted.length === 0) return { kind: 'permanent', status: 550, error: `every recipient refused: ${info.rejected.join(', ').slice(0, 200)}` }
    return { kind: 'ok', status: 250 }
  } catch (e) {
    return classifySmtpError(e)
  } finally {
    transport.close()
  }
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<DeliveryOutcome> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'stockbridge-alerts/1', ...headers },
      body,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
    })
    await res.arrayBuffer().catch(() => undefined)
    return classifyResponse(res.status, res.headers.get('retry-after'), Date.now())
  } catch (e) {
    return classifyError(e)
  }
}

export function sendSlack(c: SlackConfig, b: Batch, timeoutMs: number, signal?: AbortSignal): Promise<DeliveryOutcome> {
  return post(c.url, JSON.stringify(slackPayloadOf(b.alerts, b.more, b.digest)), {}, timeoutMs, signal)
}

/** The body a generic webhook receives: `alert.raised` (one alert) or `alert.digest` (a window's alerts). */
export function webhookBodyOf(b: Batch, id: string): string {
  if (!b.digest && b.alerts.length === 1) return JSON.stringify({ id, type: 'alert.raised', created_at: new Date().toISOString(), data: b.alerts[0] })
  return JSON.stringify({ id, type: 'alert.digest', created_at: new Date().toISOString(), data: { alerts: b.alerts, more: b.more } })
}

export function sendWebhook(c: WebhookConfig, b: Batch, id: string, timeoutMs: number, signal?: AbortSignal): Promise<DeliveryOutcome> {
  const body = webhookBodyOf(b, id)
  const t = Math.floor(Date.now() / 1000)
  return post(c.url, body, { [SIGNATURE_HEADER]: signWebhook(c.secret, t, body), 'X-Stockbridge-Event-Id': id, 'X-Stockbridge-Event-Type': b.digest ? 'alert.digest' : 'alert.raised' }, timeoutMs, signal)
}

/** One message to one stored channel, by its kind. */
export async function sendToChannel(c: ChannelRow, batch: Batch, id: string, timeoutMs: number, signal?: AbortSignal): Promise<DeliveryOutcome> {
  // A sealed secret this node cannot open (KEY_ENCRYPTION_KEY unset or changed): nothing is sent,
  // and the delivery retries, so setting the right key lets it through.
  if (c.sealError) return { kind: 'retry', status: null, error: c.sealError, retryAfterMs: 0 }
  switch (c.kind as ChannelKind) {
    case 'email':
      return sendEmail(c.config as unknown as EmailConfig, batch, timeoutMs)
    case 'slack':
      return sendSlack(c.config as unknown as SlackConfig, batch, timeoutMs, signal)
    case 'webhook':
      return sendWebhook(c.config as unknown as WebhookConfig, batch, id, timeoutMs, signal)
  }
}
