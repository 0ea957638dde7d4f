/** @module store/outbox-repo: events written in the same transaction as the movement they describe. */
import { sql } from 'kysely'
import type { EventFilter, EventType, OutboxEvent, StockChangedData } from '../domain/events.js'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import { batchesOf, rowsTable } from './batch.js'

export const OUTBOX_CHANNEL = 'stockbridge_outbox'

/** Bump and return the SKU's event version. The product row is already locked by the writer. */
export async function nextSkuVersion(ex: Executor, sku: string): Promise<number> {
  const row = await ex
    .updateTable('product')
    .set((eb) => ({ stock_version: eb('stock_version', '+', 1) }))
    .where('sku', '=', sku)
    .returning('stock_version')
    .executeTakeFirstOrThrow()
  return Number(row.stock_version)
}

/** Sum of every warehouse's figures for one SKU (inside the writer's transaction). */
export async function sumLevels(ex: Executor, sku: string): Promise<{ onHand: number; reserved: number; safety: number }> {
  const row = await ex
    .selectFrom('stock_level')
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number | string>('on_hand'), sql<number>`0`).as('on_hand'),
      eb.fn.coalesce(eb.fn.sum<number | string>('reserved'), sql<number>`0`).as('reserved'),
      eb.fn.coalesce(eb.fn.sum<number | string>('safety_stock'), sql<number>`0`).as('safety'),
    ])
    .where('sku', '=', sku)
    .executeTakeFirstOrThrow()
  return { onHand: Number(row.on_hand), reserved: Number(row.reserved), safety: Number(row.safety) }
}

export interface NewOutboxEvent {
  readonly id: string
  readonly type: EventType
  readonly sku: string
  readonly warehouseId: number
  readonly skuVersion: number
  readonly data: StockChangedData
  readonly createdAt: number
}

// Sequence numbers are handed out before commit, so on PostgreSQL a later number can commit first.
// Recording the transaction id lets readers wait for every older transaction to finish.
const CURRENT_TX = sql<number>`pg_current_xact_id()::text::bigint`
const OLDEST_RUNNING_TX = sql<number>`pg_snapshot_xmin(pg_current_snapshot())::text::bigint`

export async function insertOutboxEvent(ex: Executor, caps: DialectCaps, e: NewOutboxEvent): Promise<number> {
  const row = await ex
    .insertInto('outbox_event')
    .values({
      id: e.id,
      type: e.type,
      sku: e.sku,
      warehouse_id: e.warehouseId,
      sku_version: e.skuVersion,
      payload: JSON.stringify(e.data),
      tx_id: caps.notify ? CURRENT_TX : null,
      created_at: e.createdAt,
    })
    .returning('seq')
    .executeTakeFirstOrThrow()
  return Number(row.seq)
}

/** Wake listeners on other nodes once the transaction commits (PostgreSQL NOTIFY is transactional). */
export async function notifyOutbox(ex: Executor, caps: DialectCaps): Promise<void> {
  if (caps.notify) await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(ex)
}

interface EventRow {
  seq: number | string
  id: string
  type: string
  sku: string
  warehouse_id: number
  sku_version: number
  payload: string
  created_at: number | string
}

function toEvent(r: EventRow): OutboxEvent {
  return {
    seq: Number(r.seq),
    id: r.id,
    type: r.type as EventType,
    sku: r.sku,
    warehouseId: Number(r.warehouse_id),
    skuVersion: Number(r.sku_version),
    data: JSON.parse(r.payload) as StockChangedData,
    createdAt: Number(r.created_at),
  }
}

export interface EventPage {
  readonly events: OutboxEvent[]
  /** PostgreSQL: a matching event exists that must wait for older transactions to finish first. */
  readonly heldBack: boolean
}

/**
 * Events after a sequence number, oldest first, with no gaps: on PostgreSQL only events of
 * transactions older than every running one, and never one past an event that must still wait
 * (stopping there, rather than skipping it, so a slower transaction's lower number is not passed).
 * Caveat (known, see test/engine/sse.test.ts): a transaction's id is assigned at its first write,
 * its sequence number later; a transaction with the lower id can hold the higher number, commit
 * first and pass this check while one with a higher id and a lower number is still open and not
 * yet visible; the reader then moves past that lower number for good.
 */
