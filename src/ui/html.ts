/**
 * @module ui/html: markup helpers. Every page is built with hono/html's `html` tag, which escapes
 * every interpolated value (a SKU named `<img src=x onerror=alert(1)>` renders as text); only
 * fragments built by the same tag pass through unescaped.
 */
import { html } from 'hono/html'
import type { HtmlEscapedString } from 'hono/utils/html'

export { html }
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>

const NUMBER = new Intl.NumberFormat('en-GB')

export function num(n: number): string {
  return NUMBER.format(n)
}

/** An instant as UTC `2026-12-03 08:15:02`, inside <time> so a reader sees the exact ISO value. */
export function when(ms: number | null | undefined): Html {
  if (ms === null || ms === undefined) return html`<span class="muted">never</span>`
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')}</time>`
}

export function ago(ms: number | null, now: number): string {
  if (ms === null) return '—'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86_400)} d ago`
}

/** A URL path segment for a SKU (SKUs may hold `/`, spaces or worse). */
export function skuPath(sku: string): string {
  return `/admin/sku/${encodeURIComponent(sku)}`
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

export function badge(kind: 'ok' | 'warn' | 'bad' | 'muted', text: string): Html {
  return html`<span class="badge badge-${kind}">${text}</span>`
}

/** A message box for a form's outcome; role=status or alert so screen readers announce it. */
export function notice(kind: 'ok' | 'warn' | 'bad', body: Html | string): Html {
  return html`<div class="notice notice-${kind}" role="${kind === 'ok' ? 'status' : 'alert'}">${body}</div>`
}
