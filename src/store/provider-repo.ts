/** @module store/provider-repo: inbound providers, their SKU aliases and held items (migration 0007). */
import type { Selectable } from 'kysely'
import { openSecret, sealSecret } from '../security/secret-box.js'
import type { Executor } from './db.js'
import type { HeldItemTable, ProviderTable } from './provider-schema.js'

export const UNKNOWN_SKU_POLICIES = ['reject', 'create', 'hold'] as const
export type UnknownSkuPolicy = (typeof UNKNOWN_SKU_POLICIES)[number]

export interface StoredProvider {
  readonly name: string
  readonly secret: string
  readonly header: string
  readonly encoding: 'hex' | 'base64'
  readonly prefix: string
  readonly warehouses: ReadonlyArray<number> | null
  readonly mapping: string
  readonly preset: string | null
  readonly unknownSku: UnknownSkuPolicy
  readonly createdAt: number
  readonly updatedAt: number
}

function toProvider(r: Selectable<ProviderTable>, sealKey: Buffer | null): StoredProvider {
  return {
    name: r.name,
    secret: openSecret(r.secret, sealKey),
    header: r.header,
    encoding: r.encoding as 'hex' | 'base64',
    prefix: r.prefix,
    warehouses: r.warehouses === null ? null : (JSON.parse(r.warehouses) as number[]),
    mapping: r.mapping,
    preset: r.preset,
    unknownSku: r.unknown_sku as UnknownSkuPolicy,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

/** Secrets go in sealed with KEY_ENCRYPTION_KEY when it is set (as store and signing secrets do). */
export async function insertProvider(ex: Executor, p: StoredProvider, sealKey: Buffer | null): Promise<void> {
  await ex
    .insertInto('provider')
    .values({
      name: p.name,
      secret: sealSecret(p.secret, sealKey),
      header: p.header,
      encoding: p.encoding,
      prefix: p.prefix,
      warehouses: p.warehouses === null ? null : JSON.stringify(p.warehouses),
      mapping: p.mapping,
      preset: p.preset,
      unknown_sku: p.unknownSku,
      created_at: p.createdAt,
      updated_at: p.updatedAt,
    })
    .execute()
}

export async function replaceProvider(ex: Executor, p: StoredProvider, sealKey: Buffer | null): Promise<boolean> {
  const r = await ex
    .updateTable('provider')
    .set({
      secret: sealSecret(p.secret, sealKey),
      header: p.header,
      encoding: p.encoding,
      prefix: p.prefix,
      warehouses: p.warehouses === null ? null : JSON.stringify(p.warehouses),
      mapping: p.mapping,
      preset: p.preset,
      unknown_sku: p.unknownSku,
      updated_at: p.updatedAt,
    })
    .where('name', '=', p.name)
    .executeTakeFirst()
  return r.numUpdatedRows === 1n
}

export async function findProvider(ex: Executor, name: string, sealKey: Buffer | null): Promise<StoredProvider | undefined> {
  const r = await ex.selectFrom('provider').selectAll().where('name', '=', name).executeTakeFirst()
  return r ? toProvider(r, sealKey) : undefined
}

/** Every provider, secrets left sealed-and-unread (listing must work even with a wrong key). */
export async function listProviders(ex: Executor): Promise<Array<Omit<StoredProvider, 'secret'>>> {
  const rows = await ex.selectFrom('provider').selectAll().orderBy('name').execute()
  return rows.map((r) => {
    const { secret: _secret, ...rest } = toProvider({ ...r, secret: 'plain:' }, null)
    return rest
  })
}

export async function deleteProvider(ex: Executor, name: string): Promise<boolean> {
  await ex.deleteFrom('provider_sku_alias').where('provider', '=', name).execute()
  const r = await ex.deleteFrom('provider').where('name', '=', name).executeTakeFirst()
  return r.numDeletedRows === 1n
}

// ---- SKU aliases ----

export async function findAliases(ex: Executor, provider: string, externalSkus: ReadonlyArray<string>): Promise<Map<string, string>> {
  if (externalSkus.length === 0) return new Map()
  const out = new Map<string, string>()
  const unique = [...new Set(externalSkus)]
  for (let i = 0; i < unique.length; i += 1000) {
    const rows = await ex.selectFrom('provider_sku_alias').select(['external_sku', 'sku']).where('provider', '=', provider).where('external_sku', 'in', unique.slice(i, i + 1000)).execute()
    for (const r of rows) out.set(r.external_sku, r.sku)
  }
  return out
}

export async function upsertAlias(ex: Executor, provider: string, externalSku: string, sku: string, now: number): Promise<void> {
  await ex.deleteFrom('provider_sku_alias').where('provider', '=', provider).where('external_sku', '=', externalSku).execute()
  await ex.insertInto('provider_sku_alias').values({ provider, external_sku: externalSku, sku, created_at: now }).execute()
}

export async function listAliases(ex: Executor, provider: string) {
  return ex.selectFrom('provider_sku_alias').select(['external_sku', 'sku']).where('provider', '=', provider).orderBy('external_sku').execute()
}

// ---- held items ----

export type HeldStatus = 'held' | 'applied' | 'refused' | 'discarded'

export interface HeldItem {
  readonly seq: number
  readonly id: string
  readonly provider: string
  readonly externalSku: string
  readonly eventId: string
  readonly itemIndex: number
  readonly movement: unknown
  readonly status: HeldStatus
  readonly outcome: unknown
  readonly heldAt: number
  readonly resolvedAt: number | null
}

function toHeld(r: Selectable<HeldItemTable>): HeldItem {
  return {
    seq: Number(r.seq),
    id: r.id,
    provider: r.provider,
    externalSku: r.external_sku,
    eventId: r.event_id,
    itemIndex: r.item_index,
    movement: JSON.parse(r.movement),
    status: r.status as HeldStatus,
    outcome: r.outcome === null ? null : JSON.parse(r.outcome),
    heldAt: Number(r.held_at),
    resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
  }
}

export async function insertHeldItems(ex: Executor, items: ReadonlyArray<{ id: string; provider: string; externalSku: string; eventId: string; itemIndex: number; movement: unknown; heldAt: number }>): Promise<void> {
  for (let i = 0; i < items.length; i += 500) {
    await ex
      .insertInto('held_item')
      .values(items.slice(i, i + 500).map((h) => ({ id: h.id, provider: h.provider, external_sku: h.externalSku, event_id: h.eventId, item_index: h.itemIndex, movement: JSON.stringify(h.movement), status: 'held', outcome: null, held_at: h.heldAt, resolved_at: null })))
      .execute()
  }
}

/** Held items, oldest first; `externalSku` narrows to one SKU; `status` defaults to held. */
export async function listHeldItems(ex: Executor, provider: string, opts: { externalSku?: string; status?: HeldStatus; limit?: number; afterSeq?: number } = {}): Promise<HeldItem[]> {
  const rows = await ex
    .selectFrom('held_item')
    .selectAll()
    .where('provider', '=', provider)
    .where('status', '=', opts.status ?? 'held')
    .$if(opts.externalSku !== undefined, (qb) => qb.where('external_sku', '=', opts.externalSku!))
    .$if(opts.afterSeq !== undefined, (qb) => qb.where('seq', '>', opts.afterSeq!))
    .orderBy('seq')
    .limit(opts.limit ?? 1000)
    .execute()
  return rows.map(toHeld)
}

/** Settle one held item; false when it was no longer held (another resolver got there first). */
export async function settleHeldItem(ex: Executor, id: string, status: Exclude<HeldStatus, 'held'>, outcome: unknown, now: number): Promise<boolean> {
  const r = await ex
    .updateTable('held_item')
    .set({ status, outcome: outcome === null ? null : JSON.stringify(outcome), resolved_at: now })
    .where('id', '=', id)
    .where('status', '=', 'held')
    .executeTakeFirst()
  return r.numUpdatedRows === 1n
}

/** After a held item was claimed (settled) and applied: what became of it. */
export async function recordHeldOutcome(ex: Executor, id: string, status: 'applied' | 'refused', outcome: unknown): Promise<void> {
  await ex.updateTable('held_item').set({ status, outcome: JSON.stringify(outcome) }).where('id', '=', id).execute()
}

/**
 * Register SKUs a provider with the `create` policy sent (or an admin resolved by creating them),
 * with the defaults of `POST /products`; a SKU registered meanwhile by someone else is left as it is.
 */
export async function insertProductsIfAbsent(ex: Executor, products: ReadonlyArray<{ sku: string; productId: number; name: string | null }>, now: number): Promise<void> {
  const rows = products.map((p) => ({ sku: p.sku, product_id: p.productId, parent_id: null, name: p.name, allows_backorders: 0, safety_stock: 0, low_stock_threshold: 5, created_at: now, updated_at: now }))
  for (let i = 0; i < rows.length; i += 500) await ex.insertInto('product').values(rows.slice(i, i + 500)).onConflict((oc) => oc.column('sku').doNothing()).execute()
}
