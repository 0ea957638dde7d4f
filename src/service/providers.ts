/**
 * @module service/providers: inbound providers (#14): a signature rule plus a JSONata mapping that
 * turns a verified payload into movements with the field names of `POST /stock/update`, applied
 * through the level writer (one transaction: levels, ledger rows, outbox events), one outcome per
 * item. Unknown SKUs follow the provider's policy: reject, create (register the SKU) or hold
 * (kept until an admin maps the SKU; the held items then apply in arrival order).
 *
 * Redelivery is idempotent per provider event: the event id is what the mapping names
 * (`event_id`), else the SHA-256 of the body, and the first answer is replayed for any delivery
 * with the same id, whatever else changed in the body (a retry counter, a new timestamp).
 */
import { createHash } from 'node:crypto'
import type { Transaction } from 'kysely'
import { DomainError, invalid, type ErrorCode } from '../domain/errors.js'
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page, type PageParams } from './paging.js'
import { mayWriteWarehouse } from '../domain/api-key.js'
import { parseUpdateChangeType, type Movement, type UpdateChangeType } from '../domain/movement.js'
import type { Product } from '../domain/product.js'
import { parseCount, parseQuantity } from '../domain/quantity.js'
import { isSku } from '../domain/sku.js'
import type { WebhookProvider } from '../security/provider-signature.js'
import type { Executor } from '../store/db.js'
import { isUniqueViolation } from '../store/errors.js'
import { findProducts, lockProductsInOrder } from '../store/product-repo.js'
import * as repo from '../store/provider-repo.js'
import { UNKNOWN_SKU_POLICIES, type HeldItem, type StoredProvider, type UnknownSkuPolicy } from '../store/provider-repo.js'
import type { Database } from '../store/schema.js'
import { listWarehouses } from '../store/warehouse-repo.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { runIdempotent, type Replayable } from './idempotency.js'
import { writeBulkCounts } from './bulk-sync.js'
import { writeMovement } from './level-writer.js'
import { countItemOutcomes } from './movement-metrics.js'
import { checkMappingSyntax, mappingFailed, mappingRunner } from './provider-mapping.js'
import { findPreset, PROVIDER_PRESETS } from './provider-presets.js'
import { inTransaction } from './transaction.js'

export { UNKNOWN_SKU_POLICIES, type UnknownSkuPolicy }

/** Most movements one payload may produce (as a bulk sync). */
export const MAX_PROVIDER_MOVEMENTS = 10_000
/** How far in the future an `observed_at` may lie (clock skew), as for `POST /stock/update`. */
const MAX_OBSERVED_AHEAD_MS = 5 * 60 * 1000
const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/
const NO_CONTROL_BUT_NEWLINES = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/
const MOVEMENT_FIELDS = new Set(['sku', 'warehouse_code', 'warehouse_id', 'quantity', 'change_type', 'reference_id', 'observed_at', 'notes', 'product_id', 'name'])

/** A provider as the webhook route uses it: the signature rule plus what to do with a verified payload. */
export interface InboundProvider extends Omit<WebhookProvider, 'mapping' | 'preset' | 'unknownSku'> {
  readonly mapping: string
  readonly unknownSku: UnknownSkuPolicy
  readonly preset: string | null
  /** `environment`: from WEBHOOK_PROVIDERS / WEBHOOK_SECRET_*; `database`: added by API or CLI. */
  readonly origin: 'environment' | 'database'
}

export interface ProviderOptions {
  /** KEY_ENCRYPTION_KEY: provider secrets are sealed with it at rest. */
  readonly sealKey: Buffer | null
  /** Providers configured in the environment: they keep working and their names are taken. */
  readonly envProviders?: Readonly<Record<string, WebhookProvider>> | undefined
}

// ---- definitions: add, change, list, show, remove ----

export interface NewProvider {
  readonly name: string
  readonly secret: string
  readonly header?: string | undefined
  readonly encoding?: string | undefined
  readonly prefix?: string | undefined
  readonly warehouses?: ReadonlyArray<string | number> | null | undefined
  /** A JSONata expression; or leave it out and name a preset. */
  readonly mapping?: string | undefined
  readonly preset?: string | undefined
  readonly unknownSku?: string | undefined
}

export type ProviderChange = Partial<Omit<NewProvider, 'name'>>

/** What may be shown of a provider: everything but the secret. */
export interface ProviderView {
  readonly name: string
  readonly origin: 'environment' | 'database'
  readonly header: string
  readonly encoding: string
  readonly prefix: string
  readonly warehouses: number[] | null
  readonly mapping: string
  readonly preset: string | null
  readonly unknown_sku: UnknownSkuPolicy
  readonly created_at: string | null
  readonly updated_at: string | null
}

