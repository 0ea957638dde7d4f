/** @module ui/forms: reading posted forms, and telling the user what a refused change means. */
import { randomBytes } from 'node:crypto'
import { DomainError, ERROR_CATALOG, ValidationError } from '../domain/errors.js'
import type { UiContext } from './context.js'
import { html, notice, num, type Html } from './html.js'

export type Form = Readonly<Record<string, string>>

export async function readForm(c: UiContext): Promise<Form> {
  const type = c.req.header('content-type') ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return {}
  const body = await c.req.parseBody()
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v
  return out
}

/** A fresh idempotency key for a rendered form: submitting the same form twice applies once. */
export function newFormKey(): string {
  return `ui-${randomBytes(16).toString('base64url')}`
}

export function text(f: Form, name: string, max = 200): string | null {
  const v = f[name]?.trim()
  if (!v) return null
  if (v.length > max) throw new ValidationError([{ pointer: `/${name}`, message: `must be at most ${max} characters` }])
  return v
}

export function requiredText(f: Form, name: string, max = 200): string {
  const v = text(f, name, max)
  if (v === null) throw new ValidationError([{ pointer: `/${name}`, message: 'is required' }])
  return v
}

export function int(f: Form, name: string, o: { min?: number; max?: number } = {}): number | undefined {
  const v = f[name]?.trim()
  if (v === undefined || v === '') return undefined
  const min = o.min ?? -2_147_483_648
  const max = o.max ?? 2_147_483_647
  if (!/^-?\d{1,10}$/.test(v) || Number(v) < min || Number(v) > max) throw new ValidationError([{ pointer: `/${name}`, message: `must be a whole number from ${min} to ${max}` }])
  return Number(v)
}

export function requiredInt(f: Form, name: string, o: { min?: number; max?: number } = {}): number {
  const v = int(f, name, o)
  if (v === undefined) throw new ValidationError([{ pointer: `/${name}`, message: 'is required' }])
  return v
}

const LABELS: Readonly<Record<string, string>> = { quantity: 'Quantity', warehouse_id: 'Warehouse', to_warehouse_id: 'To warehouse', name: 'Name', code: 'Code', priority: 'Priority' }

/**
 * What a refused change means, in words, with the figures that matter: the new figure after a
 * conflict, the available figure when stock is short. Anything but a DomainError is rethrown.
 */
export function explainError(e: unknown): Html {
  if (!(e instanceof DomainError)) throw e
  const d = e.details as Record<string, unknown>
  if (e instanceof ValidationError) {
    return notice('bad', html`Please check: ${e.errors.map((x, i) => html`${i ? '; ' : ''}${LABELS[x.pointer.slice(1)] ?? x.pointer.slice(1)} ${x.message}`)}.`)
  }
  switch (e.code) {
    case 'version_conflict':
      return notice(
        'warn',
        html`<strong>Not applied: the stock changed while you were looking.</strong> Warehouse ${String(d.warehouse_id ?? '')} now has
          <strong data-conflict-on-hand>${typeof d.on_hand === 'number' ? num(d.on_hand) : '?'}</strong> on hand (version ${String(d.version ?? '?')}).
          The form below now starts from the new figure; check it and submit again if it still applies.`,
      )
    case 'insufficient_stock':
      return notice('bad', html`<strong>Not applied: not enough stock.</strong> Requested ${String(d.requested ?? '?')}, only <strong data-available>${typeof d.available === 'number' ? num(d.available) : '?'}</strong> available.`)
    default:
      return notice('bad', html`<strong>${ERROR_CATALOG[e.code].title}.</strong> ${e.message}`)
  }
}

/** The status a refused form answers with, so scripts and tests can tell outcomes apart. */
export function statusOf(e: unknown): 409 | 422 | 403 | 404 | 400 | 502 {
  if (!(e instanceof DomainError)) return 400
  const s = ERROR_CATALOG[e.code].status
  return s === 409 || s === 422 || s === 403 || s === 404 || s === 502 ? s : 400
}
