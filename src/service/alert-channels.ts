/**
 * @module service/alert-channels: where alerts go (#15). A channel is an email address list on an
 * SMTP server, a Slack-compatible incoming webhook, or a generic signed webhook; it takes the
 * alert kinds and scopes it names, each at once or gathered into one digest per window.
 */
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page, type PageParams } from './paging.js'
import { isIP } from 'node:net'
import { ALERT_KINDS, ALERT_SCOPES } from '../domain/alerts.js'
import { DomainError, invalid } from '../domain/errors.js'
import { generateWebhookSecret } from '../security/webhook-signature.js'
import * as repo from '../store/alert-repo.js'
import type { ChannelRow } from '../store/alert-repo.js'
import type { AlertView } from './alerts.js'
import { invalidateChannels } from './alerts.js'
import type { ServiceDeps } from './deps.js'
import { inTransaction } from './transaction.js'

export const CHANNEL_KINDS = Object.freeze(['email', 'slack', 'webhook'] as const)
export type ChannelKind = (typeof CHANNEL_KINDS)[number]

export interface EmailConfig {
  readonly host: string
  readonly port: number
  /** implicit: TLS from the first byte (port 465); starttls: upgrade required; none: plain (local relays only). */
  readonly tls: 'implicit' | 'starttls' | 'none'
  readonly verify_tls?: boolean
  readonly username?: string
  readonly password?: string
  readonly from: string
  readonly to: ReadonlyArray<string>
}
export interface SlackConfig {
  readonly url: string
}
export interface WebhookConfig {
  readonly url: string
  readonly secret: string
}

export interface NewChannel {
  readonly name: string
  readonly kind: string
  readonly config: Record<string, unknown>
  readonly mode?: 'immediate' | 'digest' | undefined
  readonly digestSeconds?: number | undefined
  readonly kinds?: ReadonlyArray<string> | undefined
  readonly scopes?: ReadonlyArray<string> | undefined
}

const EMAIL = /^[^\s@<>(),;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
const HOST = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

function str(v: unknown, pointer: string, max: number, required = true): string | undefined {
  if (v === undefined && !required) return undefined
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw invalid(pointer, `must be a string of 1 to ${max} characters`)
  return v
}

function httpUrl(v: unknown, pointer: string): string {
  const s = str(v, pointer, 2000)!
  let u: URL
  try {
    u = new URL(s)
  } catch {
    throw invalid(pointer, 'must be an absolute URL')
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(pointer, 'must use http or https')
  if (u.username || u.password) throw invalid(pointer, 'must not carry credentials')
  return u.toString()
}

function checkConfig(kind: ChannelKind, c: Record<string, unknown>): Record<string, unknown> {
  const allowed: Record<ChannelKind, string[]> = { email: ['host', 'port', 'tls', 'verify_tls', 'username', 'password', 'from', 'to'], slack: ['url'], webhook: ['url'] }
  const extra = Object.keys(c).find((k) => !allowed[kind].includes(k))
  if (extra !== undefined) throw invalid(`/config/${extra.slice(0, 40)}`, `is not a setting of a ${kind} channel`)
  if (kind === 'slack') return { url: httpUrl(c.url, '/config/url') }
  if (kind === 'webhook') return { url: httpUrl(c.url, '/config/url'), secret: generateWebhookSecret() }
  const host = str(c.host, '/config/host', 253)!
  if (!HOST.test(host) && isIP(host) === 0) throw invalid('/config/host', 'must be a host name or an IP address')
  const port = c.port ?? 587
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw invalid('/config/port', 'must be an integer from 1 to 65535')
  const tls = c.tls ?? (port === 465 ? 'implicit' : 'starttls')
  if (tls !== 'implicit' && tls !== 'starttls' && tls !== 'none') throw invalid('/config/tls', 'must be implicit, starttls or none')
  if (c.verify_tls !== undefined && typeof c.verify_tls !== 'boolean') throw invalid('/config/verify_tls', 'must be a boolean')
  const username = str(c.username, '/config/username', 200, false)
  const password = str(c.password, '/config/password', 500, false)
  if (password !== undefined && username === undefined) throw invalid('/config/username', 'is required with a password')
  const from = str(c.from, '/config/from', 254)!
  if (!EMAIL.test(from)) throw invalid('/config/from', 'must be an email address')
  if (!Array.isArray(c.to) || c.to.length === 0 || c.to.length > 50) throw invalid('/config/to', 'must list 1 to 50 email addresses')
  c.to.forEach((t, i) => {
    if (typeof t !== 'string' || t.length > 254 || !EMAIL.test(t)) throw invalid(`/config/to/${i}`, 'must be an email address')
  })
  return { host, port, tls, ...(c.verify_tls !== undefined ? { verify_tls: c.verify_tls } : {}), ...(username ? { username } : {}), ...(password ? { password } : {}), from, to: [...new Set(c.to as string[])] }
}

export async function createChannel(deps: ServiceDeps, input: NewChannel): Promise<ChannelRow> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(input.name)) throw invalid('/name', 'must be 1 to 100 letters, digits, dots, dashes or underscores')
  if (!(CHANNEL_KINDS as ReadonlyArray<string>).includes(input.kind)) throw invalid('/kind', `must be one of ${CHANNEL_KINDS.join(', ')}`)
  const kind = input.kind as ChannelKind
  const config = checkConfig(kind, input.config)
  const mode = input.mode ?? 'immediate'
  const digestSeconds = mode === 'digest' ? (input.digestSeconds ?? 900) : 0
  if (mode === 'digest' && (!Number.isInteger(digestSeconds) || digestSeconds < 1 || digestSeconds > 7 * 86400)) throw invalid('/digest_seconds', 'must be an integer from 1 to 604800')
  const kinds = [...new Set(input.kinds ?? ALERT_KINDS)]
  const badKind = kinds.find((k) => !(ALERT_KINDS as ReadonlyArray<string>).includes(k))
  if (badKind !== undefined || kinds.length === 0) throw invalid('/kinds', `must list alert kinds from ${ALERT_KINDS.join(', ')}`)
  const scopes = [...new Set(input.scopes ?? ALERT_SCOPES)]
  const badScope = scopes.find((k) => !(ALERT_SCOPES as ReadonlyArray<string>).includes(k))
  if (badScope !== undefined || scopes.length === 0) throw invalid('/scopes', `must list scopes from ${ALERT_SCOPES.join(', ')}`)
  const row: ChannelRow = { id: deps.ids.next('ach'), name: input.name, kind, config, mode, digestSeconds, kinds, scopes, isActive: true, digestThroughSeq: 0, createdAt: deps.clock.now() }
  // A digest starts after what exists now: a new channel is not sent the past.
  const inserted = await inTransaction(deps, async (trx) => {
    const last = await trx.selectFrom('outbox_event').select((eb) => eb.fn.max<number | string | null>('seq').as('m')).executeTakeFirst()
    return repo.insertChannel(trx, { ...row, digestThroughSeq: last?.m == null ? 0 : Number(last.m) })
  })
  if (!inserted) throw new DomainError('already_exists', `An alert channel named ${input.name} exists already`, { name: input.name })
  invalidateChannels(deps)
  return row
}

