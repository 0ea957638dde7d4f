/**
 * @module store/woo-repo: the WooCommerce connector's rows: stores, SKU mappings and their
 * problems, received webhook deliveries (a queue), order-line records, drift and reconciliation runs.
 */
import { sql, type Selectable } from 'kysely'
import type { WooOrderLineTable, WooStoreTable } from './woo-schema.js'
import { openSecret, sealSecret } from '../security/secret-box.js'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import { pastCursor } from './keyset.js'

/**
 * Consumer secrets and webhook secrets are sealed with KEY_ENCRYPTION_KEY when it is set (as the
 * API keys' signing secrets are, #5), and stored `plain:` otherwise. Set once at start.
 */
let sealKey: Buffer | null = null
export function useStoreSealKey(key: Buffer | null): void {
  sealKey = key
}
const seal = (v: string) => sealSecret(v, sealKey)
const unseal = (v: string) => (v.startsWith('plain:') || v.startsWith('aesgcm:') ? openSecret(v, sealKey) : v)

export const STORE_MODES = ['live', 'observe', 'paused'] as const
export type StoreMode = (typeof STORE_MODES)[number]
export type StoreHealth = 'unknown' | 'ok' | 'unhealthy'

export interface WooStore {
  readonly id: string
  readonly name: string
  readonly baseUrl: string
  readonly consumerKey: string
  readonly consumerSecret: string
  /** Warehouse ids whose stock the store sells (priority order comes from the warehouses). */
  readonly warehouses: ReadonlyArray<number>
  readonly buffer: number
  readonly mode: StoreMode
  readonly concurrency: number
  readonly holdMinutes: number
  readonly caFile: string | null
  readonly webhookSecret: string | null
  readonly callbackUrl: string | null
  readonly health: StoreHealth
  readonly healthReason: string | null
  readonly healthChangedAt: number | null
  /** The delivery pacer's last figures for this store (JSON object with `at`), null before any push. */
  readonly pushStatus: Readonly<Record<string, unknown>> | null
  /** While the store cannot be reached: since when (epoch ms). */
  readonly unreachableSince: number | null
  readonly createdAt: number
  readonly updatedAt: number
}

// The row as the database returns it, straight from the table's schema type.
type Row = Selectable<WooStoreTable>