export function providerView(p: Omit<StoredProvider, 'secret'> | InboundProvider): ProviderView {
  const stored = 'createdAt' in p
  return {
    name: p.name,
    origin: stored ? 'database' : p.origin,
    header: p.header,
    encoding: p.encoding,
    prefix: p.prefix,
    warehouses: p.warehouses === null ? null : [...p.warehouses],
    mapping: p.mapping,
    preset: p.preset,
    unknown_sku: p.unknownSku,
    created_at: stored ? new Date(p.createdAt).toISOString() : null,
    updated_at: stored ? new Date(p.updatedAt).toISOString() : null,
  }
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !PROVIDER_NAME.test(name) || name === 'presets') throw invalid('/name', 'must be 1-64 characters: lower-case letters, digits, _ and -, starting with a letter or digit (not "presets")')
  return name
}

function checkSecret(secret: unknown): string {
  if (typeof secret !== 'string' || secret.length < 16 || secret.length > 500 || !NO_CONTROL.test(secret)) throw invalid('/secret', 'must be 16-500 characters without control characters')
  return secret
}

function checkPolicy(v: string | undefined): UnknownSkuPolicy | undefined {
  if (v === undefined) return undefined
  if (!(UNKNOWN_SKU_POLICIES as ReadonlyArray<string>).includes(v)) throw invalid('/unknown_sku', `must be one of ${UNKNOWN_SKU_POLICIES.join(', ')}`)
  return v as UnknownSkuPolicy
}

function checkSignatureRule(header: string, encoding: string, prefix: string): void {
  if (!/^[A-Za-z0-9-]{1,100}$/.test(header)) throw invalid('/header', 'must be an HTTP header name')
  if (encoding !== 'hex' && encoding !== 'base64') throw invalid('/encoding', 'must be hex or base64')
  if (prefix.length > 20 || !NO_CONTROL.test(prefix)) throw invalid('/prefix', 'must be a short literal such as "sha256="')
}

async function resolveWarehouseList(ex: Executor, list: ReadonlyArray<string | number> | null | undefined): Promise<number[] | null> {
  if (list === null || list === undefined) return null
  if (list.length === 0) throw invalid('/warehouses', 'name at least one warehouse (code or id), or leave it out for all')
  const all = await listWarehouses(ex)
  const out: number[] = []
  for (const w of list) {
    const found = all.find((x) => x.code === String(w) || String(x.id) === String(w))
    if (!found) throw new DomainError('warehouse_not_found', `No warehouse has code or id ${String(w).slice(0, 40)}`, { warehouse: String(w).slice(0, 40) })
    if (!out.includes(found.id)) out.push(found.id)
  }
  return out
}

function mappingOf(mapping: string | undefined, preset: string | undefined): { mapping: string; preset: string | null } {
  const p = preset === undefined ? undefined : findPreset(preset)
  if (preset !== undefined && !p) throw invalid('/preset', `must be one of ${Object.keys(PROVIDER_PRESETS).join(', ')}`)
  const m = mapping ?? p?.mapping
  if (m === undefined) throw invalid('/mapping', 'give a JSONata mapping or a preset')
  checkMappingSyntax(m)
  return { mapping: m, preset: preset ?? null }
}

/** Add a provider; its secret is sealed at rest and never shown again. */
export async function addProvider(deps: ServiceDeps, opts: ProviderOptions, input: NewProvider): Promise<StoredProvider> {
  const name = checkName(input.name)
  if (opts.envProviders && Object.hasOwn(opts.envProviders, name)) throw new DomainError('already_exists', `Provider ${name} is configured in the environment; remove it there first`, { name })
  const preset = input.preset === undefined ? undefined : findPreset(input.preset)
  const { mapping, preset: presetName } = mappingOf(input.mapping, input.preset)
  const header = input.header ?? preset?.header ?? 'X-Webhook-Signature'
  const encoding = input.encoding ?? preset?.encoding ?? 'hex'
  const prefix = input.prefix ?? ''
  checkSignatureRule(header, encoding, prefix)
  const now = deps.clock.now()
  const p: StoredProvider = {
    name,
    secret: checkSecret(input.secret),
    header,
    encoding: encoding as 'hex' | 'base64',
    prefix,
    warehouses: await resolveWarehouseList(deps.store.db, input.warehouses),
    mapping,
    preset: presetName,
    unknownSku: checkPolicy(input.unknownSku) ?? 'reject',
    createdAt: now,
    updatedAt: now,
  }
  try {
    await repo.insertProvider(deps.store.db, p, opts.sealKey)
  } catch (e) {
    if (isUniqueViolation(e)) throw new DomainError('already_exists', `A provider called ${name} already exists`, { name }, { cause: e })
    throw e
  }
  return p
}

export async function getStoredProvider(deps: ServiceDeps, opts: ProviderOptions, name: string): Promise<StoredProvider> {
  const p = PROVIDER_NAME.test(name) ? await repo.findProvider(deps.store.db, name, opts.sealKey) : undefined
  if (!p) throw new DomainError('provider_not_found', `No provider called ${name.slice(0, 64)} is stored`, { name: name.slice(0, 64) })
  return p
}

