/**
 * @module service/pulls: a warehouse's pull source (where its stock listing is read from, how
 * often, with which credentials and mapping) and its runs. Credentials are sealed at rest and
 * never shown. The pull itself lives in connectors/pulls/ (HTTP client, mapping, schedule), as the
 * WooCommerce connector's use-cases do (service/woocommerce.ts).
 */
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page, type PageParams } from './paging.js'
import { DomainError, invalid, ValidationError } from '../domain/errors.js'
import { DEFAULT_PULL_MAPPING, nextDue } from '../domain/pull-schedule.js'
import { checkMappingSyntax } from './provider-mapping.js'
import * as repo from '../store/pull-repo.js'
import type { Pagination, PullAuthKind, PullRun, PullSource } from '../store/pull-repo.js'
import { requireWarehouse } from './catalog.js'
import type { ServiceDeps } from './deps.js'

export type PullAuthInput =
  | { readonly type: 'none' }
  | { readonly type: 'bearer'; readonly token: string }
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  | { readonly type: 'header'; readonly name: string; readonly value: string }

export type PaginationInput =
  | { readonly type: 'none' }
  | { readonly type: 'next_link'; readonly field?: string | undefined }
  | { readonly type: 'page'; readonly param?: string | undefined; readonly start?: number | undefined; readonly size_param?: string | undefined; readonly size?: number | undefined }
  | { readonly type: 'cursor'; readonly param: string; readonly field: string }

export interface PullInput {
  readonly url: string
  /** Absent on a change: the stored credentials stay. */
  readonly auth?: PullAuthInput | undefined
  readonly mapping?: string | null | undefined
  readonly pagination?: PaginationInput | undefined
  readonly intervalSeconds?: number | null | undefined
  readonly cron?: string | null | undefined
  readonly timeoutSeconds?: number | undefined
  readonly enabled?: boolean | undefined
}

const PARAM = /^[A-Za-z0-9_.\-[\]]{1,60}$/
const FIELD = /^[A-Za-z0-9_$-]{1,60}(\.[A-Za-z0-9_$-]{1,60}){0,7}$/
const HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'accept', 'user-agent'])

function checkUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw invalid('/pull/url', 'must be an absolute http(s) URL')
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('/pull/url', 'must use http or https')
  if (u.username || u.password) throw invalid('/pull/url', 'must not carry credentials; give them as auth')
  if (url.length > 2000) throw invalid('/pull/url', 'must be at most 2,000 characters')
  return u.toString()
}

function checkSecret(pointer: string, v: unknown, max = 2000): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || /[\r\n\0]/.test(v)) throw invalid(pointer, `must be 1–${max} characters without line breaks`)
  return v
}

function checkAuth(a: PullAuthInput): { kind: PullAuthKind; name: string | null; secret: string | null } {
  switch (a.type) {
    case 'none':
      return { kind: 'none', name: null, secret: null }
    case 'bearer':
      return { kind: 'bearer', name: null, secret: checkSecret('/pull/auth/token', a.token) }
    case 'basic':
      if (typeof a.username !== 'string' || a.username.includes(':') || a.username.length > 200 || /[\r\n\0]/.test(a.username)) throw invalid('/pull/auth/username', 'must be at most 200 characters, without ":" or line breaks')
      return { kind: 'basic', name: a.username, secret: checkSecret('/pull/auth/password', a.password, 1000) }
    case 'header':
      if (typeof a.name !== 'string' || !HEADER.test(a.name) || FORBIDDEN_HEADERS.has(a.name.toLowerCase())) throw invalid('/pull/auth/name', 'must be a header name such as X-Api-Key')
      return { kind: 'header', name: a.name, secret: checkSecret('/pull/auth/value', a.value) }
    default:
      throw invalid('/pull/auth/type', 'must be none, bearer, basic or header')
  }
}

