/** @module service/stores: the WooCommerce stores the hub feeds: add, list, change, remove. */
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page, type PageParams } from './paging.js'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { DomainError, invalid } from '../domain/errors.js'
import type { DeliveryTarget, TargetSource } from './event-bus.js'
import type { Executor } from '../store/db.js'
import { isUniqueViolation } from '../store/errors.js'
import { listWarehouses } from '../store/warehouse-repo.js'
import * as repo from '../store/woo-repo.js'
import { STORE_MODES, type StoreMode, type WooStore } from '../store/woo-repo.js'
import type { ServiceDeps } from './deps.js'
import { inTransaction } from './transaction.js'

export interface NewStore {
  readonly name: string
  readonly url: string
  readonly consumerKey: string
  readonly consumerSecret: string
  /** Warehouse codes or ids. */
  readonly warehouses: ReadonlyArray<string | number>
  readonly buffer?: number | undefined
  readonly mode?: string | undefined
  readonly concurrency?: number | undefined
  readonly holdMinutes?: number | undefined
  readonly caFile?: string | null | undefined
}

export type StoreChange = Partial<Omit<NewStore, 'name'>> & { readonly name?: string | undefined }

/** Stores that push take every `stock.changed` of their warehouses; the destination maps SKUs. */
export const storeTargets: TargetSource = async (ex: Executor): Promise<DeliveryTarget[]> =>
  (await repo.listStores(ex)).filter((s) => s.mode === 'live').map((s) => ({ id: s.id, events: ['stock.changed'] as const, skus: null, warehouses: [...s.warehouses] }))

function checkUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw invalid('/url', 'must be an absolute URL such as https://shop.example')
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid('/url', 'must use https (Basic auth) or http (OAuth 1.0a)')
  if (u.username || u.password) throw invalid('/url', 'must not carry credentials; give the consumer key and secret instead')
  if (u.search || u.hash) throw invalid('/url', 'must be the site URL, without a query or fragment')
  return u.toString().replace(/\/+$/, '').replace(/\/wp-json(\/.*)?$/, '')
}

function checkName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$/.test(name) || name.startsWith('sto_')) throw invalid('/name', 'must be 1–60 letters, digits, dots, dashes or underscores, not starting with sto_')
  return name
}

function checkCredential(pointer: string, v: string): string {
  if (v.length < 1 || v.length > 200 || /\s/.test(v)) throw invalid(pointer, 'must be the key shown by WooCommerce (no spaces, at most 200 characters)')
  return v
}

function checkMode(m: string | undefined): StoreMode | undefined {
  if (m === undefined) return undefined
  if (!(STORE_MODES as ReadonlyArray<string>).includes(m)) throw invalid('/mode', `must be one of ${STORE_MODES.join(', ')}`)
  return m as StoreMode
}

function checkInt(pointer: string, v: number | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined
  if (!Number.isSafeInteger(v) || v < min || v > max) throw invalid(pointer, `must be an integer from ${min} to ${max}`)
  return v
}

function checkCaFile(f: string | null | undefined): string | null | undefined {
  if (f === undefined || f === null || f === '') return f === '' ? null : f
  try {
    fs.accessSync(f, fs.constants.R_OK)
  } catch {
    throw invalid('/ca_file', `cannot read ${f.slice(0, 200)}`)
  }
  return f
}

async function resolveWarehouses(ex: Executor, list: ReadonlyArray<string | number>): Promise<number[]> {
  if (list.length === 0) throw invalid('/warehouses', 'name at least one warehouse (code or id)')
  const all = await listWarehouses(ex)
  const out: number[] = []
  for (const w of list) {
    const found = all.find((x) => x.code === String(w) || String(x.id) === String(w))
    if (!found) throw new DomainError('warehouse_not_found', `No warehouse has code or id ${String(w).slice(0, 40)}`, { warehouse: String(w).slice(0, 40) })
    if (!out.includes(found.id)) out.push(found.id)
  }
  return out
}

export async function addStore(deps: ServiceDeps, input: NewStore): Promise<WooStore> {
  const now = deps.clock.now()
  const store: WooStore = {
    id: deps.ids.next('sto'),
    name: checkName(input.name),
    baseUrl: checkUrl(input.url),
    consumerKey: checkCredential('/consumer_key', input.consumerKey),
    consumerSecret: checkCredential('/consumer_secret', input.consumerSecret),
    warehouses: await resolveWarehouses(deps.store.db, input.warehouses),
    buffer: checkInt('/buffer', input.buffer, 0, 1_000_000) ?? 0,
    mode: checkMode(input.mode) ?? 'live',
    concurrency: checkInt('/concurrency', input.concurrency, 1, 16) ?? 4,
    holdMinutes: checkInt('/hold_minutes', input.holdMinutes, 1, 7 * 24 * 60) ?? 60,
    caFile: checkCaFile(input.caFile) ?? null,
    webhookSecret: null,
    callbackUrl: null,
    health: 'unknown',
    healthReason: null,
    healthChangedAt: null,
    pushStatus: null,
    unreachableSince: null,
    createdAt: now,
    updatedAt: now,
  }
  try {
    await repo.insertStore(deps.store.db, store)
  } catch (e) {
    if (isUniqueViolation(e)) throw new DomainError('already_exists', `A store called ${store.name} already exists`, { name: store.name }, { cause: e })
    throw e
  }
  deps.events.invalidateTargets()
  return store
}

