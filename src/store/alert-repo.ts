/** @module store/alert-repo: alerts, their watch states, channels, and the evaluator's cursor (#15). */
import { sql } from 'kysely'
import type { StockChangedData } from '../domain/events.js'
import { openSecret, SealedSecretError, sealSecret } from '../security/secret-box.js'
import { compiledStatement, type Slot } from './compiled.js'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import { OLDEST_RUNNING_TX, OUTBOX_CHANNEL, type StreamCursor } from './outbox-repo.js'
import { pastCursor } from './keyset.js'

const CURSOR = 'stock'

/** The evaluator's place in the outbox, locked for the rest of the transaction (PostgreSQL; SQLite has one writer). */
export async function lockAlertCursor(ex: Executor, caps: DialectCaps): Promise<StreamCursor> {
  const r = await ex
    .selectFrom('alert_cursor')
    .select(['tx_id', 'seq'])
    .where('name', '=', CURSOR)
    .$if(caps.rowLocks, (qb) => qb.forUpdate())
    .executeTakeFirst()
  if (!r) throw new Error('The alert cursor row is missing; was migration 0008 applied?')
  return { txId: Number(r.tx_id), seq: Number(r.seq) }
}

export async function saveAlertCursor(ex: Executor, c: StreamCursor, now: number): Promise<void> {
  await ex.updateTable('alert_cursor').set({ tx_id: c.txId, seq: c.seq, updated_at: now }).where('name', '=', CURSOR).execute()
}

/** SQLite: take the write lock at once, so the cursor read and its update are one serial step. */
export async function touchAlertCursor(ex: Executor): Promise<void> {
  await sql`update alert_cursor set updated_at = updated_at where name = ${CURSOR}`.execute(ex)
}

export interface WatchRecord {
  readonly state: string
  readonly version: number
}

/** Rows per upsert: a page's states in a few statements, each shape compiled once. */
const STATE_CHUNK = 50

const SAVE_STATES = compiledStatement(
  (ex, v: Slot<string>, n: number) =>
    ex
      .insertInto('alert_state')
      .values(Array.from({ length: n }, (_, i) => ({ key: v(String(4 * i)), state: v(String(4 * i + 1)), version: v(String(4 * i + 2)), updated_at: v(String(4 * i + 3)) })))
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ state: eb.ref('excluded.state'), version: eb.ref('excluded.version'), updated_at: eb.ref('excluded.updated_at') }))),
  String,
)

/**
 * Store watch states (a page's transitions): multi-row upserts of fixed shapes, since a page that
 * first sees a few hundred figures (an import's new levels) stores as many states.
 */
export async function saveWatchStates(ex: Executor, states: ReadonlyMap<string, WatchRecord>, now: number): Promise<void> {
  const rows = [...states]
  for (let i = 0; i < rows.length; i += STATE_CHUNK) {
    const chunk = rows.slice(i, i + STATE_CHUNK)
    await SAVE_STATES.run(ex, chunk.flatMap(([key, w]) => [key, w.state, w.version, now]), chunk.length)
  }
}

/**
 * Move a watch state from one of `from` to `to`, creating it when absent; true when this caller
 * made the change. Two nodes racing for the same operational alert: one wins, one raises nothing.
 */
export async function claimWatchTransition(ex: Executor, key: string, from: ReadonlyArray<string>, to: string, now: number): Promise<boolean> {
  const ins = await ex
    .insertInto('alert_state')
    .values({ key, state: to, updated_at: now })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('key')
    .executeTakeFirst()
  if (ins !== undefined) return from.includes('ok')
  const up = await ex.updateTable('alert_state').set({ state: to, updated_at: now }).where('key', '=', key).where('state', 'in', [...from]).executeTakeFirst()
  return Number(up.numUpdatedRows) === 1
}