function checkPagination(p: PaginationInput | undefined): Pagination {
  if (p === undefined || p.type === 'none') return { type: 'none' }
  const param = (v: unknown, at: string, dflt?: string) => {
    const s = v === undefined ? dflt : v
    if (typeof s !== 'string' || !PARAM.test(s)) throw invalid(`/pull/pagination/${at}`, 'must be a query parameter name')
    return s
  }
  const field = (v: unknown, at: string) => {
    if (typeof v !== 'string' || !FIELD.test(v)) throw invalid(`/pull/pagination/${at}`, 'must be a field path such as next or meta.next_cursor')
    return v
  }
  switch (p.type) {
    case 'next_link':
      return p.field === undefined ? { type: 'next_link' } : { type: 'next_link', field: field(p.field, 'field') }
    case 'page': {
      const start = p.start ?? 1
      if (!Number.isSafeInteger(start) || start < 0 || start > 1_000_000) throw invalid('/pull/pagination/start', 'must be a whole number from 0')
      if (p.size !== undefined && (!Number.isSafeInteger(p.size) || p.size < 1 || p.size > 100_000)) throw invalid('/pull/pagination/size', 'must be from 1 to 100,000')
      return { type: 'page', param: param(p.param, 'param', 'page'), start, ...(p.size_param !== undefined ? { sizeParam: param(p.size_param, 'size_param') } : {}), ...(p.size !== undefined ? { size: p.size } : {}) }
    }
    case 'cursor':
      return { type: 'cursor', param: param(p.param, 'param'), field: field(p.field, 'field') }
    default:
      throw invalid('/pull/pagination/type', 'must be none, next_link, page or cursor')
  }
}

function checkSchedule(intervalSeconds: number | null | undefined, cron: string | null | undefined, now: number): { intervalSeconds: number | null; cron: string | null } {
  if (intervalSeconds !== undefined && intervalSeconds !== null && (!Number.isSafeInteger(intervalSeconds) || intervalSeconds < 10 || intervalSeconds > 30 * 86_400)) {
    throw invalid('/pull/interval_seconds', 'must be a whole number of seconds from 10 to 2,592,000 (30 days)')
  }
  if (cron !== undefined && cron !== null) {
    if (cron.length > 200) throw invalid('/pull/cron', 'must be at most 200 characters')
    try {
      nextDue({ intervalSeconds: null, cron }, now)
    } catch (e) {
      throw new ValidationError([{ pointer: '/pull/cron', message: `is not a cron expression: ${(e as Error).message.slice(0, 200)}` }])
    }
  }
  return { intervalSeconds: intervalSeconds ?? null, cron: cron ?? null }
}

function checkMapping(m: string | null | undefined): string | null {
  if (m === undefined || m === null || m.trim() === '' || m === DEFAULT_PULL_MAPPING) return null
  if (m.length > 20_000) throw invalid('/pull/mapping', 'must be at most 20,000 characters')
  try {
    checkMappingSyntax(m, '/pull/mapping')
  } catch (e) {
    if (e instanceof DomainError && e.code === 'mapping_failed') throw invalid('/pull/mapping', e.message)
    throw e
  }
  return m
}

/** Set, replace (credentials kept unless given) or, with null, remove a warehouse's pull source. */
export async function setPullSource(deps: ServiceDeps, warehouseId: number, input: PullInput | null): Promise<PullSource | null> {
  await requireWarehouse(deps.store.db, warehouseId)
  if (input === null) {
    await repo.deletePullSource(deps.store.db, warehouseId)
    return null
  }
  const now = deps.clock.now()
  const existing = await repo.findPullSource(deps.store.db, warehouseId)
  const auth = input.auth !== undefined ? checkAuth(input.auth) : existing ? { kind: existing.authKind, name: existing.authName, secret: existing.authSecret } : { kind: 'none' as const, name: null, secret: null }
  const schedule = checkSchedule(input.intervalSeconds, input.cron, now)
  const timeout = input.timeoutSeconds ?? 30
  if (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > 300) throw invalid('/pull/timeout_seconds', 'must be from 1 to 300')
  const enabled = input.enabled ?? true
  const write: repo.PullSourceWrite = {
    warehouseId,
    url: checkUrl(input.url),
    authKind: auth.kind,
    authName: auth.name,
    authSecret: auth.secret,
    mapping: checkMapping(input.mapping),
    pagination: checkPagination(input.pagination),
    intervalSeconds: schedule.intervalSeconds,
    cron: schedule.cron,
    timeoutMs: timeout * 1000,
    enabled,
    // A scheduled source is due at once, then on its schedule.
    nextRunAt: enabled && (schedule.intervalSeconds !== null || schedule.cron !== null) ? now : null,
  }
  await repo.upsertPullSource(deps.store.db, write, now)
  return (await repo.findPullSource(deps.store.db, warehouseId))!
}

/**
 * The seed's `api_endpoint` + `api_key` on a warehouse: GET `{api_endpoint}/inventory` with the key
 * as a bearer token (as `External_API_Client::sync_from_warehouse` did), every 15 minutes. Checked
 * before the warehouse is created, so a bad shorthand creates nothing.
 */