export function listStores(deps: ServiceDeps): Promise<WooStore[]> {
  return repo.listStores(deps.store.db)
}

/** Stores by name, one page at a time (#12). */
export function listStorePage(deps: ServiceDeps, p: PageParams = {}): Promise<Page<WooStore>> {
  const afterName = p.cursor === undefined ? undefined : (decodeCursor(p.cursor, ['string'])[0] as string)
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listStorePage(deps.store.db, take, afterName), (s) => [s.name])
}

export async function getStore(deps: ServiceDeps, ref: string): Promise<WooStore> {
  const s = await repo.findStore(deps.store.db, ref)
  if (!s) throw new DomainError('store_not_found', `No WooCommerce store has id or name ${ref.slice(0, 60)}`, { store: ref.slice(0, 60) })
  return s
}

export async function changeStore(deps: ServiceDeps, ref: string, c: StoreChange): Promise<WooStore> {
  const s = await getStore(deps, ref)
  const patch: repo.StorePatch = {
    ...(c.name !== undefined ? { name: checkName(c.name) } : {}),
    ...(c.url !== undefined ? { baseUrl: checkUrl(c.url) } : {}),
    ...(c.consumerKey !== undefined ? { consumerKey: checkCredential('/consumer_key', c.consumerKey) } : {}),
    ...(c.consumerSecret !== undefined ? { consumerSecret: checkCredential('/consumer_secret', c.consumerSecret) } : {}),
    ...(c.warehouses !== undefined ? { warehouses: await resolveWarehouses(deps.store.db, c.warehouses) } : {}),
    ...(c.buffer !== undefined ? { buffer: checkInt('/buffer', c.buffer, 0, 1_000_000)! } : {}),
    ...(c.mode !== undefined ? { mode: checkMode(c.mode)! } : {}),
    ...(c.concurrency !== undefined ? { concurrency: checkInt('/concurrency', c.concurrency, 1, 16)! } : {}),
    ...(c.holdMinutes !== undefined ? { holdMinutes: checkInt('/hold_minutes', c.holdMinutes, 1, 7 * 24 * 60)! } : {}),
    ...(c.caFile !== undefined ? { caFile: checkCaFile(c.caFile) ?? null } : {}),
  }
  let updated: WooStore | undefined
  try {
    updated = await repo.updateStore(deps.store.db, s.id, patch, Math.max(deps.clock.now(), s.updatedAt + 1))
  } catch (e) {
    if (isUniqueViolation(e)) throw new DomainError('already_exists', `A store called ${c.name} already exists`, { name: c.name }, { cause: e })
    throw e
  }
  deps.events.invalidateTargets()
  return updated!
}

export async function removeStore(deps: ServiceDeps, ref: string): Promise<WooStore> {
  const s = await getStore(deps, ref)
  await inTransaction(deps, (trx) => repo.deleteStore(trx, s.id))
  deps.events.invalidateTargets()
  return s
}

/** Set (or keep) the secret WooCommerce signs deliveries with, and where it delivers them. */
export async function setWebhookSecret(deps: ServiceDeps, store: WooStore, callbackUrl: string): Promise<WooStore> {
  const secret = store.webhookSecret ?? `whsec_${randomBytes(32).toString('base64url')}`
  return (await repo.updateStore(deps.store.db, store.id, { webhookSecret: secret, callbackUrl }, Math.max(deps.clock.now(), store.updatedAt + 1)))!
}

/**
 * What steers pushes to the store (#17), as the node pushing last recorded it: the batch window,
 * requests in flight and allowed, the store's smoothed response time, items waiting, and when.
 */
function pushingView(p: Readonly<Record<string, unknown>> | null) {
  if (!p) return null
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
  const at = num(p.at)
  return {
    window_ms: num(p.window_ms),
    loaded: p.loaded === true,
    in_flight: num(p.in_flight),
    concurrency: num(p.concurrency),
    max_concurrency: num(p.max_concurrency),
    capacity: num(p.capacity),
    latency_ms: num(p.latency_ms),
    backlog: num(p.backlog),
    busy: num(p.busy),
    at: at === null ? null : new Date(at).toISOString(),
  }
}

/** What may be shown of a store: never its consumer secret or webhook secret. */
export function storeView(s: WooStore) {
  return {
    id: s.id,
    name: s.name,
    url: s.baseUrl,
    auth: s.baseUrl.startsWith('https:') ? ('basic' as const) : ('oauth1' as const),
    consumer_key: `${s.consumerKey.slice(0, 7)}…${s.consumerKey.slice(-4)}`,
    warehouses: [...s.warehouses],
    buffer: s.buffer,
    mode: s.mode,
    concurrency: s.concurrency,
    hold_minutes: s.holdMinutes,
    ca_file: s.caFile,
    webhooks_configured: s.webhookSecret !== null,
    callback_url: s.callbackUrl,
    health: s.health,
    health_reason: s.healthReason,
    health_changed_at: s.healthChangedAt === null ? null : new Date(s.healthChangedAt).toISOString(),
    unreachable_since: s.unreachableSince === null ? null : new Date(s.unreachableSince).toISOString(),
    pushing: pushingView(s.pushStatus),
    created_at: new Date(s.createdAt).toISOString(),
    updated_at: new Date(s.updatedAt).toISOString(),
  }
}