export function listChannels(deps: ServiceDeps): Promise<ChannelRow[]> {
  return repo.listChannels(deps.store.db)
}

/** Alert channels oldest first, one page at a time (#12). */
export function listChannelPage(deps: ServiceDeps, p: PageParams = {}): Promise<Page<ChannelRow>> {
  const key = p.cursor === undefined ? undefined : decodeCursor(p.cursor, ['number', 'string'])
  const after = key ? { createdAt: key[0] as number, id: key[1] as string } : undefined
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listChannelPage(deps.store.db, take, after), (c) => [c.createdAt, c.id])
}

export async function getChannel(deps: ServiceDeps, idOrName: string): Promise<ChannelRow> {
  const c = await repo.findChannel(deps.store.db, idOrName)
  if (!c) throw new DomainError('alert_channel_not_found', `No alert channel has id or name ${idOrName}`, { channel: idOrName })
  return c
}

export async function removeChannel(deps: ServiceDeps, idOrName: string): Promise<void> {
  const c = await getChannel(deps, idOrName)
  await inTransaction(deps, (trx) => repo.deleteChannel(trx, c.id))
  invalidateChannels(deps)
}

/** What the API shows of a channel: secrets masked (the webhook secret is shown once, at creation). */
export function channelView(c: ChannelRow, withSecret = false) {
  const config = { ...c.config }
  if ('password' in config) config.password = '***'
  if ('secret' in config && !withSecret) delete config.secret
  // A Slack URL is itself the credential: show only where it points.
  if (c.kind === 'slack' && typeof config.url === 'string') config.url = maskUrl(config.url)
  return { id: c.id, name: c.name, kind: c.kind, mode: c.mode, digest_seconds: c.mode === 'digest' ? c.digestSeconds : null, kinds: [...c.kinds], scopes: [...c.scopes], config, active: c.isActive, created_at: new Date(c.createdAt).toISOString() }
}

function maskUrl(s: string): string {
  try {
    const u = new URL(s)
    return `${u.protocol}//${u.host}/***`
  } catch {
    return '***'
  }
}

/** The alert a channel's test message carries: plainly marked as a test, for a SKU that does not exist. */
export function testAlertFor(deps: ServiceDeps, channelName: string): AlertView {
  const now = new Date(deps.clock.now()).toISOString()
  return {
    id: deps.ids.next('alr_test'),
    kind: 'low_stock',
    scope: 'total',
    sku: 'TEST-SKU',
    warehouse_id: null,
    subject: null,
    status: 'open',
    available: 3,
    threshold: 5,
    detail: `A test message for alert channel ${channelName}`,
    source_event_id: null,
    raised_at: now,
    acknowledged_at: null,
    acknowledged_by: null,
    closed_at: null,
  }
}