function toStore(r: Row): WooStore {
  return {
    id: r.id,
    name: r.name,
    baseUrl: r.base_url,
    consumerKey: r.consumer_key,
    consumerSecret: unseal(r.consumer_secret),
    warehouses: JSON.parse(r.warehouses) as number[],
    buffer: Number(r.buffer),
    mode: r.mode as StoreMode,
    concurrency: Number(r.concurrency),
    holdMinutes: Number(r.hold_minutes),
    caFile: r.ca_file,
    webhookSecret: r.webhook_secret === null ? null : unseal(r.webhook_secret),
    callbackUrl: r.callback_url,
    health: r.health as StoreHealth,
    healthReason: r.health_reason,
    healthChangedAt: r.health_changed_at === null ? null : Number(r.health_changed_at),
    pushStatus: parseStatus(r.push_status),
    unreachableSince: r.unreachable_since === null ? null : Number(r.unreachable_since),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

function parseStatus(v: string | null): Record<string, unknown> | null {
  if (v === null) return null
  try {
    const o: unknown = JSON.parse(v)
    return o !== null && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export async function insertStore(ex: Executor, s: WooStore): Promise<void> {
  await ex
    .insertInto('woo_store')
    .values({
      id: s.id,
      name: s.name,
      base_url: s.baseUrl,
      consumer_key: s.consumerKey,
      consumer_secret: seal(s.consumerSecret),
      warehouses: JSON.stringify(s.warehouses),
      buffer: s.buffer,
      mode: s.mode,
      concurrency: s.concurrency,
      hold_minutes: s.holdMinutes,
      ca_file: s.caFile,
      webhook_secret: s.webhookSecret === null ? null : seal(s.webhookSecret),
      callback_url: s.callbackUrl,
      health: s.health,
      health_reason: s.healthReason,
      health_changed_at: s.healthChangedAt,
      push_status: s.pushStatus === null ? null : JSON.stringify(s.pushStatus),
      unreachable_since: s.unreachableSince,
      created_at: s.createdAt,
      updated_at: s.updatedAt,
    })
    .execute()
}

export async function listStores(ex: Executor): Promise<WooStore[]> {
  return (await ex.selectFrom('woo_store').selectAll().orderBy('name').execute()).map(toStore)
}

/** One page by name (names are unique), after `afterName` (#12). */
export async function listStorePage(ex: Executor, take: number, afterName?: string): Promise<WooStore[]> {
  return (await ex.selectFrom('woo_store').selectAll().$if(afterName !== undefined, (qb) => qb.where('name', '>', afterName!)).orderBy('name').limit(take).execute()).map(toStore)
}

/** By id (`sto_…`) or by name. */
export async function findStore(ex: Executor, idOrName: string): Promise<WooStore | undefined> {
  const r = await ex
    .selectFrom('woo_store')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst()
  return r ? toStore(r) : undefined
}

export type StorePatch = Partial<Pick<WooStore, 'name' | 'baseUrl' | 'consumerKey' | 'consumerSecret' | 'warehouses' | 'buffer' | 'mode' | 'concurrency' | 'holdMinutes' | 'caFile' | 'webhookSecret' | 'callbackUrl'>>

export async function updateStore(ex: Executor, id: string, p: StorePatch, now: number): Promise<WooStore | undefined> {
  const r = await ex
    .updateTable('woo_store')
    .set({
      ...(p.name !== undefined ? { name: p.name } : {}),
      ...(p.baseUrl !== undefined ? { base_url: p.baseUrl } : {}),
      ...(p.consumerKey !== undefined ? { consumer_key: p.consumerKey } : {}),
      ...(p.consumerSecret !== undefined ? { consumer_secret: seal(p.consumerSecret) } : {}),
      ...(p.warehouses !== undefined ? { warehouses: JSON.stringify(p.warehouses) } : {}),
      ...(p.buffer !== undefined ? { buffer: p.buffer } : {}),
      ...(p.mode !== undefined ? { mode: p.mode } : {}),
      ...(p.concurrency !== undefined ? { concurrency: p.concurrency } : {}),
      ...(p.holdMinutes !== undefined ? { hold_minutes: p.holdMinutes } : {}),
      ...(p.caFile !== undefined ? { ca_file: p.caFile } : {}),
      ...(p.webhookSecret !== undefined ? { webhook_secret: p.webhookSecret === null ? null : seal(p.webhookSecret) } : {}),
      ...(p.callbackUrl !== undefined ? { callback_url: p.callbackUrl } : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst()
  return r ? toStore(r) : undefined
}

/** Record a health change; returns true when the health actually changed (alert once). */
export async function setStoreHealth(ex: Executor, id: string, health: StoreHealth, reason: string | null, now: number): Promise<boolean> {
  const res = await ex
    .updateTable('woo_store')
    .set({ health, health_reason: reason?.slice(0, 500) ?? null, health_changed_at: now })
    .where('id', '=', id)
    .where('health', '!=', health)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** Record the delivery pacer's figures (written by the node pushing to the store; last writer wins). */
export async function setPushStatus(ex: Executor, id: string, status: Readonly<Record<string, unknown>>): Promise<void> {
  await ex.updateTable('woo_store').set({ push_status: JSON.stringify(status) }).where('id', '=', id).execute()
}

/**
 * The store cannot be reached: unhealthy with the reason, `unreachable_since` kept from the first
 * failure. True when this call made it so (it was reachable before), to alert once.
 */
export async function markUnreachable(ex: Executor, id: string, reason: string, now: number): Promise<boolean> {
  const res = await ex
    .updateTable('woo_store')
    .set({ health: 'unhealthy', health_reason: reason.slice(0, 500), health_changed_at: now, unreachable_since: now })
    .where('id', '=', id)
    .where('unreachable_since', 'is', null)
    .executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** The store answered: reachable again (health is set by the caller). True when it was unreachable. */
export async function markReachable(ex: Executor, id: string): Promise<boolean> {
  const res = await ex.updateTable('woo_store').set({ unreachable_since: null }).where('id', '=', id).where('unreachable_since', 'is not', null).executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** Remove a store and everything of it, including its pending delivery slots. */
export async function deleteStore(ex: Executor, id: string): Promise<boolean> {
  await ex.deleteFrom('delivery').where('target_id', '=', id).execute()
  for (const t of ['woo_mapping', 'woo_mapping_problem', 'woo_webhook_delivery', 'woo_order_line', 'woo_drift', 'woo_reconcile_run'] as const) {
    await ex.deleteFrom(t).where('store_id', '=', id).execute()
  }
  const res = await ex.deleteFrom('woo_store').where('id', '=', id).executeTakeFirst()
  return Number(res.numDeletedRows) === 1
}

// ---------------------------------------------------------------------------------- mappings

export interface Mapping {
  readonly sku: string
  readonly productId: number
  /** The variable parent of a variation; null for a simple product. */
  readonly parentId: number | null
  readonly lastPushed: number | null
  readonly pushing: number | null
  readonly pushedAt: number | null
}

function toMapping(r: { sku: string; product_id: number | string; parent_id: number | string | null; last_pushed: number | null; pushing: number | null; pushed_at: number | string | null }): Mapping {
  return {
    sku: r.sku,
    productId: Number(r.product_id),
    parentId: r.parent_id === null ? null : Number(r.parent_id),
    lastPushed: r.last_pushed === null ? null : Number(r.last_pushed),
    pushing: r.pushing === null ? null : Number(r.pushing),
    pushedAt: r.pushed_at === null ? null : Number(r.pushed_at),
  }
}

function chunks<T>(list: ReadonlyArray<T>, size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size))
  return out
}

export async function findMappings(ex: Executor, storeId: string, skus: ReadonlyArray<string>): Promise<Map<string, Mapping>> {
  const out = new Map<string, Mapping>()
  for (const part of chunks([...new Set(skus)], 5000)) {
    if (part.length === 0) continue
    const rows = await ex.selectFrom('woo_mapping').selectAll().where('store_id', '=', storeId).where('sku', 'in', part).execute()
    for (const r of rows) out.set(r.sku, toMapping(r))
  }
  return out
}

export async function findMappingByProductId(ex: Executor, storeId: string, productId: number): Promise<Mapping | undefined> {
  const r = await ex.selectFrom('woo_mapping').selectAll().where('store_id', '=', storeId).where('product_id', '=', productId).executeTakeFirst()
  return r ? toMapping(r) : undefined
}

/** Mapped SKUs in SKU order, a page at a time. */
export async function listMappings(ex: Executor, storeId: string, afterSku: string | null, limit: number): Promise<Mapping[]> {
  const rows = await ex
    .selectFrom('woo_mapping')
    .selectAll()
    .where('store_id', '=', storeId)
    .$if(afterSku !== null, (qb) => qb.where('sku', '>', afterSku as string))
    .orderBy('sku')
    .limit(limit)
    .execute()
  return rows.map(toMapping)
}

export async function countMappings(ex: Executor, storeId: string): Promise<number> {
  const r = await ex.selectFrom('woo_mapping').select((eb) => eb.fn.countAll<number | string>().as('n')).where('store_id', '=', storeId).executeTakeFirstOrThrow()
  return Number(r.n)
}

/** Insert or move mappings (a product id that changed forgets what was pushed to the old one). */
export async function upsertMappings(ex: Executor, caps: DialectCaps, storeId: string, rows: ReadonlyArray<{ sku: string; productId: number; parentId: number | null }>, now: number): Promise<void> {
  for (const part of chunks(rows, Math.floor(caps.maxParams / 8))) {
    if (part.length === 0) continue
    await ex
      .insertInto('woo_mapping')
      .values(part.map((r) => ({ store_id: storeId, sku: r.sku, product_id: r.productId, parent_id: r.parentId, last_pushed: null, pushing: null, pushed_at: null, updated_at: now })))
      .onConflict((oc) =>
        oc.columns(['store_id', 'sku']).doUpdateSet({
          product_id: (eb) => eb.ref('excluded.product_id'),
          parent_id: (eb) => eb.ref('excluded.parent_id'),
          updated_at: (eb) => eb.ref('excluded.updated_at'),
          last_pushed: sql`case when woo_mapping.product_id = excluded.product_id then woo_mapping.last_pushed else null end`,
        }),
      )
      .execute()
  }
}

export async function deleteMappings(ex: Executor, storeId: string, skus: ReadonlyArray<string>): Promise<void> {
  for (const part of chunks(skus, 5000)) if (part.length) await ex.deleteFrom('woo_mapping').where('store_id', '=', storeId).where('sku', 'in', part).execute()
}

/** The figure about to be sent: a product.updated showing it is our own echo even before we hear back. */
export async function markPushing(ex: Executor, storeId: string, items: ReadonlyArray<{ sku: string; figure: number }>): Promise<void> {
  for (const [figure, skus] of groupByFigure(items)) {
    for (const part of chunks(skus, 5000)) await ex.updateTable('woo_mapping').set({ pushing: figure }).where('store_id', '=', storeId).where('sku', 'in', part).execute()
  }
}

export async function markPushed(ex: Executor, storeId: string, items: ReadonlyArray<{ sku: string; figure: number }>, now: number): Promise<void> {
  for (const [figure, skus] of groupByFigure(items)) {
    for (const part of chunks(skus, 5000)) {
      await ex.updateTable('woo_mapping').set({ last_pushed: figure, pushing: null, pushed_at: now }).where('store_id', '=', storeId).where('sku', 'in', part).execute()
    }
  }
}

/** Forget what we believe the store shows (after drift): the next change pushes again. */
export async function forgetPushed(ex: Executor, storeId: string, skus: ReadonlyArray<string>): Promise<void> {
  for (const part of chunks(skus, 5000)) if (part.length) await ex.updateTable('woo_mapping').set({ last_pushed: null }).where('store_id', '=', storeId).where('sku', 'in', part).execute()
}

function groupByFigure(items: ReadonlyArray<{ sku: string; figure: number }>): Map<number, string[]> {
  const m = new Map<number, string[]>()
  for (const i of items) m.set(i.figure, [...(m.get(i.figure) ?? []), i.sku])
  return m
}

export interface MappingProblem {
  readonly sku: string
  readonly kind: 'unknown' | 'duplicate' | 'not_in_hub' | 'gone'
  readonly detail: string | null
  readonly seenAt: number
}

export async function recordProblems(ex: Executor, caps: DialectCaps, storeId: string, problems: ReadonlyArray<Omit<MappingProblem, 'seenAt'>>, now: number): Promise<void> {
  for (const part of chunks(problems, Math.floor(caps.maxParams / 6))) {
    if (part.length === 0) continue
    await ex
      .insertInto('woo_mapping_problem')
      .values(part.map((p) => ({ store_id: storeId, sku: p.sku, kind: p.kind, detail: p.detail?.slice(0, 500) ?? null, seen_at: now })))
      .onConflict((oc) => oc.columns(['store_id', 'sku']).doUpdateSet({ kind: (eb) => eb.ref('excluded.kind'), detail: (eb) => eb.ref('excluded.detail'), seen_at: (eb) => eb.ref('excluded.seen_at') }))
      .execute()
  }
}

export async function clearProblems(ex: Executor, storeId: string, skus: ReadonlyArray<string>): Promise<void> {
  for (const part of chunks(skus, 5000)) if (part.length) await ex.deleteFrom('woo_mapping_problem').where('store_id', '=', storeId).where('sku', 'in', part).execute()
}

export async function findProblems(ex: Executor, storeId: string, skus: ReadonlyArray<string>): Promise<Map<string, MappingProblem>> {
  const out = new Map<string, MappingProblem>()
  for (const part of chunks([...new Set(skus)], 5000)) {
    if (part.length === 0) continue
    const rows = await ex.selectFrom('woo_mapping_problem').selectAll().where('store_id', '=', storeId).where('sku', 'in', part).execute()
    for (const r of rows) out.set(r.sku, { sku: r.sku, kind: r.kind as MappingProblem['kind'], detail: r.detail, seenAt: Number(r.seen_at) })
  }
  return out
}

export async function listProblems(ex: Executor, storeId: string, limit: number, afterSku?: string): Promise<MappingProblem[]> {
  const rows = await ex
    .selectFrom('woo_mapping_problem')
    .selectAll()
    .where('store_id', '=', storeId)
    .$if(afterSku !== undefined, (qb) => qb.where('sku', '>', afterSku!))
    .orderBy('sku')
    .limit(limit)
    .execute()
  return rows.map((r) => ({ sku: r.sku, kind: r.kind as MappingProblem['kind'], detail: r.detail, seenAt: Number(r.seen_at) }))
}

// ------------------------------------------------------------------------- webhook deliveries

export interface StoredDelivery {
  readonly id: number
  readonly storeId: string
  readonly topic: string
  readonly webhookId: string | null
  readonly deliveryId: string | null
  readonly resourceId: number | null
  readonly body: string
  readonly status: 'pending' | 'done' | 'ignored' | 'failed'
  readonly attempts: number
  readonly result: string | null
  readonly receivedAt: number
  readonly processedAt: number | null
}

function toDelivery(r: {
  id: number | string
  store_id: string
  topic: string
  webhook_id: string | null
  delivery_id: string | null
  resource_id: number | string | null
  body: string
  status: string
  attempts: number
  result: string | null
  received_at: number | string
  processed_at: number | string | null
}): StoredDelivery {
  return {
    id: Number(r.id),
    storeId: r.store_id,
    topic: r.topic,
    webhookId: r.webhook_id,
    deliveryId: r.delivery_id,
    resourceId: r.resource_id === null ? null : Number(r.resource_id),
    body: r.body,
    status: r.status as StoredDelivery['status'],
    attempts: Number(r.attempts),
    result: r.result,
    receivedAt: Number(r.received_at),
    processedAt: r.processed_at === null ? null : Number(r.processed_at),
  }
}

export async function insertWebhookDelivery(ex: Executor, d: { storeId: string; topic: string; webhookId: string | null; deliveryId: string | null; resourceId: number | null; body: string; notBefore: number }, now: number): Promise<number> {
  const r = await ex
    .insertInto('woo_webhook_delivery')
    .values({ store_id: d.storeId, topic: d.topic, webhook_id: d.webhookId, delivery_id: d.deliveryId, resource_id: d.resourceId, body: d.body, status: 'pending', not_before: d.notBefore, attempts: 0, locked_until: null, result: null, received_at: now, processed_at: null })
    .returning('id')
    .executeTakeFirstOrThrow()
  return Number(r.id)
}

/** Claim due pending deliveries under a lease (a crashed processor's claims come back when it runs out). */
export async function claimWebhookDeliveries(ex: Executor, caps: DialectCaps, now: number, leaseMs: number, limit: number): Promise<StoredDelivery[]> {
  const due = ex
    .selectFrom('woo_webhook_delivery')
    .select('id')
    .where('status', '=', 'pending')
    .where('not_before', '<=', now)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .orderBy('id')
    .limit(limit)
    .$if(caps.rowLocks, (qb) => qb.forUpdate().skipLocked())
  const rows = await ex
    .updateTable('woo_webhook_delivery')
    .set((eb) => ({ locked_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
    .where('id', 'in', due)
    .returningAll()
    .execute()
  return rows.map(toDelivery).sort((a, b) => a.id - b.id)
}

export async function finishWebhookDelivery(ex: Executor, id: number, status: 'done' | 'ignored' | 'failed', result: string | null, now: number): Promise<void> {
  await ex.updateTable('woo_webhook_delivery').set({ status, result: result?.slice(0, 500) ?? null, processed_at: now, locked_until: null }).where('id', '=', id).execute()
}

export async function deferWebhookDelivery(ex: Executor, id: number, notBefore: number, result: string | null): Promise<void> {
  await ex.updateTable('woo_webhook_delivery').set({ not_before: notBefore, locked_until: null, result: result?.slice(0, 500) ?? null }).where('id', '=', id).execute()
}

export async function listWebhookDeliveries(ex: Executor, storeId: string, limit: number, beforeId?: number): Promise<StoredDelivery[]> {
  const rows = await ex
    .selectFrom('woo_webhook_delivery')
    .selectAll()
    .where('store_id', '=', storeId)
    .$if(beforeId !== undefined, (qb) => qb.where('id', '<', beforeId!))
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
  return rows.map(toDelivery)
}

/** Forget deliveries processed before the cutoff (they are kept for inspection until then). */
export async function pruneWebhookDeliveries(ex: Executor, cutoff: number, batch = 1000): Promise<number> {
  let total = 0
  for (;;) {
    const ids = await ex.selectFrom('woo_webhook_delivery').select('id').where('status', '!=', 'pending').where('processed_at', '<', cutoff).orderBy('id').limit(batch).execute()
    if (ids.length === 0) return total
    const res = await ex.deleteFrom('woo_webhook_delivery').where('id', 'in', ids.map((r) => r.id)).executeTakeFirst()
    total += Number(res.numDeletedRows)
    if (ids.length < batch) return total
  }
}

export async function countPendingWebhookDeliveries(ex: Executor, storeId?: string): Promise<number> {
  const r = await ex
    .selectFrom('woo_webhook_delivery')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('status', '=', 'pending')
    .$if(storeId !== undefined, (qb) => qb.where('store_id', '=', storeId as string))
    .executeTakeFirstOrThrow()
  return Number(r.n)
}

// ---------------------------------------------------------------------------------- order lines

export type LinePhase = 'none' | 'reserved' | 'sold' | 'released' | 'restocked' | 'closed'

export interface OrderLineRecord {
  readonly storeId: string
  readonly orderId: number
  readonly lineId: number
  readonly sku: string
  readonly quantity: number
  readonly phase: LinePhase
  readonly orderStatus: string
  readonly modifiedGmt: string
  readonly reservationId: string | null
  readonly allocation: ReadonlyArray<{ warehouseId: number; quantity: number }> | null
  readonly oversold: number
  /** Units already recorded as returned by restocking refunds (the line's `_restock_refunded_items`). */
  readonly refundRestocked: number
}

/** The line's record, created as `none` when new, and locked for the rest of the transaction. */
export async function lockOrderLine(ex: Executor, caps: DialectCaps, key: { storeId: string; orderId: number; lineId: number; sku: string; quantity: number }, now: number): Promise<OrderLineRecord> {
  await ex
    .insertInto('woo_order_line')
    .values({ store_id: key.storeId, order_id: key.orderId, line_id: key.lineId, sku: key.sku, quantity: key.quantity, phase: 'none', order_status: '', modified_gmt: '', reservation_id: null, allocation: null, oversold: 0, updated_at: now })
    .onConflict((oc) => oc.columns(['store_id', 'order_id', 'line_id']).doNothing())
    .execute()
  const r = await ex
    .selectFrom('woo_order_line')
    .selectAll()
    .where('store_id', '=', key.storeId)
    .where('order_id', '=', key.orderId)
    .where('line_id', '=', key.lineId)
    .$if(caps.rowLocks, (qb) => qb.forUpdate())
    .executeTakeFirstOrThrow()
  return toOrderLine(r)
}

export async function saveOrderLine(ex: Executor, l: OrderLineRecord, now: number): Promise<void> {
  await ex
    .updateTable('woo_order_line')
    .set({
      sku: l.sku,
      quantity: l.quantity,
      phase: l.phase,
      order_status: l.orderStatus,
      modified_gmt: l.modifiedGmt,
      reservation_id: l.reservationId,
      allocation: l.allocation === null ? null : JSON.stringify(l.allocation),
      oversold: l.oversold,
      refund_restocked: l.refundRestocked,
      updated_at: now,
    })
    .where('store_id', '=', l.storeId)
    .where('order_id', '=', l.orderId)
    .where('line_id', '=', l.lineId)
    .execute()
}

export async function listOrderLines(ex: Executor, storeId: string, orderId: number): Promise<OrderLineRecord[]> {
  const rows = await ex.selectFrom('woo_order_line').selectAll().where('store_id', '=', storeId).where('order_id', '=', orderId).orderBy('line_id').execute()
  return rows.map(toOrderLine)
}

function toOrderLine(r: Selectable<WooOrderLineTable>): OrderLineRecord {
  return {
    storeId: r.store_id,
    orderId: Number(r.order_id),
    lineId: Number(r.line_id),
    sku: r.sku,
    quantity: Number(r.quantity),
    phase: r.phase as LinePhase,
    orderStatus: r.order_status,
    modifiedGmt: r.modified_gmt,
    reservationId: r.reservation_id,
    allocation: r.allocation === null ? null : (JSON.parse(r.allocation) as Array<{ warehouseId: number; quantity: number }>),
    oversold: Number(r.oversold),
    refundRestocked: Number(r.refund_restocked),
  }
}

// --------------------------------------------------------------------------- drift and runs

export interface DriftRow {
  readonly id: number
  readonly sku: string
  readonly storeFigure: number | null
  readonly hubFigure: number
  readonly source: 'webhook' | 'reconcile'
  readonly runId: string | null
  readonly detectedAt: number
  readonly repairedAt: number | null
}

export async function insertDrift(ex: Executor, caps: DialectCaps, storeId: string, rows: ReadonlyArray<Omit<DriftRow, 'id'>>): Promise<void> {
  for (const part of chunks(rows, Math.floor(caps.maxParams / 9))) {
    if (part.length === 0) continue
    await ex
      .insertInto('woo_drift')
      .values(part.map((d) => ({ store_id: storeId, sku: d.sku, store_figure: d.storeFigure, hub_figure: d.hubFigure, source: d.source, run_id: d.runId, detected_at: d.detectedAt, repaired_at: d.repairedAt })))
      .execute()
  }
}

export async function listDrift(ex: Executor, storeId: string, f: { runId?: string | undefined; beforeId?: number | undefined; limit: number }): Promise<DriftRow[]> {
  const rows = await ex
    .selectFrom('woo_drift')
    .selectAll()
    .where('store_id', '=', storeId)
    .$if(f.runId !== undefined, (qb) => qb.where('run_id', '=', f.runId as string))
    .$if(f.beforeId !== undefined, (qb) => qb.where('id', '<', f.beforeId!))
    .orderBy('id', 'desc')
    .limit(f.limit)
    .execute()
  return rows.map((r) => ({
    id: Number(r.id),
    sku: r.sku,
    storeFigure: r.store_figure === null ? null : Number(r.store_figure),
    hubFigure: Number(r.hub_figure),
    source: r.source as DriftRow['source'],
    runId: r.run_id,
    detectedAt: Number(r.detected_at),
    repairedAt: r.repaired_at === null ? null : Number(r.repaired_at),
  }))
}

export interface ReconcileRun {
  readonly id: string
  readonly storeId: string
  readonly dryRun: boolean
  readonly status: 'running' | 'done' | 'failed'
  readonly checked: number
  readonly drift: number
  readonly repaired: number
  readonly webhooksReenabled: number
  readonly error: string | null
  readonly report: unknown
  readonly startedAt: number
  readonly finishedAt: number | null
}

function toRun(r: { id: string; store_id: string; dry_run: number; status: string; checked: number; drift: number; repaired: number; webhooks_reenabled: number; error: string | null; report: string | null; started_at: number | string; finished_at: number | string | null }): ReconcileRun {
  return {
    id: r.id,
    storeId: r.store_id,
    dryRun: Number(r.dry_run) === 1,
    status: r.status as ReconcileRun['status'],
    checked: Number(r.checked),
    drift: Number(r.drift),
    repaired: Number(r.repaired),
    webhooksReenabled: Number(r.webhooks_reenabled),
    error: r.error,
    report: r.report === null ? null : (JSON.parse(r.report) as unknown),
    startedAt: Number(r.started_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
  }
}

export async function insertRun(ex: Executor, r: { id: string; storeId: string; dryRun: boolean; startedAt: number }): Promise<void> {
  await ex
    .insertInto('woo_reconcile_run')
    .values({ id: r.id, store_id: r.storeId, dry_run: r.dryRun ? 1 : 0, status: 'running', checked: 0, drift: 0, repaired: 0, webhooks_reenabled: 0, error: null, report: null, started_at: r.startedAt, finished_at: null })
    .execute()
}

export async function finishRun(ex: Executor, id: string, r: { status: 'done' | 'failed'; checked: number; drift: number; repaired: number; webhooksReenabled: number; error: string | null; report: unknown; finishedAt: number }): Promise<void> {
  await ex
    .updateTable('woo_reconcile_run')
    .set({ status: r.status, checked: r.checked, drift: r.drift, repaired: r.repaired, webhooks_reenabled: r.webhooksReenabled, error: r.error?.slice(0, 500) ?? null, report: JSON.stringify(r.report), finished_at: r.finishedAt })
    .where('id', '=', id)
    .execute()
}

export async function findRun(ex: Executor, id: string): Promise<ReconcileRun | undefined> {
  const r = await ex.selectFrom('woo_reconcile_run').selectAll().where('id', '=', id).executeTakeFirst()
  return r ? toRun(r) : undefined
}

export async function listRuns(ex: Executor, storeId: string, limit: number, before?: { readonly startedAt: number; readonly id: string }): Promise<ReconcileRun[]> {
  const rows = await ex
    .selectFrom('woo_reconcile_run')
    .selectAll()
    .where('store_id', '=', storeId)
    .$if(before !== undefined, (qb) => qb.where((eb) => pastCursor(eb, '<', 'started_at', before!.startedAt, 'id', before!.id)))
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
  return rows.map(toRun)
}