export async function readEventPage(ex: Executor, caps: DialectCaps, afterSeq: number, filter: Partial<EventFilter>, limit: number): Promise<EventPage> {
  const rows = await ex
    .selectFrom('outbox_event')
    .selectAll()
    .select(caps.notify ? sql<boolean>`coalesce(tx_id < ${OLDEST_RUNNING_TX}, true)`.as('ready') : sql<boolean>`1 = 1`.as('ready'))
    .where('seq', '>', afterSeq)
    .$if(filter.skus != null, (qb) => qb.where('sku', 'in', filter.skus as string[]))
    .$if(filter.warehouses != null, (qb) => qb.where('warehouse_id', 'in', filter.warehouses as number[]))
    .$if(filter.events != null, (qb) => qb.where('type', 'in', filter.events as string[]))
    .orderBy('seq')
    .limit(limit)
    .execute()
  const waiting = rows.findIndex((r) => !r.ready)
  const ready = waiting === -1 ? rows : rows.slice(0, waiting)
  return { events: ready.map(toEvent), heldBack: waiting !== -1 }
}

export async function listEventsAfter(ex: Executor, caps: DialectCaps, afterSeq: number, filter: Partial<EventFilter>, limit: number): Promise<OutboxEvent[]> {
  return (await readEventPage(ex, caps, afterSeq, filter, limit)).events
}

export async function findEventsBySeq(ex: Executor, seqs: ReadonlyArray<number>): Promise<Map<number, OutboxEvent>> {
  const out = new Map<number, OutboxEvent>()
  if (seqs.length === 0) return out
  for (const r of await ex.selectFrom('outbox_event').selectAll().where('seq', 'in', [...seqs]).execute()) out.set(Number(r.seq), toEvent(r))
  return out
}

export async function findLatestEventForSku(ex: Executor, sku: string): Promise<OutboxEvent | undefined> {
  const r = await ex.selectFrom('outbox_event').selectAll().where('sku', '=', sku).orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return r ? toEvent(r) : undefined
}

export async function lastEventSeq(ex: Executor): Promise<number> {
  const r = await ex.selectFrom('outbox_event').select((eb) => eb.fn.max<number | string | null>('seq').as('m')).executeTakeFirst()
  return r?.m == null ? 0 : Number(r.m)
}

/**
 * Where a new live stream (no Last-Event-ID) starts. Not simply the highest visible sequence: on
 * PostgreSQL a transaction still running may hold a lower number and commit after the client
 * connected, and a stream starting above it would never send that event. Start instead after
 * the newest event every running transaction is younger than (the bound listEventsAfter reads
 * up to), so such an event is still ahead of the stream. A few events committed just before the
 * connect may be sent as well. (The ordering caveat of readEventPage applies here too.)
 */
export async function streamStartSeq(ex: Executor, caps: DialectCaps): Promise<number> {
  if (!caps.notify) return lastEventSeq(ex)
  const r = await ex
    .selectFrom('outbox_event')
    .select((eb) => eb.fn.max<number | string | null>('seq').as('m'))
    .where('tx_id', '<', OLDEST_RUNNING_TX)
    .executeTakeFirst()
  return r?.m == null ? 0 : Number(r.m)
}

/**
 * Delete events older than the cutoff in small batches (short transactions, no long lock on a
 * hot table), keeping any event a pending delivery or an unreplayed dead letter still points at.
 */
export async function pruneOutbox(ex: Executor, cutoff: number, batch = 1000): Promise<number> {
  let total = 0
  for (;;) {
    const victims = await ex
      .selectFrom('outbox_event')
      .select('seq')
      .where('created_at', '<', cutoff)
      .where('seq', 'not in', (eb) => eb.selectFrom('delivery').select('event_seq'))
      .where('seq', 'not in', (eb) => eb.selectFrom('dead_letter').select('event_seq').where('replayed_at', 'is', null))
      .orderBy('seq')
      .limit(batch)
      .execute()
    if (victims.length === 0) return total
    const res = await ex.deleteFrom('outbox_event').where('seq', 'in', victims.map((v) => v.seq)).executeTakeFirst()
    total += Number(res.numDeletedRows)
    if (victims.length < batch) return total
  }
}