/** A committed stock event with what judging it needs: the current thresholds and the stored watch states. */
export interface WatchedEvent {
  readonly seq: number
  readonly id: string
  readonly sku: string
  readonly warehouseId: number
  readonly skuVersion: number
  readonly createdAt: number
  readonly data: StockChangedData
  /** The level's threshold; null when the level row is gone. */
  readonly levelThreshold: number | null
  /** The SKU's threshold; null when the product is gone. */
  readonly productThreshold: number | null
  readonly levelState: WatchRecord | null
  readonly totalState: WatchRecord | null
}

export interface WatchedEventPage {
  readonly events: ReadonlyArray<WatchedEvent>
  /** Where the page ends (the input cursor when it is empty). */
  readonly cursor: StreamCursor
  /** PostgreSQL: more events wait behind a transaction still running. */
  readonly heldBack: boolean
}

/** Stock events joined with their thresholds and watch states (the keys built as domain/alerts levelKey/totalKey build them). */
const watchedEvents = (ex: Executor) =>
  ex
    .selectFrom('outbox_event as e')
    .leftJoin('stock_level as l', (j) => j.onRef('l.sku', '=', 'e.sku').onRef('l.warehouse_id', '=', 'e.warehouse_id'))
    .leftJoin('product as p', 'p.sku', 'e.sku')
    .leftJoin('alert_state as ls', (j) => j.on('ls.key', '=', sql<string>`'level:' || e.warehouse_id || ':' || e.sku`))
    .leftJoin('alert_state as ts', (j) => j.on('ts.key', '=', sql<string>`'total:' || e.sku`))
    .select([
      'e.seq',
      'e.tx_id',
      'e.id',
      'e.sku',
      'e.warehouse_id',
      'e.sku_version',
      'e.payload',
      'e.created_at',
      'l.low_stock_threshold as level_threshold',
      'p.low_stock_threshold as product_threshold',
      'ls.state as level_state',
      'ls.version as level_version',
      'ts.state as total_state',
      'ts.version as total_version',
    ])
    .where('e.type', '=', 'stock.changed')

/**
 * The stock events after `after`, each joined with its thresholds and watch states: one statement
 * per page, compiled once, instead of a page read plus three IN-list lookups (whose SQL text
 * changed with every page's SKU count, so each was built, compiled and prepared anew).
 */
const WATCHED_PAGE = compiledStatement(
  (ex, v: Slot<'txId' | 'seq' | 'limit'>, caps: DialectCaps) =>
    watchedEvents(ex)
      .$if(caps.notify, (qb) => qb.where(sql<boolean>`(e.tx_id, e.seq) > (${v('txId')}, ${v('seq')})`).where('e.tx_id', '<', OLDEST_RUNNING_TX).orderBy('e.tx_id').orderBy('e.seq'))
      .$if(!caps.notify, (qb) => qb.where('e.seq', '>', v('seq')).orderBy('e.seq'))
      .limit(v('limit')),
  (caps) => caps.name,
)

const nullableNum = (v: number | string | null) => (v === null ? null : Number(v))

type WatchedRow = Awaited<ReturnType<typeof WATCHED_PAGE.run>>[number]

function watchedEvent(r: WatchedRow): WatchedEvent {
  return {
    seq: Number(r.seq),
    id: r.id,
    sku: r.sku,
    warehouseId: Number(r.warehouse_id),
    skuVersion: Number(r.sku_version),
    createdAt: Number(r.created_at),
    data: JSON.parse(r.payload) as StockChangedData,
    levelThreshold: nullableNum(r.level_threshold),
    productThreshold: nullableNum(r.product_threshold),
    levelState: r.level_state === null ? null : { state: r.level_state, version: Number(r.level_version) },
    totalState: r.total_state === null ? null : { state: r.total_state, version: Number(r.total_version) },
  }
}