export async function changeProvider(deps: ServiceDeps, opts: ProviderOptions, name: string, c: ProviderChange): Promise<StoredProvider> {
  const old = await getStoredProvider(deps, opts, name)
  const preset = c.preset === undefined ? undefined : findPreset(c.preset)
  const m = c.mapping !== undefined || c.preset !== undefined ? mappingOf(c.mapping, c.preset) : { mapping: old.mapping, preset: old.preset }
  const header = c.header ?? (preset && c.header === undefined ? preset.header : old.header)
  const encoding = c.encoding ?? (preset && c.encoding === undefined ? preset.encoding : old.encoding)
  const prefix = c.prefix ?? old.prefix
  checkSignatureRule(header, encoding, prefix)
  const next: StoredProvider = {
    ...old,
    secret: c.secret !== undefined ? checkSecret(c.secret) : old.secret,
    header,
    encoding: encoding as 'hex' | 'base64',
    prefix,
    warehouses: c.warehouses !== undefined ? await resolveWarehouseList(deps.store.db, c.warehouses) : old.warehouses,
    mapping: m.mapping,
    preset: m.preset,
    unknownSku: checkPolicy(c.unknownSku) ?? old.unknownSku,
    updatedAt: Math.max(deps.clock.now(), old.updatedAt + 1),
  }
  await repo.replaceProvider(deps.store.db, next, opts.sealKey)
  return next
}

/** Stored providers and environment ones, by name; never their secrets. */
export async function listProviderViews(deps: ServiceDeps, opts: ProviderOptions): Promise<ProviderView[]> {
  const stored = (await repo.listProviders(deps.store.db)).map(providerView)
  const env = Object.values(opts.envProviders ?? {}).map((p) => providerView(inboundFromEnv(p)))
  return [...env, ...stored].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/**
 * Providers by name, one page at a time (#12). Stored and environment providers are merged first
 * (a bounded set of configuration), then paged on the name, which is unique among them.
 */
export async function listProviderPage(deps: ServiceDeps, opts: ProviderOptions, p: PageParams = {}): Promise<Page<ProviderView>> {
  const afterName = p.cursor === undefined ? undefined : (decodeCursor(p.cursor, ['string'])[0] as string)
  const all = await listProviderViews(deps, opts)
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, async (take) => all.filter((v) => afterName === undefined || v.name > afterName).slice(0, take), (v) => [v.name])
}

export async function showProvider(deps: ServiceDeps, opts: ProviderOptions, name: string): Promise<ProviderView> {
  const env = opts.envProviders && Object.hasOwn(opts.envProviders, name) ? opts.envProviders[name] : undefined
  if (env) return providerView(inboundFromEnv(env))
  const { secret: _secret, ...rest } = await getStoredProvider(deps, opts, name)
  return providerView(rest)
}

export async function removeProvider(deps: ServiceDeps, opts: ProviderOptions, name: string): Promise<void> {
  if (opts.envProviders && Object.hasOwn(opts.envProviders, name)) throw invalid('/name', `Provider ${name} comes from the environment; remove it there`)
  if (!(await repo.deleteProvider(deps.store.db, name))) throw new DomainError('provider_not_found', `No provider called ${name.slice(0, 64)} is stored`, { name: name.slice(0, 64) })
}

/**
 * An environment provider takes its mapping from WEBHOOK_PROVIDERS (`mapping` or `preset`), else
 * the preset of its own name (the seed's three providers). One with neither has no mapping: its
 * payloads are refused with 422 rather than acknowledged and dropped.
 */
function inboundFromEnv(p: WebhookProvider): InboundProvider {
  const preset = findPreset(p.preset ?? p.name)
  return { ...p, mapping: p.mapping ?? preset?.mapping ?? '', unknownSku: (p.unknownSku as UnknownSkuPolicy | undefined) ?? 'reject', preset: p.mapping ? null : (preset?.name ?? null), origin: 'environment' }
}

/** The provider a webhook names: the environment's first, then the stored ones; undefined when none. */
export async function findInboundProvider(deps: ServiceDeps, opts: ProviderOptions, name: string): Promise<InboundProvider | undefined> {
  const env = opts.envProviders && Object.hasOwn(opts.envProviders, name) ? opts.envProviders[name] : undefined
  if (env) return inboundFromEnv(env)
  if (!PROVIDER_NAME.test(name)) return undefined
  const p = await repo.findProvider(deps.store.db, name, opts.sealKey)
  return p ? { ...p, origin: 'database' } : undefined
}

// ---- mapping a payload to movements ----

/** A mapped movement that passed validation; `externalSku` is the provider's own name for it. */
export interface MappedMovement {
  readonly index: number
  readonly externalSku: string
  readonly sku: string
  readonly warehouseId: number
  readonly changeType: UpdateChangeType
  readonly quantity: number
  readonly referenceId: string | null
  readonly notes: string | null
  readonly observedAt: number | null
  readonly productId: number | null
  readonly name: string | null
}