export function pullFromSeedShorthand(apiEndpoint: string | undefined, apiKey: string | undefined): PullInput | null {
  if (apiEndpoint === undefined) {
    if (apiKey !== undefined) throw invalid('/api_endpoint', 'is required when a key is given')
    return null
  }
  const url = `${apiEndpoint.replace(/\/+$/, '')}/inventory`
  try {
    checkUrl(url)
    if (apiKey !== undefined) checkSecret('/api_key', apiKey)
  } catch (e) {
    if (e instanceof ValidationError) throw new ValidationError(e.errors.map((x) => ({ pointer: x.pointer === '/pull/url' ? '/api_endpoint' : x.pointer, message: x.message })))
    throw e
  }
  return { url, auth: apiKey ? { type: 'bearer', token: apiKey } : { type: 'none' }, intervalSeconds: 900 }
}

export async function getPullSource(deps: ServiceDeps, warehouseId: number): Promise<PullSource> {
  await requireWarehouse(deps.store.db, warehouseId)
  const s = await repo.findPullSource(deps.store.db, warehouseId)
  if (!s) throw new DomainError('pull_not_configured', `Warehouse ${warehouseId} has no pull source`, { warehouse_id: warehouseId })
  return s
}

/** The pull sources of all warehouses, by warehouse id (the admin UI's warehouse list shows their health). */
export async function pullSourcesByWarehouse(deps: ServiceDeps): Promise<Map<number, PullSource>> {
  return new Map((await repo.listPullSources(deps.store.db)).map((s) => [s.warehouseId, s] as const))
}

export async function listPullRuns(deps: ServiceDeps, warehouseId: number, limit = 20): Promise<PullRun[]> {
  await requireWarehouse(deps.store.db, warehouseId)
  return repo.listPullRuns(deps.store.db, warehouseId, Math.min(Math.max(1, limit), 200))
}

/** A warehouse's pull runs newest first, one page at a time (#12). */
export async function listPullRunPage(deps: ServiceDeps, warehouseId: number, p: PageParams = {}): Promise<Page<PullRun>> {
  await requireWarehouse(deps.store.db, warehouseId)
  const key = p.cursor === undefined ? undefined : decodeCursor(p.cursor, ['number', 'string'])
  const before = key ? { startedAt: key[0] as number, id: key[1] as string } : undefined
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listPullRuns(deps.store.db, warehouseId, take, before), (r) => [r.startedAt, r.id])
}

/** What may be shown of a source: never its token, password or header value. */
export function pullSourceView(s: PullSource) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
  const p = s.pagination
  return {
    warehouse_id: s.warehouseId,
    url: s.url,
    auth: s.authKind === 'basic' ? { type: s.authKind, username: s.authName, password_set: s.authSecret !== null } : s.authKind === 'header' ? { type: s.authKind, name: s.authName, value_set: s.authSecret !== null } : s.authKind === 'bearer' ? { type: s.authKind, token_set: s.authSecret !== null } : { type: s.authKind },
    mapping: s.mapping ?? DEFAULT_PULL_MAPPING,
    default_mapping: s.mapping === null,
    pagination: p.type === 'page' ? { type: p.type, param: p.param, start: p.start, size_param: p.sizeParam ?? null, size: p.size ?? null } : p.type === 'next_link' ? { type: p.type, field: p.field ?? null } : p,
    interval_seconds: s.intervalSeconds,
    cron: s.cron,
    timeout_seconds: s.timeoutMs / 1000,
    enabled: s.enabled,
    health: s.health,
    health_reason: s.healthReason,
    failures: s.failures,
    next_run_at: iso(s.nextRunAt),
    last_run_at: iso(s.lastRunAt),
  }
}

export function pullRunView(r: PullRun, withReport = false) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
  return {
    id: r.id,
    warehouse_id: r.warehouseId,
    trigger: r.trigger,
    dry_run: r.dryRun,
    status: r.status,
    pages: r.pages,
    items: r.fetched,
    applied: r.applied,
    unchanged: r.unchanged,
    stale: r.stale,
    rejected: r.rejected,
    observed_at: iso(r.observedAt),
    error: r.error,
    started_at: iso(r.startedAt)!,
    finished_at: iso(r.finishedAt),
    ...(withReport ? { report: r.report } : {}),
  }
}