/**
 * Bump many SKUs' event versions at once (a bulk write: `counts` says how many events each SKU
 * gets) and return each SKU's version after the bump. The product rows are already locked by
 * the writer, so the versions of a SKU's events are `after - n + 1 … after`.
 */
export async function bumpSkuVersions(ex: Executor, caps: DialectCaps, counts: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const rows = [...counts].map(([sku, n]) => ({ sku, n }))
  for (const batch of batchesOf(caps, rows, 2)) {
    const updated = await ex
      .updateTable('product')
      .from(rowsTable(caps, batch, BUMP_COLUMNS, 'v'))
      .set((eb) => ({ stock_version: eb('product.stock_version', '+', eb.ref('v.n')) }))
      .whereRef('product.sku', '=', 'v.sku')
      .returning(['product.sku', 'product.stock_version'])
      .execute()
    for (const r of updated) out.set(r.sku, Number(r.stock_version))
  }
  return out
}

const BUMP_COLUMNS = [
  ['sku', 'varchar'],
  ['n', 'integer'],
] as const

/** Every warehouse's figures summed per SKU, for many SKUs (inside the writer's transaction). */
export async function sumLevelsBySku(ex: Executor, caps: DialectCaps, skus: ReadonlyArray<string>): Promise<Map<string, { onHand: number; reserved: number; safety: number }>> {
  const out = new Map<string, { onHand: number; reserved: number; safety: number }>()
  for (const batch of batchesOf(caps, skus, 1)) {
    const rows = await ex
      .selectFrom('stock_level')
      .select((eb) => ['sku', eb.fn.sum<number | string>('on_hand').as('on_hand'), eb.fn.sum<number | string>('reserved').as('reserved'), eb.fn.sum<number | string>('safety_stock').as('safety')])
      .where('sku', 'in', (eb) => eb.selectFrom(rowsTable(caps, batch.map((sku) => ({ sku })), [['sku', 'varchar']] as const, 's')).select('s.sku'))
      .groupBy('sku')
      .execute()
    for (const r of rows) out.set(r.sku, { onHand: Number(r.on_hand), reserved: Number(r.reserved), safety: Number(r.safety) })
  }
  return out
}

const EVENT_COLUMNS = [
  ['id', 'varchar'],
  ['type', 'varchar'],
  ['sku', 'varchar'],
  ['warehouse_id', 'integer'],
  ['sku_version', 'integer'],
  ['payload', 'text'],
  ['created_at', 'bigint'],
] as const

/**
 * Insert many events (a bulk write's) in as few statements as the dialect allows, in the given
 * order; returns their sequence numbers in that order (drawn in insertion order, so sorted).
 */
export async function insertOutboxEvents(ex: Executor, caps: DialectCaps, events: ReadonlyArray<NewOutboxEvent>): Promise<number[]> {
  const seqs: number[] = []
  const rows = events.map((e) => ({ id: e.id, type: e.type, sku: e.sku, warehouse_id: e.warehouseId, sku_version: e.skuVersion, payload: JSON.stringify(e.data), created_at: e.createdAt }))
  for (const batch of batchesOf(caps, rows, EVENT_COLUMNS.length)) {
    const inserted = await ex
      .insertInto('outbox_event')
      .columns(['id', 'type', 'sku', 'warehouse_id', 'sku_version', 'payload', 'tx_id', 'created_at'])
      .expression(
        ex
          .selectFrom(rowsTable(caps, batch, EVENT_COLUMNS, 'e'))
          .select(['e.id', 'e.type', 'e.sku', 'e.warehouse_id', 'e.sku_version', 'e.payload', (caps.notify ? CURRENT_TX : sql<number | null>`null`).as('tx_id'), 'e.created_at']),
      )
      .returning('seq')
      .execute()
    for (const r of inserted) seqs.push(Number(r.seq))
  }
  return seqs.sort((a, b) => a - b)
}