export type ItemOutcome =
  | { readonly index: number; readonly sku: string; readonly external_sku?: string; readonly warehouse_id: number; readonly change_type: string; readonly status: 'applied' | 'unchanged' | 'stale'; readonly previous: number; readonly current: number; readonly movement_id: number }
  | { readonly index: number; readonly sku: string; readonly external_sku?: string; readonly warehouse_id: number; readonly change_type: string; readonly status: 'held'; readonly held_id: string }
  | { readonly index: number; readonly sku: string | null; readonly external_sku?: string; readonly warehouse_id: number | null; readonly change_type: string | null; readonly status: 'refused'; readonly code: ErrorCode; readonly detail: string }

export interface WebhookResult {
  readonly event_id: string
  readonly applied: number
  readonly unchanged: number
  readonly stale: number
  readonly held: number
  readonly refused: number
  readonly results: ReadonlyArray<ItemOutcome>
}

interface Normalized {
  readonly eventId: string | null
  readonly raw: ReadonlyArray<unknown>
}

/** The mapping's result as `{event_id?, movements}` or a list of movements (a single object counts as one). */
function normalizeMapped(out: unknown): Normalized {
  if (out === undefined) {
    throw mappingFailed({ code: 'no_result', message: 'The mapping produced nothing for this payload (return [] or {"movements": []} to acknowledge a payload without movements)' })
  }
  let eventId: string | null = null
  let movements: unknown = out
  if (out !== null && typeof out === 'object' && !Array.isArray(out) && 'movements' in out) {
    const o = out as { event_id?: unknown; movements?: unknown }
    if (o.event_id !== undefined && o.event_id !== null) {
      if ((typeof o.event_id !== 'string' && typeof o.event_id !== 'number') || String(o.event_id).length === 0 || String(o.event_id).length > 200) {
        throw mappingFailed({ code: 'bad_event_id', message: 'event_id must be a string or number of 1-200 characters' }, 'The mapping result is not usable')
      }
      eventId = String(o.event_id)
    }
    movements = o.movements ?? []
  }
  const list = Array.isArray(movements) ? movements : [movements]
  if (list.length > MAX_PROVIDER_MOVEMENTS) throw mappingFailed({ code: 'too_many_movements', message: `The mapping produced ${list.length} movements; at most ${MAX_PROVIDER_MOVEMENTS} are taken per payload` }, 'The mapping result is not usable')
  return { eventId, raw: list }
}

type Pending = Omit<MappedMovement, 'sku' | 'warehouseId'> & { readonly warehouseCode: string | null; readonly warehouseId: number | null }

function parseInstant(v: unknown, at: string): number {
  const ms = typeof v === 'number' && Number.isFinite(v) ? (v < 100_000_000_000 ? v * 1000 : v) : typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? Date.parse(v) : NaN
  if (!Number.isFinite(ms)) throw invalid(`${at}/observed_at`, 'must be an ISO 8601 instant with an offset, or epoch seconds')
  return ms
}

function label(v: unknown, at: string, max: number): string | null {
  if (v === undefined || v === null) return null
  const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : v
  if (typeof s !== 'string' || s.length < 1 || s.length > max || !NO_CONTROL.test(s)) throw invalid(at, `must be text of 1-${max} characters without control characters`)
  return s
}