export async function readWatchedEvents(ex: Executor, caps: DialectCaps, after: StreamCursor, limit: number): Promise<WatchedEventPage> {
  const rows = await WATCHED_PAGE.run(ex, { txId: after.txId, seq: after.seq, limit }, caps)
  const events = rows.map(watchedEvent)
  const last = rows[rows.length - 1]
  const cursor = last ? { txId: last.tx_id == null ? 0 : Number(last.tx_id), seq: Number(last.seq) } : after
  const heldBack = caps.notify && rows.length < limit && (await hasStockEventsPast(ex, cursor))
  return { events, cursor, heldBack }
}

/** SQLite: where the next page of at most `limit` stock events after `seq` ends. */
const PAGE_END = compiledStatement((ex, v: Slot<'seq' | 'limit'>) =>
  ex
    .selectFrom((eb) => eb.selectFrom('outbox_event').select(['seq', 'created_at']).where('type', '=', 'stock.changed').where('seq', '>', v('seq')).orderBy('seq').limit(v('limit')).as('page'))
    .select((eb) => [eb.fn.countAll<number>().as('events'), eb.fn.max('page.seq').as('last_seq'), eb.fn.max('page.created_at').as('newest_at')]),
)

/**
 * SQLite: of the stock events with `seq` in (from, to], those that could change a watch state,
 * judged by the database without handing every event to JavaScript. An event is left out only when
 * both its figures (the level, and the SKU's total) are stored as `ok` or never stored, and stand
 * above their current threshold (and above zero) before and after the movement: judged against
 * its stored states, such an event moves nothing and raises nothing (domain/alerts stateOf and
 * crossingOf). A NULL anywhere (a payload without a figure) keeps the event in.
 */
const CANDIDATES = compiledStatement((ex, v: Slot<'from' | 'to'>) => {
  const before = sql<number>`(e.payload ->> '$.before.available')`
  const after = sql<number>`(e.payload ->> '$.after.available')`
  const total = sql<number>`(e.payload ->> '$.totals.available')`
  // The figure is ok above max(threshold, 0): stateOf() calls 0 or less out whatever the threshold.
  const levelBar = sql<number>`max(coalesce(l.low_stock_threshold, p.low_stock_threshold, 0), 0)`
  const totalBar = sql<number>`max(coalesce(p.low_stock_threshold, 0), 0)`
  const quiet = sql<boolean>`coalesce(ls.state, 'ok') = 'ok' and coalesce(ts.state, 'ok') = 'ok' and ${before} > ${levelBar} and ${after} > ${levelBar} and ${total} > ${totalBar} and ${total} - ${after} + ${before} > ${totalBar}`
  return watchedEvents(ex)
    .where('e.seq', '>', v('from'))
    .where('e.seq', '<=', v('to'))
    .where(sql<boolean>`coalesce(${quiet}, 0) = 0`)
    .orderBy('e.seq')
})

/** SQLite: every stock event with `seq` in (from, to] of the given SKUs (at most 100), in sequence order. */
const EVENTS_OF_SKUS = compiledStatement(
  (ex, v: Slot<string>, n: number) =>
    watchedEvents(ex)
      .where('e.seq', '>', v('from'))
      .where('e.seq', '<=', v('to'))
      .where('e.sku', 'in', Array.from({ length: n }, (_, i) => v(String(i))))
      .orderBy('e.seq'),
  String,
)

const SKU_CHUNK = 100

export async function readPageEventsOf(ex: Executor, from: number, to: number, skus: ReadonlyArray<string>): Promise<WatchedEvent[]> {
  const out: WatchedEvent[] = []
  for (let i = 0; i < skus.length; i += SKU_CHUNK) {
    const part = skus.slice(i, i + SKU_CHUNK)
    const values: Record<string, unknown> = { from, to }
    part.forEach((sku, j) => (values[String(j)] = sku))
    for (const r of await EVENTS_OF_SKUS.run(ex, values, part.length)) out.push(watchedEvent(r))
  }
  return out
}

