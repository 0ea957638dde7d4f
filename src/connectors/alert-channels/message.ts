/** @module connectors/alert-channels/message: how alerts read in a mail, a chat message or a webhook body (#15). */
import type { AlertView } from '../../service/alerts.js'

const TITLES: Record<string, string> = {
  low_stock: 'Low stock',
  out_of_stock: 'Out of stock',
  back_in_stock: 'Back in stock',
  store_unhealthy: 'Store unhealthy',
  store_unreachable: 'Store unreachable',
  dead_letters: 'Deliveries dead-lettered',
  outbox_lag: 'Deliveries lagging',
  warehouse_pull_failing: 'Warehouse pull failing',
  provider_mapping_failures: 'Provider mapping failures',
}

/** The most a digest lists one by one; the rest are counted (a mail or chat message must stay readable and small). */
export const DIGEST_LIST_LIMIT = 200

export function titleOf(a: AlertView): string {
  return TITLES[a.kind] ?? a.kind
}

/** One line, e.g. "Low stock: TEE-M in warehouse 2: 3 available (threshold 5)". ASCII, so mail subjects stay unencoded. */
export function lineOf(a: AlertView): string {
  if (a.scope === 'operational') return `${titleOf(a)}: ${a.subject ?? ''}${a.detail ? ` - ${a.detail}` : ''}`
  const where = a.scope === 'level' ? ` in warehouse ${a.warehouse_id}` : ' (all warehouses)'
  return `${titleOf(a)}: ${a.sku}${where}: ${a.available} available (threshold ${a.threshold})`
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
/** Slack mrkdwn escaping: only &, < and > are special. */
const slackEsc = (s: string) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!)

export interface Message {
  readonly subject: string
  readonly text: string
  readonly html: string
}

export function messageOf(alerts: ReadonlyArray<AlertView>, more: number, digest: boolean): Message {
  const total = alerts.length + more
  const subject = digest || alerts.length !== 1 ? `[stockbridge] ${total} alert${total === 1 ? '' : 's'}` : `[stockbridge] ${lineOf(alerts[0]!)}`
  const lines = alerts.map((a) => `- ${lineOf(a)} (${a.raised_at}, ${a.id})`)
  if (more > 0) lines.push(`- … and ${more} more (GET /inventory/v1/alerts)`)
  const text = `${digest ? `Alerts raised in this digest window: ${total}\n\n` : ''}${lines.join('\n')}\n`
  const items = alerts.map((a) => `<li><strong>${esc(titleOf(a))}</strong>: ${esc(lineOf(a).slice(titleOf(a).length + 2))} <small>${esc(a.raised_at)} · ${esc(a.id)}</small></li>`)
  if (more > 0) items.push(`<li>… and ${more} more</li>`)
  const html = `<!doctype html><html><body><h2>${esc(subject.replace('[stockbridge] ', ''))}</h2><ul>${items.join('')}</ul></body></html>`
  return { subject, text, html }
}

/** Slack Block Kit (header, sections, context). `text` is the fallback Mattermost and Teams-style hooks show. */
export function slackPayloadOf(alerts: ReadonlyArray<AlertView>, more: number, digest: boolean) {
  const m = messageOf(alerts, more, digest)
  const blocks: unknown[] = [{ type: 'header', text: { type: 'plain_text', text: m.subject.replace('[stockbridge] ', '').slice(0, 150), emoji: false } }]
  // Block Kit allows 50 blocks per message and 3000 characters per text: a digest is chunked into sections.
  let chunk = ''
  const sections: string[] = []
  for (const a of alerts) {
    const line = `• *${slackEsc(titleOf(a))}*: ${slackEsc(lineOf(a).slice(titleOf(a).length + 2))}\n`
    if (chunk.length + line.length > 2900) {
      sections.push(chunk)
      chunk = ''
    }
    chunk += line
  }
  if (chunk) sections.push(chunk)
  for (const s of sections.slice(0, 45)) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: s } })
  if (more > 0 || sections.length > 45) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `… and ${more} more` } })
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `stockbridge · ${digest ? 'digest' : 'alert'} · ${new Date().toISOString()}` }] })
  return { text: m.text.slice(0, 3000), blocks }
}