/** One mapped item against the rules of `POST /stock/update`: a pending movement or a refusal. */
function validateMovement(raw: unknown, index: number, now: number): Pending | ItemOutcome {
  const at = `/movements/${index}`
  const o = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null
  const sku = o && typeof o.sku === 'string' ? o.sku.slice(0, 100) : null
  const refuse = (code: ErrorCode, detail: string): ItemOutcome => ({ index, sku, warehouse_id: o && typeof o.warehouse_id === 'number' ? o.warehouse_id : null, change_type: o && typeof o.change_type === 'string' ? o.change_type.slice(0, 40) : null, status: 'refused', code, detail })
  if (!o) return refuse('validation_failed', `${at}: must be an object`)
  const extra = Object.keys(o).find((k) => !MOVEMENT_FIELDS.has(k))
  if (extra !== undefined) return refuse('validation_failed', `${at}: unknown field ${JSON.stringify(extra.slice(0, 40))}`)
  try {
    if (typeof o.sku !== 'string' || !isSku(o.sku)) throw invalid(`${at}/sku`, 'must be a SKU: letters, digits and . _ : # + - , at most 100 characters')
    const changeType = parseUpdateChangeType(o.change_type, `${at}/change_type`)
    const quantity = changeType === 'sale' || changeType === 'restock' ? parseQuantity(o.quantity, `${at}/quantity`) : parseCount(o.quantity, `${at}/quantity`)
    let warehouseCode: string | null = null
    let warehouseId: number | null = null
    if (o.warehouse_id !== undefined && o.warehouse_id !== null) {
      if (typeof o.warehouse_id !== 'number' || !Number.isSafeInteger(o.warehouse_id) || o.warehouse_id < 1) throw invalid(`${at}/warehouse_id`, 'must be a positive whole number')
      warehouseId = o.warehouse_id
    } else if (typeof o.warehouse_code === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/.test(o.warehouse_code)) {
      warehouseCode = o.warehouse_code
    } else {
      throw invalid(`${at}/warehouse_code`, 'give warehouse_code (letters, digits, . _ -) or warehouse_id')
    }
    let observedAt: number | null = null
    if (o.observed_at !== undefined && o.observed_at !== null) {
      if (changeType !== 'sync') throw invalid(`${at}/observed_at`, 'applies only to change_type sync')
      observedAt = parseInstant(o.observed_at, at)
      if (observedAt > now + MAX_OBSERVED_AHEAD_MS) throw invalid(`${at}/observed_at`, 'lies more than five minutes in the future')
    }
    const notes = o.notes === undefined || o.notes === null ? null : typeof o.notes === 'string' && o.notes.length <= 2000 && NO_CONTROL_BUT_NEWLINES.test(o.notes) ? o.notes : null
    if ((o.notes ?? null) !== null && notes === null) throw invalid(`${at}/notes`, 'must be text of at most 2,000 characters')
    const productId = o.product_id === undefined || o.product_id === null ? null : Number.isSafeInteger(o.product_id) && (o.product_id as number) > 0 ? (o.product_id as number) : NaN
    if (Number.isNaN(productId)) throw invalid(`${at}/product_id`, 'must be a positive whole number')
    return {
      index,
      externalSku: o.sku,
      changeType,
      quantity,
      warehouseCode,
      warehouseId,
      referenceId: label(o.reference_id, `${at}/reference_id`, 100),
      notes,
      observedAt,
      productId,
      name: label(o.name, `${at}/name`, 200),
    }
  } catch (e) {
    if (e instanceof DomainError) return refuse(e.code, e.message)
    throw e
  }
}

/** Run the mapping and check each movement; resolves aliases and warehouse codes. Reads only. */
async function mapPayload(deps: ServiceDeps, provider: InboundProvider, payloadText: string): Promise<{ eventId: string; ready: MappedMovement[]; outcomes: Array<ItemOutcome | undefined> }> {
  if (provider.mapping === '') {
    throw mappingFailed({ code: 'no_mapping', message: `Provider ${provider.name} has no mapping: set "mapping" or "preset" for it (see docs/providers.md)` }, 'The payload cannot be mapped')
  }
  const out = await mappingRunner().evaluate(provider.mapping, payloadText)
  const { eventId, raw } = normalizeMapped(out)
  const now = deps.clock.now()
  const outcomes: Array<ItemOutcome | undefined> = new Array(raw.length)
  const pending: Pending[] = []
  raw.forEach((r, i) => {
    const v = validateMovement(r, i, now)
    if ('status' in v) outcomes[i] = v
    else pending.push(v)
  })
  const aliases = await repo.findAliases(deps.store.db, provider.name, pending.map((p) => p.externalSku))
  const warehouses = await listWarehouses(deps.store.db)
  const byCode = new Map(warehouses.map((w) => [w.code, w.id]))
  const ids = new Set(warehouses.map((w) => w.id))
  const ready: MappedMovement[] = []
  for (const p of pending) {
    const sku = aliases.get(p.externalSku) ?? p.externalSku
    const aliased = sku !== p.externalSku ? { external_sku: p.externalSku } : {}
    const warehouseId = p.warehouseId ?? byCode.get(p.warehouseCode!) ?? null
    const refuse = (code: ErrorCode, detail: string): ItemOutcome => ({ index: p.index, sku, ...aliased, warehouse_id: warehouseId, change_type: p.changeType, status: 'refused', code, detail })
    if (warehouseId === null || !ids.has(warehouseId)) outcomes[p.index] = refuse('warehouse_not_found', p.warehouseCode !== null ? `No warehouse has code ${p.warehouseCode}` : `No warehouse has id ${p.warehouseId}`)
    else if (!mayWriteWarehouse(provider.warehouses, warehouseId)) outcomes[p.index] = refuse('warehouse_forbidden', `Provider ${provider.name} may not write to warehouse ${warehouseId}`)
    else ready.push({ ...p, sku, warehouseId })
  }
  return { eventId: eventId ?? createHash('sha256').update(payloadText).digest('hex'), ready, outcomes }
}

// ---- applying ----

function movementOf(m: MappedMovement, now: number): Movement {
  switch (m.changeType) {
    case 'sale':
    case 'restock':
      return { kind: m.changeType, quantity: m.quantity }
    case 'adjustment':
      return { kind: 'adjustment', count: m.quantity }
    case 'sync':
      return { kind: 'sync', count: m.quantity, observedAt: m.observedAt ?? now }
  }
}

