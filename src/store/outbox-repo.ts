/** @module store/outbox-repo: events written in the same transaction as the movement they describe. */
import { sql } from 'kysely'
import type { EventFilter, EventType, OutboxEvent, StockChangedData } from '../domain/events.js'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import { rowsTable, runValuesChunks, valuesStatement } from './batch.js'
import { compiledStatement, type Slot } from './compiled.js'

export const OUTBOX_CHANNEL = 'stockbridge_outbox'

const sumOf = (column: 'on_hand' | 'reserved') => sql<number | string>`(SELECT COALESCE(SUM(${sql.ref(`stock_level.${column}`)}), 0) FROM stock_level WHERE stock_level.sku = product.sku)`
/** Each warehouse adds its available but never less than zero (domain/stock-level sellableOf, #12). */
const SELLABLE = sql<number | string>`CASE WHEN on_hand - reserved - safety_stock > 0 THEN on_hand - reserved - safety_stock ELSE 0 END`
const sumSellable = sql<number | string>`(SELECT COALESCE(SUM(${SELLABLE}), 0) FROM stock_level WHERE stock_level.sku = product.sku)`

/**
 * Bump the SKU's event version and read every warehouse's totals, in one statement (one round
 * trip on PostgreSQL). The product row is already locked by the writer, and the level this
 * transaction changed is counted at its new figure.
 */
const NEXT_VERSION_AND_TOTALS = compiledStatement((ex, v: Slot<'sku'>) =>
  ex
    .updateTable('product')
    .set((eb) => ({ stock_version: eb('stock_version', '+', 1) }))
    .where('sku', '=', v('sku'))
    .returning(['stock_version', sumOf('on_hand').as('on_hand'), sumOf('reserved').as('reserved'), sumSellable.as('available')]),
)