export interface CandidatePage {
  /** Stock events in the page. */
  readonly events: number
  /** Where the page ends (the input cursor when it is empty). */
  readonly cursor: StreamCursor
  /** created_at of the page's newest event (0 when empty). */
  readonly newestAt: number
  /** The page's events that could change a watch state, in sequence order. */
  readonly candidates: ReadonlyArray<WatchedEvent>
}

/**
 * SQLite: the next page of at most `limit` stock events after `after`, with only the events that
 * could change a watch state read out of it. When judging the candidates changes nothing, judging
 * the whole page changes nothing either: the events left out find their figures' states as stored
 * (ok), since no candidate moved any state, and leave them so.
 */
export async function readCandidatePage(ex: Executor, after: StreamCursor, limit: number): Promise<CandidatePage> {
  const [end] = await PAGE_END.run(ex, { seq: after.seq, limit }, undefined)
  const events = Number(end?.events ?? 0)
  if (events === 0 || end?.last_seq == null) return { events: 0, cursor: after, newestAt: 0, candidates: [] }
  const to = Number(end.last_seq)
  const rows = await CANDIDATES.run(ex, { from: after.seq, to }, undefined)
  return { events, cursor: { txId: 0, seq: to }, newestAt: Number(end.newest_at), candidates: rows.map(watchedEvent) }
}

/**
 * PostgreSQL: a stock event lies past `cursor` that the page did not take: one held back behind an
 * older transaction, or one committed since. Asked without the running-transaction horizon: each
 * statement sees its own snapshot, so comparing with a horizon taken after the page's could miss
 * events that were held back from the page and released just before this check.
 */
async function hasStockEventsPast(ex: Executor, cursor: StreamCursor): Promise<boolean> {
  const r = await ex
    .selectFrom('outbox_event')
    .select('seq')
    .where(sql<boolean>`(tx_id, seq) > (${cursor.txId}, ${cursor.seq})`)
    .where('type', '=', 'stock.changed')
    .limit(1)
    .executeTakeFirst()
  return r !== undefined
}