function base(m: MappedMovement) {
  return { index: m.index, sku: m.sku, ...(m.sku !== m.externalSku ? { external_sku: m.externalSku } : {}), warehouse_id: m.warehouseId, change_type: m.changeType }
}

/** Write one movement through the level writer; refusals (not enough stock, …) are the item's outcome, not the batch's. */
async function applyOne(deps: ServiceDeps, trx: Transaction<Database>, provider: string, product: Product, m: MappedMovement, ctx: RequestContext, now: number): Promise<ItemOutcome> {
  try {
    const meta = { changeType: m.changeType, source: provider, referenceId: m.referenceId, reservationId: null, actor: ctx.actor, notes: m.notes }
    const w = await writeMovement({ ex: trx, caps: deps.store.caps, now, deps }, product, m.warehouseId, movementOf(m, now), meta)
    const e = w.entry
    const status = e.status === 'stale' ? 'stale' : e.onHandBefore === e.onHandAfter && e.reservedBefore === e.reservedAfter ? 'unchanged' : 'applied'
    return { ...base(m), status, previous: e.onHandBefore, current: e.onHandAfter, movement_id: e.id }
  } catch (e) {
    if (e instanceof DomainError) return { ...base(m), status: 'refused', code: e.code, detail: e.message }
    throw e
  }
}

/**
 * A snapshot of counts (every item a sync with one observed time and reference, no notes), as an
 * inventory feed sends it: such a delivery goes through the bulk sync's set-based writer, a few
 * statements for the whole batch instead of several per item (measured: bench, "provider webhook").
 */
function isOneCount(items: ReadonlyArray<MappedMovement>): { observedAt: number | null; referenceId: string | null } | null {
  if (items.length < 2) return null
  const [first] = items
  for (const m of items) if (m.changeType !== 'sync' || m.observedAt !== first!.observedAt || m.referenceId !== first!.referenceId || m.notes !== null) return null
  return { observedAt: first!.observedAt, referenceId: first!.referenceId }
}

async function applyCountsSetBased(deps: ServiceDeps, trx: Transaction<Database>, provider: string, items: ReadonlyArray<MappedMovement>, shared: { observedAt: number | null; referenceId: string | null }, outcomes: Array<ItemOutcome | undefined>, ctx: RequestContext): Promise<void> {
  const r = await writeBulkCounts(deps, trx, { items: items.map((m) => ({ sku: m.sku, warehouse_id: m.warehouseId, quantity: m.quantity })), source: provider, referenceId: shared.referenceId, observedAt: shared.observedAt ?? undefined }, ctx)
  r.items.forEach((o, k) => {
    const m = items[k]!
    outcomes[m.index] =
      o.status === 'rejected'
        ? { ...base(m), status: 'refused', code: o.code, detail: o.detail }
        : { ...base(m), status: o.status === 'stale' ? 'stale' : o.previous === o.current ? 'unchanged' : 'applied', previous: o.previous, current: o.current, movement_id: o.movementId ?? 0 }
  })
}

/** Register SKUs a `create` provider sent for the first time (a concurrent twin may win: both see the product). */
async function registerSkus(trx: Transaction<Database>, items: ReadonlyArray<MappedMovement>, now: number): Promise<void> {
  const seen = new Map<string, { sku: string; productId: number; name: string | null }>()
  // product_id 0: not linked to a store product yet (set it with PATCH /products/{sku} or a catalogue import).
  for (const m of items) if (!seen.has(m.sku)) seen.set(m.sku, { sku: m.sku, productId: m.productId ?? 0, name: m.name })
  await repo.insertProductsIfAbsent(trx, [...seen.values()], now)
}

function tally(eventId: string, results: ReadonlyArray<ItemOutcome>): WebhookResult {
  const n = { applied: 0, unchanged: 0, stale: 0, held: 0, refused: 0 }
  for (const r of results) n[r.status]++
  return { event_id: eventId, ...n, results }
}

/**
 * Map a verified payload and apply its movements: one transaction for the whole delivery, one
 * outcome per item, in payload order. A mapping that fails throws `mapping_failed` before
 * anything is written. A delivery of an event already processed returns the first answer.
 */
export async function receiveProviderPayload(deps: ServiceDeps, provider: InboundProvider, payloadText: string, ctx: RequestContext): Promise<Replayable<WebhookResult>> {
  const { eventId, ready, outcomes } = await mapPayload(deps, provider, payloadText)
  const claim = { scope: `provider:${provider.name}`, key: eventId, requestHash: createHash('sha256').update(`${provider.name}\u0000${eventId}`).digest('hex') }
  let done: Replayable<WebhookResult>
  try {
    done = await runIdempotent(deps, claim, (trx) => applyMapped(deps, trx, provider, eventId, ready, outcomes, ctx))
  } catch (e) {
    // Every item refused: the transaction rolled back and the event is not remembered, so the
    // provider's retry (after the SKU is registered, the stock arrived, …) gets a fresh attempt.
    if (!(e instanceof NothingTookEffect)) throw e
    done = { value: e.result, replayed: false }
  }
  // After the commit (#15): what each item did, by its (validated) change type.
  if (!done.replayed) countItemOutcomes(done.value.results, (r) => r.change_type)
  return done
}