export async function nextVersionAndTotals(ex: Executor, sku: string): Promise<{ version: number; totals: { onHand: number; reserved: number; available: number } }> {
  const [row] = await NEXT_VERSION_AND_TOTALS.run(ex, { sku }, undefined)
  if (!row) throw new Error(`No product row for SKU ${sku}`)
  return { version: Number(row.stock_version), totals: { onHand: Number(row.on_hand), reserved: Number(row.reserved), available: Number(row.available) } }
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
export const OLDEST_RUNNING_TX = sql<number>`pg_snapshot_xmin(pg_current_snapshot())::text::bigint`

const INSERT_EVENT = compiledStatement(
  (ex, v: Slot<'id' | 'type' | 'sku' | 'warehouseId' | 'skuVersion' | 'payload' | 'createdAt' | 'origin'>, s: { readonly caps: DialectCaps; readonly notifyInline: boolean }) =>
    ex
      .insertInto('outbox_event')
      .values({
        id: v('id'),
        type: v('type'),
        sku: v('sku'),
        warehouse_id: v('warehouseId'),
        sku_version: v('skuVersion'),
        payload: v('payload'),
        tx_id: s.caps.notify ? CURRENT_TX : null,
        created_at: v('createdAt'),
      })
      // Outside a transaction (autocommit) the NOTIFY rides on the insert itself; see wakeAfterCommit.
      .returning(s.notifyInline ? ['seq', sql<string>`pg_notify(${OUTBOX_CHANNEL}, ${v('origin')})::text`.as('notified')] : ['seq']),
  (s) => `${s.caps.notify}${s.notifyInline}`,
)

/**
 * Transactions that wrote events, so other nodes are to be woken once they commit. A NOTIFY inside
 * the writing transaction would be simplest, but PostgreSQL serialises the commits of every
 * transaction that notifies (a database-wide lock held from pre-commit through the WAL flush), so
 * movements could no longer share a WAL flush: measured with 32 clients running the movement
 * statement, 266–325 movements/s with the NOTIFY against 1,558–1,983/s without (#13). So the
 * store's transact() sends one coalesced NOTIFY after such a commit instead (store/db.ts). A node
 * that dies between the commit and that NOTIFY leaves the other nodes to find the events on their
 * next poll.
 */
const wakeAfterCommit = new WeakSet<object>()

/** Did this transaction write events (and so owes other nodes a wake-up now that it committed)? */
export function takeWakeAfterCommit(trx: object): boolean {
  const owed = wakeAfterCommit.has(trx)
  wakeAfterCommit.delete(trx)
  return owed
}

/** Insert one event; on PostgreSQL other nodes are woken (NOTIFY naming `origin`, this node) once it commits. */
export async function insertOutboxEvent(ex: Executor, caps: DialectCaps, e: NewOutboxEvent, origin: string): Promise<number> {
  const notifyInline = caps.notify && !ex.isTransaction
  if (caps.notify && ex.isTransaction) wakeAfterCommit.add(ex)
  const [row] = await INSERT_EVENT.run(ex, { ...e, payload: JSON.stringify(e.data), origin }, { caps, notifyInline })
  if (!row) throw new Error('The outbox insert returned no sequence number')
  return Number(row.seq)
}

/** Wake listeners on other nodes once the transaction commits (see wakeAfterCommit); outside one, now. */
export async function notifyOutbox(ex: Executor, caps: DialectCaps, origin: string): Promise<void> {
  if (!caps.notify) return
  if (ex.isTransaction) wakeAfterCommit.add(ex)
  else await sql`select pg_notify(${OUTBOX_CHANNEL}, ${origin})`.execute(ex)
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

/**
 * Where a live stream stands. On PostgreSQL a sequence number is taken before commit, so a later
 * number can commit first; streams therefore walk events in (transaction id, sequence) order and
 * only take transactions older than every one still running. Any event that appears later belongs
 * to a younger transaction and so sorts after the cursor: nothing is ever skipped. On SQLite
 * (one writer, numbers in commit order) the transaction id is 0 and the order is the sequence.
 */
export interface StreamCursor {
  readonly txId: number
  readonly seq: number
}

export interface EventPage {
  readonly events: ReadonlyArray<OutboxEvent>
  /** The cursor after the last event returned (unchanged when none). */
  readonly cursor: StreamCursor
  /** Committed-looking events wait for an older transaction still running: look again soon. */
  readonly heldBack: boolean
}

export async function readEventPage(ex: Executor, caps: DialectCaps, after: StreamCursor, filter: Partial<EventFilter>, limit: number): Promise<EventPage> {
  const rows = await ex
    .selectFrom('outbox_event')
    .selectAll()
    .$if(caps.notify, (qb) =>
      qb.where(sql<boolean>`(tx_id, seq) > (${after.txId}, ${after.seq})`).where('tx_id', '<', OLDEST_RUNNING_TX).orderBy('tx_id').orderBy('seq'),
    )
    .$if(!caps.notify, (qb) => qb.where('seq', '>', after.seq).orderBy('seq'))
    .$if(filter.skus != null, (qb) => qb.where('sku', 'in', filter.skus as string[]))
    .$if(filter.warehouses != null, (qb) => qb.where('warehouse_id', 'in', filter.warehouses as number[]))
    .$if(filter.events != null, (qb) => qb.where('type', 'in', filter.events as string[]))
    .limit(limit)
    .execute()
  const last = rows[rows.length - 1]
  const cursor = last ? { txId: last.tx_id == null ? 0 : Number(last.tx_id), seq: Number(last.seq) } : after
  const heldBack = caps.notify && rows.length < limit && (await hasHeldBackEvents(ex, cursor))
  return { events: rows.map(toEvent), cursor, heldBack }
}

/** PostgreSQL: events past `cursor` exist but belong to transactions younger than one still running. */
export async function hasHeldBackEvents(ex: Executor, cursor: StreamCursor): Promise<boolean> {
  const waiting = await ex
    .selectFrom('outbox_event')
    .select('seq')
    .where(sql<boolean>`(tx_id, seq) > (${cursor.txId}, ${cursor.seq})`)
    .where('tx_id', '>=', OLDEST_RUNNING_TX)
    .limit(1)
    .executeTakeFirst()
  return waiting !== undefined
}

/** A stream resuming after event `seq` (its Last-Event-ID). */
export async function cursorAfter(ex: Executor, caps: DialectCaps, seq: number): Promise<StreamCursor> {
  if (!caps.notify) return { txId: 0, seq }
  const r = await ex.selectFrom('outbox_event').select('tx_id').where('seq', '=', seq).executeTakeFirst()
  if (r?.tx_id != null) return { txId: Number(r.tx_id), seq }
  // The event is gone (pruned): resume before the oldest later event that remains.
  const next = await ex.selectFrom('outbox_event').select((eb) => eb.fn.min<number | string | null>('tx_id').as('t')).where('seq', '>', seq).executeTakeFirst()
  return next?.t == null ? await streamStart(ex, caps) : { txId: Number(next.t) - 1, seq: Number.MAX_SAFE_INTEGER }
}

/** Where a new stream (no Last-Event-ID) starts: after everything already final, so nothing still running is missed. */
export async function streamStart(ex: Executor, caps: DialectCaps): Promise<StreamCursor> {
  if (!caps.notify) return { txId: 0, seq: await lastEventSeq(ex) }
  const r = await ex.selectFrom('outbox_event').select(['tx_id', 'seq']).where('tx_id', '<', OLDEST_RUNNING_TX).orderBy('tx_id', 'desc').orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return r ? { txId: Number(r.tx_id), seq: Number(r.seq) } : { txId: 0, seq: 0 }
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
  if (counts.size === 0) return out
  if (caps.batchValues) {
    const entries = [...counts]
    const { rows } = await runValuesChunks<{ sku: string; stock_version: number }>(ex, BUMP_VALUES, entries.length, (i, o) => o.push(entries[i]![0], entries[i]![1]))
    for (const r of rows) out.set(r.sku, Number(r.stock_version))
    return out
  }
  const updated = await ex
    .updateTable('product')
    .from(rowsTable(caps, [...counts].map(([sku, n]) => ({ sku, n })), BUMP_COLUMNS, 'v'))
    .set((eb) => ({ stock_version: eb('product.stock_version', '+', eb.ref('v.n')) }))
    .whereRef('product.sku', '=', 'v.sku')
    .returning(['product.sku', 'product.stock_version'])
    .execute()
  for (const r of updated) out.set(r.sku, Number(r.stock_version))
  return out
}

/** SQLite: the product rows of the SKUs, each looked up by its primary key from the VALUES list. */
const BUMP_VALUES = valuesStatement(
  2,
  (values) => `update product set stock_version = product.stock_version + v.n from (select column1 as sku, column2 as n from (values ${values})) as v where product.sku = v.sku returning product.sku, product.stock_version`,
)

const BUMP_COLUMNS = [
  ['sku', 'varchar'],
  ['n', 'integer'],
] as const

/** SQLite: the sums of each SKU in a VALUES list (`sku in (values …)` walks the level's primary key per SKU). */
const SUMS_VALUES = valuesStatement(
  1,
  (values) =>
    `select sku, sum(on_hand) as on_hand, sum(reserved) as reserved, sum(CASE WHEN on_hand - reserved - safety_stock > 0 THEN on_hand - reserved - safety_stock ELSE 0 END) as available from stock_level where sku in (values ${values}) group by sku`,
)

/** Every warehouse's figures summed per SKU, for many SKUs (inside the writer's transaction). */
export async function sumLevelsBySku(ex: Executor, caps: DialectCaps, skus: ReadonlyArray<string>): Promise<Map<string, { onHand: number; reserved: number; available: number }>> {
  const out = new Map<string, { onHand: number; reserved: number; available: number }>()
  if (skus.length === 0) return out
  if (caps.batchValues) {
    const { rows } = await runValuesChunks<{ sku: string; on_hand: number; reserved: number; available: number }>(ex, SUMS_VALUES, skus.length, (i, o) => o.push(skus[i]))
    for (const r of rows) out.set(r.sku, { onHand: Number(r.on_hand), reserved: Number(r.reserved), available: Number(r.available) })
    return out
  }
  const rows = await ex
    .selectFrom('stock_level')
    .select((eb) => ['sku', eb.fn.sum<number | string>('on_hand').as('on_hand'), eb.fn.sum<number | string>('reserved').as('reserved'), eb.fn.sum<number | string>(SELLABLE).as('available')])
    .where('sku', 'in', (eb) => eb.selectFrom(rowsTable(caps, skus.map((sku) => ({ sku })), [['sku', 'varchar']] as const, 's')).select('s.sku'))
    .groupBy('sku')
    .execute()
  for (const r of rows) out.set(r.sku, { onHand: Number(r.on_hand), reserved: Number(r.reserved), available: Number(r.available) })
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

/** SQLite: the events as VALUES chunks (store/batch.ts). */
const INSERT_EVENTS_VALUES = valuesStatement(7, (values) => `insert into outbox_event ("id", "type", "sku", "warehouse_id", "sku_version", "payload", "created_at") values ${values} returning seq`)

/**
 * Insert many events (a bulk write's) in one statement, in the given order; returns their
 * sequence numbers in that order (drawn in insertion order, so sorted).
 */
export async function insertOutboxEvents(ex: Executor, caps: DialectCaps, events: ReadonlyArray<NewOutboxEvent>): Promise<number[]> {
  if (events.length === 0) return []
  if (caps.batchValues) {
    // No transaction id on SQLite (caps.notify is false there): one writer, sequence in commit order.
    const { rows } = await runValuesChunks<{ seq: number }>(ex, INSERT_EVENTS_VALUES, events.length, (i, out) => {
      const e = events[i]!
      out.push(e.id, e.type, e.sku, e.warehouseId, e.skuVersion, JSON.stringify(e.data), e.createdAt)
    })
    return rows.map((r) => Number(r.seq)).sort((a, b) => a - b)
  }
  const rows = events.map((e) => ({ id: e.id, type: e.type, sku: e.sku, warehouse_id: e.warehouseId, sku_version: e.skuVersion, payload: JSON.stringify(e.data), created_at: e.createdAt }))
  const inserted = await ex
    .insertInto('outbox_event')
    .columns(['id', 'type', 'sku', 'warehouse_id', 'sku_version', 'payload', 'tx_id', 'created_at'])
    .expression(
      ex
        .selectFrom(rowsTable(caps, rows, EVENT_COLUMNS, 'e'))
        .select(['e.id', 'e.type', 'e.sku', 'e.warehouse_id', 'e.sku_version', 'e.payload', (caps.notify ? CURRENT_TX : sql<number | null>`null`).as('tx_id'), 'e.created_at']),
    )
    .returning('seq')
    .execute()
  const seqs = inserted.map((r) => Number(r.seq))
  return seqs.sort((a, b) => a - b)
}