/** Move the cursor from where this process last put it; false when someone else moved it meanwhile. */
export async function advanceAlertCursor(ex: Executor, from: StreamCursor, to: StreamCursor, now: number): Promise<boolean> {
  const res = await ex.updateTable('alert_cursor').set({ tx_id: to.txId, seq: to.seq, updated_at: now }).where('name', '=', CURSOR).where('tx_id', '=', from.txId).where('seq', '=', from.seq).executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

/** The cursor without a lock (a read-only look). */
export async function readAlertCursor(ex: Executor): Promise<StreamCursor> {
  const r = await ex.selectFrom('alert_cursor').select(['tx_id', 'seq']).where('name', '=', CURSOR).executeTakeFirst()
  if (!r) throw new Error('The alert cursor row is missing; was migration 0008 applied?')
  return { txId: Number(r.tx_id), seq: Number(r.seq) }
}

export type AlertStatus = 'open' | 'acknowledged' | 'closed'

export interface AlertRow {
  readonly id: string
  readonly kind: string
  readonly scope: string
  readonly stateKey: string
  readonly sku: string | null
  readonly warehouseId: number | null
  readonly subject: string | null
  readonly status: AlertStatus
  readonly available: number | null
  readonly threshold: number | null
  readonly detail: string | null
  readonly sourceEventId: string | null
  readonly eventSeq: number | null
  readonly raisedAt: number
  readonly acknowledgedAt: number | null
  readonly acknowledgedBy: string | null
  readonly closedAt: number | null
}

type Raw = {
  id: string
  kind: string
  scope: string
  state_key: string
  sku: string | null
  warehouse_id: number | null
  subject: string | null
  status: string
  available: number | null
  threshold: number | null
  detail: string | null
  source_event_id: string | null
  event_seq: number | string | null
  raised_at: number | string
  acknowledged_at: number | string | null
  acknowledged_by: string | null
  closed_at: number | string | null
}
const num = (v: number | string | null) => (v === null ? null : Number(v))

function toAlert(r: Raw): AlertRow {
  return {
    id: r.id,
    kind: r.kind,
    scope: r.scope,
    stateKey: r.state_key,
    sku: r.sku,
    warehouseId: num(r.warehouse_id),
    subject: r.subject,
    status: r.status as AlertStatus,
    available: num(r.available),
    threshold: num(r.threshold),
    detail: r.detail,
    sourceEventId: r.source_event_id,
    eventSeq: num(r.event_seq),
    raisedAt: Number(r.raised_at),
    acknowledgedAt: num(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by,
    closedAt: num(r.closed_at),
  }
}

export async function insertAlert(ex: Executor, a: AlertRow): Promise<void> {
  await ex
    .insertInto('alert')
    .values({
      id: a.id,
      kind: a.kind,
      scope: a.scope,
      state_key: a.stateKey,
      sku: a.sku,
      warehouse_id: a.warehouseId,
      subject: a.subject,
      status: a.status,
      available: a.available,
      threshold: a.threshold,
      detail: a.detail,
      source_event_id: a.sourceEventId,
      event_seq: a.eventSeq,
      raised_at: a.raisedAt,
      acknowledged_at: a.acknowledgedAt,
      acknowledged_by: a.acknowledgedBy,
      closed_at: a.closedAt,
    })
    .execute()
}

export async function setAlertEventSeq(ex: Executor, id: string, seq: number): Promise<void> {
  await ex.updateTable('alert').set({ event_seq: seq }).where('id', '=', id).execute()
}

/** The recovery closes what the figure's earlier alerts left open (or acknowledged). */
export async function closeAlertsOf(ex: Executor, stateKey: string, now: number): Promise<number> {
  const res = await ex.updateTable('alert').set({ status: 'closed', closed_at: now }).where('state_key', '=', stateKey).where('status', 'in', ['open', 'acknowledged']).executeTakeFirst()
  return Number(res.numUpdatedRows)
}

export interface AlertFilter {
  readonly statuses?: ReadonlyArray<AlertStatus> | undefined
  readonly kind?: string | undefined
  readonly scope?: string | undefined
  readonly sku?: string | undefined
  /** Page before this alert id (ids sort by time). */
  readonly before?: string | undefined
  readonly limit: number
}

export async function listAlerts(ex: Executor, f: AlertFilter): Promise<AlertRow[]> {
  const rows = await ex
    .selectFrom('alert')
    .selectAll()
    .$if(f.statuses !== undefined, (qb) => qb.where('status', 'in', [...f.statuses!]))
    .$if(f.kind !== undefined, (qb) => qb.where('kind', '=', f.kind!))
    .$if(f.scope !== undefined, (qb) => qb.where('scope', '=', f.scope!))
    .$if(f.sku !== undefined, (qb) => qb.where('sku', '=', f.sku!))
    .$if(f.before !== undefined, (qb) => qb.where('id', '<', f.before!))
    .orderBy('id', 'desc')
    .limit(f.limit)
    .execute()
  return rows.map(toAlert)
}

export async function findAlert(ex: Executor, id: string): Promise<AlertRow | undefined> {
  const r = await ex.selectFrom('alert').selectAll().where('id', '=', id).executeTakeFirst()
  return r ? toAlert(r) : undefined
}

export async function acknowledgeAlert(ex: Executor, id: string, by: string, now: number): Promise<boolean> {
  const res = await ex.updateTable('alert').set({ status: 'acknowledged', acknowledged_at: now, acknowledged_by: by.slice(0, 100) }).where('id', '=', id).where('status', '=', 'open').executeTakeFirst()
  return Number(res.numUpdatedRows) === 1
}

export async function countOpenAlerts(ex: Executor): Promise<Array<{ kind: string; n: number }>> {
  const rows = await ex
    .selectFrom('alert')
    .select((eb) => ['kind', eb.fn.countAll<number | string>().as('n')])
    .where('status', 'in', ['open', 'acknowledged'])
    .groupBy('kind')
    .execute()
  return rows.map((r) => ({ kind: r.kind, n: Number(r.n) }))
}

/** Alerts whose own events lie in (after, through], for a digest. */
export async function alertsBetween(ex: Executor, after: number, through: number, limit: number): Promise<AlertRow[]> {
  const rows = await ex.selectFrom('alert').selectAll().where('event_seq', '>', after).where('event_seq', '<=', through).orderBy('event_seq').limit(limit).execute()
  return rows.map(toAlert)
}

// ---- retention ----

/**
 * Delete closed alerts closed before `cutoff`, in batches (short statements). Alerts a digest
 * channel has not sent yet stay: a digest lists every alert after its channel's last digest.
 */
export async function pruneClosedAlerts(ex: Executor, cutoff: number, batch = 1000): Promise<number> {
  const unsent = await ex.selectFrom('alert_channel').select((eb) => eb.fn.min<number | string | null>('digest_through_seq').as('m')).where('mode', '=', 'digest').executeTakeFirst()
  const keepAfter = unsent?.m == null ? null : Number(unsent.m)
  let total = 0
  for (;;) {
    const victims = await ex
      .selectFrom('alert')
      .select('id')
      .where('status', '=', 'closed')
      // closed_at ≥ raised_at: the raised_at bound lets the (status, raised_at) index do the range.
      .where('raised_at', '<', cutoff)
      .where('closed_at', '<', cutoff)
      .$if(keepAfter !== null, (qb) => qb.where((eb) => eb.or([eb('event_seq', 'is', null), eb('event_seq', '<=', keepAfter!)])))
      .orderBy('raised_at')
      .limit(batch)
      .execute()
    if (victims.length === 0) return total
    const res = await ex.deleteFrom('alert').where('id', 'in', victims.map((v) => v.id)).where('status', '=', 'closed').executeTakeFirst()
    total += Number(res.numDeletedRows)
    if (victims.length < batch) return total
  }
}

/**
 * Delete watch states that settled at `ok` before `cutoff`. Forgetting one changes nothing: a
 * figure last seen above its threshold is judged ok again on its next movement (first sight), and
 * no event older than days can still arrive to be ordered against its version.
 */
export async function pruneSettledWatchStates(ex: Executor, cutoff: number, batch = 1000): Promise<number> {
  let total = 0
  for (;;) {
    const victims = await ex.selectFrom('alert_state').select('key').where('state', '=', 'ok').where('updated_at', '<', cutoff).limit(batch).execute()
    if (victims.length === 0) return total
    const res = await ex
      .deleteFrom('alert_state')
      .where('key', 'in', victims.map((v) => v.key))
      .where('state', '=', 'ok')
      .where('updated_at', '<', cutoff)
      .executeTakeFirst()
    total += Number(res.numDeletedRows)
    if (victims.length < batch) return total
  }
}

// ---- the alert's own outbox event: what the delivery worker hands to a channel ----

const CURRENT_TX = sql<number>`pg_current_xact_id()::text::bigint`

/**
 * Write an `alert.raised` event. Its `sku` column holds the alert id: a SKU's own event history
 * (latest event, coalescing) never sees alerts, and each alert gets its own delivery slot.
 */
export async function insertAlertEvent(ex: Executor, caps: DialectCaps, e: { id: string; alertId: string; warehouseId: number; payload: unknown; createdAt: number }, origin: string): Promise<number> {
  const row = await ex
    .insertInto('outbox_event')
    .values({ id: e.id, type: 'alert.raised', sku: e.alertId, warehouse_id: e.warehouseId, sku_version: 0, payload: JSON.stringify(e.payload), tx_id: caps.notify ? CURRENT_TX : null, created_at: e.createdAt })
    .returning(caps.notify ? ['seq', sql<string>`pg_notify(${OUTBOX_CHANNEL}, ${origin})::text`.as('notified')] : ['seq'])
    .executeTakeFirstOrThrow()
  return Number(row.seq)
}

/**
 * A digest channel's one slot: due when its window closes. A newer alert moves the slot's event
 * forward but not its due time, so one message carries everything raised in the window.
 */
export async function enqueueDigest(ex: Executor, channelId: string, eventSeq: number, dueAt: number, now: number): Promise<void> {
  await ex
    .insertInto('delivery')
    .values({ target_id: channelId, sku: 'digest', event_seq: eventSeq, attempts: 0, next_attempt_at: dueAt, locked_by: null, locked_until: null, last_error: null, last_status: null, created_at: now })
    .onConflict((oc) =>
      oc
        .columns(['target_id', 'sku'])
        .doUpdateSet({ event_seq: (eb) => eb.ref('excluded.event_seq') })
        .where('delivery.event_seq', '<', (eb) => eb.ref('excluded.event_seq')),
    )
    .execute()
}

// ---- channels ----

/**
 * A channel's credentials: an SMTP password, a signed webhook's secret, and a Slack-style URL
 * (the URL is the credential). They are sealed with KEY_ENCRYPTION_KEY when it is set, as store
 * and pull secrets are, and stored `plain:` otherwise. At rest a sealed field is the object
 * `{"$sealed": "…"}`, so it cannot be mistaken for a plain value written before sealing existed
 * (those, plain strings, are still read, and sealAlertChannelSecrets rewrites them). Set once at start.
 */
let sealKey: Buffer | null = null
export function useAlertSealKey(key: Buffer | null): void {
  sealKey = key
}
const SECRET_FIELDS: Readonly<Record<string, ReadonlyArray<string>>> = { email: ['password'], webhook: ['secret'], slack: ['url'] }
const SEALED = '$sealed'

function sealConfig(kind: string, config: Record<string, unknown>): Record<string, unknown> {
  const out = { ...config }
  for (const f of SECRET_FIELDS[kind] ?? []) if (typeof out[f] === 'string') out[f] = { [SEALED]: sealSecret(out[f] as string, sealKey) }
  return out
}

/** The config with its secrets in the clear; a secret that cannot be opened is left out and named in `sealError`. */
function openConfig(kind: string, stored: Record<string, unknown>): { config: Record<string, unknown>; sealError: string | null } {
  const config = { ...stored }
  let sealError: string | null = null
  for (const f of SECRET_FIELDS[kind] ?? []) {
    const v = config[f]
    if (typeof v !== 'object' || v === null) continue
    const sealed = (v as Record<string, unknown>)[SEALED]
    try {
      if (typeof sealed !== 'string') throw new SealedSecretError('Malformed sealed secret')
      config[f] = openSecret(sealed, sealKey)
    } catch (e) {
      delete config[f]
      sealError = `the channel's ${f} cannot be read: ${e instanceof SealedSecretError ? e.message : 'error'}`
    }
  }
  return { config, sealError }
}

export interface ChannelRow {
  readonly id: string
  readonly name: string
  readonly kind: string
  readonly config: Record<string, unknown>
  readonly mode: 'immediate' | 'digest'
  readonly digestSeconds: number
  readonly kinds: ReadonlyArray<string>
  readonly scopes: ReadonlyArray<string>
  readonly isActive: boolean
  readonly digestThroughSeq: number
  readonly createdAt: number
  /** Why a sealed secret of the channel cannot be opened (KEY_ENCRYPTION_KEY missing or changed); null when all is well. */
  readonly sealError?: string | null
}

type ChannelRaw = { id: string; name: string; kind: string; config: string; mode: string; digest_seconds: number; kinds: string; scopes: string; is_active: number; digest_through_seq: number | string; created_at: number | string }

function toChannel(r: ChannelRaw): ChannelRow {
  const { config, sealError } = openConfig(r.kind, JSON.parse(r.config) as Record<string, unknown>)
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    config,
    mode: r.mode as ChannelRow['mode'],
    digestSeconds: Number(r.digest_seconds),
    kinds: JSON.parse(r.kinds) as string[],
    scopes: JSON.parse(r.scopes) as string[],
    isActive: Number(r.is_active) === 1,
    digestThroughSeq: Number(r.digest_through_seq),
    createdAt: Number(r.created_at),
    sealError,
  }
}

/**
 * Seal what is stored in the clear: secrets written before sealing existed, and `plain:` ones once
 * a KEY_ENCRYPTION_KEY is set. Run at start; returns how many channels it rewrote.
 */
export async function sealAlertChannelSecrets(ex: Executor): Promise<number> {
  let n = 0
  for (const r of await ex.selectFrom('alert_channel').select(['id', 'kind', 'config']).execute()) {
    const stored = JSON.parse(r.config) as Record<string, unknown>
    const fields = SECRET_FIELDS[r.kind] ?? []
    const clear = fields.filter((f) => {
      const v = stored[f]
      if (typeof v === 'string') return true
      const sealed = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[SEALED] : undefined
      return sealKey !== null && typeof sealed === 'string' && sealed.startsWith('plain:')
    })
    if (clear.length === 0) continue
    const { config, sealError } = openConfig(r.kind, stored)
    if (sealError !== null) continue
    const res = await ex.updateTable('alert_channel').set({ config: JSON.stringify(sealConfig(r.kind, config)) }).where('id', '=', r.id).where('config', '=', r.config).executeTakeFirst()
    n += Number(res.numUpdatedRows)
  }
  return n
}

/** Insert a channel; false when the name is taken. */
export async function insertChannel(ex: Executor, c: ChannelRow): Promise<boolean> {
  const res = await ex
    .insertInto('alert_channel')
    .values({
      id: c.id,
      name: c.name,
      kind: c.kind,
      config: JSON.stringify(sealConfig(c.kind, c.config)),
      mode: c.mode,
      digest_seconds: c.digestSeconds,
      kinds: JSON.stringify(c.kinds),
      scopes: JSON.stringify(c.scopes),
      is_active: c.isActive ? 1 : 0,
      digest_through_seq: c.digestThroughSeq,
      created_at: c.createdAt,
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('id')
    .executeTakeFirst()
  return res !== undefined
}

export async function listChannels(ex: Executor): Promise<ChannelRow[]> {
  return (await ex.selectFrom('alert_channel').selectAll().orderBy('created_at').orderBy('id').execute()).map(toChannel)
}

/** One page oldest first, after the (created_at, id) key `after` (#12). */
export async function listChannelPage(ex: Executor, take: number, after?: { readonly createdAt: number; readonly id: string }): Promise<ChannelRow[]> {
  const rows = await ex
    .selectFrom('alert_channel')
    .selectAll()
    .$if(after !== undefined, (qb) => qb.where((eb) => pastCursor(eb, '>', 'created_at', after!.createdAt, 'id', after!.id)))
    .orderBy('created_at')
    .orderBy('id')
    .limit(take)
    .execute()
  return rows.map(toChannel)
}

export async function findChannel(ex: Executor, idOrName: string): Promise<ChannelRow | undefined> {
  const r = await ex
    .selectFrom('alert_channel')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst()
  return r ? toChannel(r) : undefined
}

/** Remove a channel and whatever still waits to be delivered to it. */
export async function deleteChannel(ex: Executor, id: string): Promise<boolean> {
  await ex.deleteFrom('delivery').where('target_id', '=', id).execute()
  const res = await ex.deleteFrom('alert_channel').where('id', '=', id).executeTakeFirst()
  return Number(res.numDeletedRows) === 1
}

/** A digest went out: the next one starts after `seq` (never moves backwards). */
export async function markDigestSent(ex: Executor, id: string, seq: number): Promise<void> {
  await ex.updateTable('alert_channel').set({ digest_through_seq: seq }).where('id', '=', id).where('digest_through_seq', '<', seq).execute()
}