class NothingTookEffect extends Error {
  readonly result: WebhookResult
  constructor(result: WebhookResult) {
    super('Every item of the delivery was refused')
    this.result = result
  }
}

/** The writing half of a delivery, inside its transaction: register, hold or apply each mapped movement in payload order. */
async function applyMapped(deps: ServiceDeps, trx: Transaction<Database>, provider: InboundProvider, eventId: string, ready: ReadonlyArray<MappedMovement>, outcomes: Array<ItemOutcome | undefined>, ctx: RequestContext): Promise<WebhookResult> {
  const now = deps.clock.now()
  const caps = deps.store.caps
  // Lock every product this payload touches first, in the one order all writers use (no deadlocks).
  let products = new Map((await lockProductsInOrder(trx, caps, ready.map((m) => m.sku))).map((p) => [p.sku, p]))
  const unknown = ready.filter((m) => !products.has(m.sku))
  if (unknown.length > 0 && provider.unknownSku === 'create') {
    await registerSkus(trx, unknown, now)
    products = new Map((await lockProductsInOrder(trx, caps, ready.map((m) => m.sku))).map((p) => [p.sku, p]))
  }
  const held: Parameters<typeof repo.insertHeldItems>[1][number][] = []
  const known = ready.filter((m) => products.has(m.sku))
  const fast = isOneCount(known)
  if (fast) await applyCountsSetBased(deps, trx, provider.name, known, fast, outcomes, ctx)
  for (const m of ready) {
    const product = products.get(m.sku)
    if (product) {
      if (!fast) outcomes[m.index] = await applyOne(deps, trx, provider.name, product, m, ctx, now)
    } else if (provider.unknownSku === 'hold') {
      const id = deps.ids.next('hld')
      held.push({ id, provider: provider.name, externalSku: m.externalSku, eventId, itemIndex: m.index, movement: { ...m, observedAt: m.observedAt ?? now }, heldAt: now })
      outcomes[m.index] = { ...base(m), status: 'held', held_id: id }
    } else {
      outcomes[m.index] = { ...base(m), status: 'refused', code: 'sku_not_found', detail: `No product is registered with SKU ${m.sku}` }
    }
  }
  await repo.insertHeldItems(trx, held)
  const result = tally(eventId, outcomes as ItemOutcome[])
  if (result.results.length > 0 && result.refused === result.results.length) throw new NothingTookEffect(result)
  return result
}

/** What a payload would produce, resolved against the current catalogue; changes nothing. */
export async function testProviderPayload(deps: ServiceDeps, provider: InboundProvider, payloadText: string): Promise<{ event_id: string; movements: ReadonlyArray<Record<string, unknown>> }> {
  const { eventId, ready, outcomes } = await mapPayload(deps, provider, payloadText)
  const known = new Set((await findProducts(deps.store.db, [...new Set(ready.map((m) => m.sku))])).map((p) => p.sku))
  const onUnknown = { reject: 'refused: sku_not_found', create: 'would register the SKU', hold: 'would be held' }[provider.unknownSku]
  for (const m of ready) {
    const o = base(m)
    outcomes[m.index] = known.has(m.sku) ? ({ ...o, status: 'ready' } as unknown as ItemOutcome) : ({ ...o, status: 'unknown_sku', policy: provider.unknownSku, detail: onUnknown } as unknown as ItemOutcome)
  }
  const byIndex = new Map(ready.map((m) => [m.index, m]))
  return {
    event_id: eventId,
    movements: (outcomes as Array<Record<string, unknown>>).map((o, i) => {
      const m = byIndex.get(i)
      return m ? { ...o, quantity: m.quantity, reference_id: m.referenceId, observed_at: m.observedAt === null ? null : new Date(m.observedAt).toISOString(), notes: m.notes } : o
    }),
  }
}

// ---- held items ----

export interface HeldView {
  readonly id: string
  readonly external_sku: string
  readonly event_id: string
  readonly index: number
  readonly warehouse_id: number
  readonly change_type: string
  readonly quantity: number
  readonly status: string
  readonly outcome: unknown
  readonly held_at: string
  readonly resolved_at: string | null
}

export function heldView(h: HeldItem): HeldView {
  const m = h.movement as MappedMovement
  return { id: h.id, external_sku: h.externalSku, event_id: h.eventId, index: h.itemIndex, warehouse_id: m.warehouseId, change_type: m.changeType, quantity: m.quantity, status: h.status, outcome: h.outcome, held_at: new Date(h.heldAt).toISOString(), resolved_at: h.resolvedAt === null ? null : new Date(h.resolvedAt).toISOString() }
}

async function requireKnownProvider(deps: ServiceDeps, opts: ProviderOptions, name: string): Promise<void> {
  if (!(await findInboundProvider(deps, opts, name))) throw new DomainError('provider_not_found', `No provider called ${name.slice(0, 64)}`, { name: name.slice(0, 64) })
}

export async function listHeld(deps: ServiceDeps, opts: ProviderOptions, name: string, externalSku?: string): Promise<HeldView[]> {
  await requireKnownProvider(deps, opts, name)
  return (await repo.listHeldItems(deps.store.db, name, externalSku === undefined ? {} : { externalSku })).map(heldView)
}

/** Held items oldest first, one page at a time (#12). */
export async function listHeldPage(deps: ServiceDeps, opts: ProviderOptions, name: string, q: PageParams & { externalSku?: string | undefined }): Promise<Page<HeldView>> {
  await requireKnownProvider(deps, opts, name)
  const afterSeq = q.cursor === undefined ? undefined : (decodeCursor(q.cursor, ['number'])[0] as number)
  const page = await pageOf(
    q.limit ?? DEFAULT_PAGE_LIMIT,
    (take) => repo.listHeldItems(deps.store.db, name, { limit: take, ...(q.externalSku === undefined ? {} : { externalSku: q.externalSku }), ...(afterSeq === undefined ? {} : { afterSeq }) }),
    (h) => [h.seq],
  )
  return { items: page.items.map(heldView), nextCursor: page.nextCursor }
}

export type Resolution = { readonly sku: string } | { readonly create: true } | { readonly discard: true }

export interface ResolveResult {
  readonly external_sku: string
  readonly sku: string | null
  readonly action: 'mapped' | 'created' | 'discarded'
  readonly results: ReadonlyArray<ItemOutcome | { readonly id: string; readonly status: 'discarded' }>
}

/**
 * Resolve an unknown SKU of a provider: map it to a registered SKU (an alias used for every
 * later payload too), register it as it is, or discard its held items. Held items then apply in
 * the order they arrived, in one transaction, each with its own outcome (a count older than one
 * applied since is stale, as it would have been on time).
 */
export async function resolveHeld(deps: ServiceDeps, opts: ProviderOptions, name: string, externalSku: string, how: Resolution, ctx: RequestContext): Promise<ResolveResult> {
  await requireKnownProvider(deps, opts, name)
  if (typeof externalSku !== 'string' || !isSku(externalSku)) throw invalid('/external_sku', 'must be a SKU as the provider sends it')
  const result = await inTransaction(deps, async (trx) => {
    const now = deps.clock.now()
    const items = await repo.listHeldItems(trx, name, { externalSku, limit: MAX_PROVIDER_MOVEMENTS })
    if ('discard' in how) {
      const results = []
      for (const h of items) if (await repo.settleHeldItem(trx, h.id, 'discarded', { by: ctx.actor }, now)) results.push({ id: h.id, status: 'discarded' as const })
      return { external_sku: externalSku, sku: null, action: 'discarded' as const, results }
    }
    let sku: string
    if ('sku' in how) {
      if (typeof how.sku !== 'string' || !isSku(how.sku)) throw invalid('/sku', 'must be a registered SKU')
      sku = how.sku
      const [p] = await lockProductsInOrder(trx, deps.store.caps, [sku])
      if (!p) throw new DomainError('sku_not_found', `No product is registered with SKU ${sku}`, { sku })
      if (sku !== externalSku) await repo.upsertAlias(trx, name, externalSku, sku, now)
    } else {
      sku = externalSku
      const first = items[0]?.movement as MappedMovement | undefined
      await registerSkus(trx, [{ ...(first ?? ({} as MappedMovement)), sku, productId: first?.productId ?? null, name: first?.name ?? null }], now)
    }
    const [product] = await lockProductsInOrder(trx, deps.store.caps, [sku])
    const results: ItemOutcome[] = []
    for (const h of items) {
      const m = { ...(h.movement as MappedMovement), sku }
      // Claim the row first: a resolver racing this one finds it settled and skips it.
      if (!(await repo.settleHeldItem(trx, h.id, 'applied', null, now))) continue
      const o = await applyOne(deps, trx, name, product!, m, { ...ctx, allowedWarehouses: null }, now)
      await repo.recordHeldOutcome(trx, h.id, o.status === 'refused' ? 'refused' : 'applied', o)
      results.push(o)
    }
    return { external_sku: externalSku, sku, action: 'sku' in how ? ('mapped' as const) : ('created' as const), results }
  })
  countItemOutcomes(result.results as ReadonlyArray<ItemOutcome | { readonly status: 'discarded' }>, (r) => ('change_type' in r ? r.change_type : null))
  deps.events.notify()
  return result
}

/** For the webhook route's log of deliveries: a short summary of the outcome. */
export function summaryOf(r: WebhookResult): Record<string, unknown> {
  return { event_id: r.event_id, applied: r.applied, unchanged: r.unchanged, stale: r.stale, held: r.held, refused: r.refused }
}
