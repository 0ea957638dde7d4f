/**
 * @module service/alerts: stock alerts evaluated from committed movement events, operational
 * alerts, and the open-alert list (#15).
 *
 * The evaluator reads the outbox like a live stream does, from a cursor kept in the database.
 * Each page is evaluated in one transaction that locks the cursor row, reads the events after it,
 * updates the watch states, writes the alerts (and, for channels that want them, an
 * `alert.raised` event and its delivery slots) and moves the cursor. So an event is evaluated
 * exactly once: several nodes queue on the cursor lock and the second finds the work done; a
 * crash before the commit leaves the cursor where it was and the page is evaluated again, a crash
 * after it leaves the alert (with its id) and its deliveries committed for the worker.
 *
 * On SQLite a page is first judged without the write lock, from the events the database finds
 * could change a watch state (judgeCandidates); only a page that changes something takes the
 * lock, and is judged again there if another process moved the cursor meanwhile. Nothing of this
 * runs in a write's transaction.
 */
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page, type PageParams } from './paging.js'
import { DomainError, invalid } from '../domain/errors.js'
import { crossingOf, levelKey, operationalKey, stateOf, totalKey, type AlertKind, type AlertScope, type OperationalAlertKind, type StockAlertKind, type WatchState, OPERATIONAL_ALERT_KINDS } from '../domain/alerts.js'
import type { StockChangedData } from '../domain/events.js'
import { alertsRaisedTotal, alertEvaluationLag } from '../observability/metrics.js'
import * as repo from '../store/alert-repo.js'
import type { AlertRow, ChannelRow } from '../store/alert-repo.js'
import { enqueueDeliveries } from '../store/delivery-repo.js'
import type { Executor } from '../store/db.js'
import type { StreamCursor } from '../store/outbox-repo.js'
import type { ServiceDeps } from './deps.js'
import { inTransaction } from './transaction.js'

export interface AlertSettings {
  /** Units above the threshold a figure must reach before it re-arms (and back_in_stock is sent). */
  readonly hysteresis: number
  /** Events evaluated per transaction. */
  readonly pageSize: number
  /**
   * SQLite: how often a cursor moved in memory is written back (see CursorMemo); bounds what a
   * crash makes the next start evaluate again.
   */
  readonly checkpointMs?: number
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = Object.freeze({ hysteresis: 0, pageSize: 500, checkpointMs: 1000 })

/** What channels and the API see of an alert. */
export function alertView(a: AlertRow) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
  return {
    id: a.id,
    kind: a.kind,
    scope: a.scope,
    sku: a.sku,
    warehouse_id: a.warehouseId,
    subject: a.subject,
    status: a.status,
    available: a.available,
    threshold: a.threshold,
    detail: a.detail,
    source_event_id: a.sourceEventId,
    raised_at: iso(a.raisedAt)!,
    acknowledged_at: iso(a.acknowledgedAt),
    acknowledged_by: a.acknowledgedBy,
    closed_at: iso(a.closedAt),
  }
}
export type AlertView = ReturnType<typeof alertView>

// ---- channels, as the evaluator sees them (a short cache: channels change rarely) ----

const channelCache = new WeakMap<object, { at: number; list: ChannelRow[] }>()
const CHANNEL_TTL_MS = 1000

async function activeChannels(deps: ServiceDeps, ex: Executor): Promise<ChannelRow[]> {
  const hit = channelCache.get(deps.events)
  const now = Date.now()
  if (hit && now - hit.at < CHANNEL_TTL_MS && now >= hit.at) return hit.list
  const list = (await repo.listChannels(ex)).filter((c) => c.isActive)
  channelCache.set(deps.events, { at: now, list })
  return list
}

/** Forget cached channels (after one changed on this node). */
export function invalidateChannels(deps: ServiceDeps): void {
  channelCache.delete(deps.events)
}

export function channelWants(c: ChannelRow, kind: string, scope: string): boolean {
  return c.isActive && c.kinds.includes(kind) && c.scopes.includes(scope)
}

/**
 * Record an alert and hand it to the channels that want it: immediate channels get a delivery
 * slot of their own for this alert (never coalesced with another), digest channels their one
 * window slot. Inside the caller's transaction.
 */
async function raiseInTransaction(deps: ServiceDeps, trx: Executor, alert: AlertRow, now: number): Promise<AlertRow> {
  const channels = (await activeChannels(deps, trx)).filter((c) => channelWants(c, alert.kind, alert.scope))
  let eventSeq: number | null = null
  if (channels.length > 0) {
    eventSeq = await repo.insertAlertEvent(trx, deps.store.caps, { id: deps.ids.next('evt'), alertId: alert.id, warehouseId: alert.warehouseId ?? 0, payload: alertView(alert), createdAt: now }, deps.store.nodeId)
    const immediate = channels.filter((c) => c.mode === 'immediate').map((c) => c.id)
    await enqueueDeliveries(trx, immediate, alert.id, eventSeq, now)
    for (const c of channels) if (c.mode === 'digest') await repo.enqueueDigest(trx, c.id, eventSeq, now + c.digestSeconds * 1000, now)
    deps.events.expect('deliveries')
  }
  const row = { ...alert, eventSeq }
  await repo.insertAlert(trx, row)
  return row
}

function stockAlert(deps: ServiceDeps, kind: StockAlertKind, scope: 'level' | 'total', key: string, e: StockChangedData, eventId: string, available: number, threshold: number, now: number): AlertRow {
  const recovered = kind === 'back_in_stock'
  return {
    id: deps.ids.next('alr'),
    kind,
    scope,
    stateKey: key,
    sku: e.sku,
    warehouseId: scope === 'level' ? e.warehouse_id : null,
    subject: null,
    // A recovery is news, not a problem to work on: it is closed from the start.
    status: recovered ? 'closed' : 'open',
    available,
    threshold,
    detail: null,
    sourceEventId: eventId,
    eventSeq: null,
    raisedAt: now,
    acknowledgedAt: null,
    acknowledgedBy: null,
    closedAt: recovered ? now : null,
  }
}

export interface EvaluationResult {
  readonly events: number
  readonly raised: ReadonlyArray<AlertRow>
  /** More events may be waiting (a full page, or events held back behind an older transaction). */
  readonly more: boolean
}

/** A crossing found in a page: the alert to raise once the page is written. */
interface Crossing {
  readonly kind: StockAlertKind
  readonly scope: 'level' | 'total'
  readonly key: string
  readonly event: repo.WatchedEvent
  readonly available: number
  readonly threshold: number
}

/** What a page of events changes: watch states that moved, and the alerts to raise (in event order). */
interface Judgement {
  readonly states: ReadonlyMap<string, repo.WatchRecord>
  readonly crossings: ReadonlyArray<Crossing>
}

/**
 * Judge a page of events against the watch states stored when it was read. Pure: nothing is
 * written, so a page that crosses nothing (nearly every page) needs no write at all.
 */
function judgePage(events: ReadonlyArray<repo.WatchedEvent>, hysteresis: number): Judgement {
  const stored = new Map<string, repo.WatchRecord>()
  for (const e of events) {
    if (e.levelState) stored.set(levelKey(e.data.sku, e.data.warehouse_id), e.levelState)
    if (e.totalState) stored.set(totalKey(e.data.sku), e.totalState)
  }
  const states = new Map<string, repo.WatchRecord>()
  const crossings: Crossing[] = []
  // Per SKU in version order: on PostgreSQL a page comes in transaction order, and the SKU's
  // version (taken under its row lock) is the order its movements committed in.
  const ordered = [...events].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : a.skuVersion - b.skuVersion))
  for (const e of ordered) {
    const d = e.data
    const productThreshold = e.productThreshold ?? 0
    const levelThreshold = e.levelThreshold ?? productThreshold
    const delta = d.after.available - d.before.available
    const watched: Array<[scope: 'level' | 'total', key: string, before: number, after: number, threshold: number]> = [
      ['level', levelKey(d.sku, d.warehouse_id), d.before.available, d.after.available, levelThreshold],
      ['total', totalKey(d.sku), d.totals.available - delta, d.totals.available, productThreshold],
    ]
    for (const [scope, key, before, after, threshold] of watched) {
      const known = states.get(key) ?? stored.get(key)
      // An event older than the figure's last transition (a later page on PostgreSQL, where
      // pages come in transaction order) cannot undo it.
      if (known && e.skuVersion <= known.version) continue
      // First sight of a figure: judge where it stood before this movement, so a SKU that was
      // already low when alerts began is not reported as crossing now.
      const prev = (known?.state as WatchState | undefined) ?? stateOf(before, threshold)
      const step = crossingOf(prev, after, threshold, hysteresis)
      // Only transitions are written: a stream of movements that cross nothing costs no write.
      if (step.next !== prev) states.set(key, { state: step.next, version: e.skuVersion })
      if (step.raise === null) continue
      // A recovery closes what we reported; a figure never watched before reported nothing
      // (a new product's first delivery is not "back" in stock).
      if (step.raise === 'back_in_stock' && known === undefined) continue
      crossings.push({ kind: step.raise, scope, key, event: e, available: after, threshold })
    }
  }
  for (const [key, w] of states) {
    const was = stored.get(key)
    if (was?.state === w.state && was.version === w.version) states.delete(key)
  }
  return { states, crossings }
}

const isIdle = (j: Judgement) => j.states.size === 0 && j.crossings.length === 0

/** A page of events judged, and where it ends. */
interface JudgedPage {
  /** Stock events in the page. */
  readonly events: number
  readonly cursor: StreamCursor
  /** created_at of the page's newest event. */
  readonly newestAt: number
  /** PostgreSQL: more events wait behind a transaction still running. */
  readonly heldBack: boolean
  readonly judgement: Judgement
}

/** PostgreSQL: every event of the page, judged here. */
async function judgeWholePage(ex: Executor, deps: ServiceDeps, from: StreamCursor, settings: AlertSettings): Promise<JudgedPage> {
  const page = await repo.readWatchedEvents(ex, deps.store.caps, from, settings.pageSize)
  const newestAt = page.events.length > 0 ? page.events[page.events.length - 1]!.createdAt : 0
  return { events: page.events.length, cursor: page.cursor, newestAt, heldBack: page.heldBack, judgement: judgePage(page.events, settings.hysteresis) }
}

/**
 * SQLite: the page judged from the events the database finds could change a watch state (nearly
 * always none, or a few), so the cost of an event that changes nothing is a scan in SQLite, not a
 * row, a JSON parse and a judgement here. The events left out find their figures' states as
 * stored (ok) and leave them so, unless a candidate before them took a figure low or out: then
 * every event of that SKU in the page is judged too (store/alert-repo readCandidatePage).
 */
async function judgeCandidates(ex: Executor, from: StreamCursor, settings: AlertSettings): Promise<JudgedPage> {
  const page = await repo.readCandidatePage(ex, from, settings.pageSize)
  let judgement = judgePage(page.candidates, settings.hysteresis)
  // A figure goes low or out only with a low_stock or out_of_stock crossing (crossingOf).
  const fell = [...new Set(judgement.crossings.filter((c) => c.kind !== 'back_in_stock').map((c) => c.event.sku))]
  if (fell.length > 0) {
    const seen = new Set(page.candidates.map((e) => e.seq))
    const rest = (await repo.readPageEventsOf(ex, from.seq, page.cursor.seq, fell)).filter((e) => !seen.has(e.seq))
    if (rest.length > 0) judgement = judgePage([...page.candidates, ...rest], settings.hysteresis)
  }
  return { events: page.events, cursor: page.cursor, newestAt: page.newestAt, heldBack: false, judgement }
}

/** Write a page's judgement: alerts (and their deliveries) and watch states, in the caller's transaction. */
async function applyJudgement(deps: ServiceDeps, trx: Executor, j: Judgement, now: number): Promise<AlertRow[]> {
  const raised: AlertRow[] = []
  for (const c of j.crossings) {
    if (c.kind === 'back_in_stock') await repo.closeAlertsOf(trx, c.key, now)
    raised.push(await raiseInTransaction(deps, trx, stockAlert(deps, c.kind, c.scope, c.key, c.event.data, c.event.id, c.available, c.threshold, now), now))
  }
  await repo.saveWatchStates(trx, j.states, now)
  return raised
}

/**
 * SQLite: where this process's evaluator stands. One process serves an SQLite file, so the cursor
 * can live in memory and reach the database only as a checkpoint: a page that crosses nothing
 * moves it here without taking SQLite's one write lock. A crash replays the events since the last
 * checkpoint, which is harmless: they crossed nothing against the watch states stored then, and
 * nothing has changed those states since (any change writes the cursor in its own transaction).
 */
interface CursorMemo {
  /** Evaluated through here. */
  cursor: StreamCursor
  /** What this process last read or wrote in alert_cursor. */
  persisted: StreamCursor
  persistedAt: number
}

const cursorMemos = new WeakMap<object, CursorMemo>()

const sameCursor = (a: StreamCursor, b: StreamCursor) => a.txId === b.txId && a.seq === b.seq

/** Evaluate one page of committed stock events. Safe on several nodes at once. */
export async function evaluateAlerts(deps: ServiceDeps, settings: AlertSettings = DEFAULT_ALERT_SETTINGS): Promise<EvaluationResult> {
  const { caps, db } = deps.store
  // PostgreSQL: several nodes share the cursor, so every page is judged under its row lock (which
  // blocks no writer). SQLite: judged first without the write lock.
  if (caps.rowLocks) return evaluateLocked(deps, settings, null)
  let memo = cursorMemos.get(deps.store)
  if (!memo) {
    const persisted = await repo.readAlertCursor(db)
    memo = { cursor: persisted, persisted, persistedAt: performance.now() }
    cursorMemos.set(deps.store, memo)
  }
  const from = memo.cursor
  const page = await judgeCandidates(db, from, settings)
  const checkpointMs = settings.checkpointMs ?? DEFAULT_ALERT_SETTINGS.checkpointMs!
  if (page.events === 0) {
    await checkpointAlertCursor(deps, checkpointMs)
    return { events: 0, raised: [], more: false }
  }
  if (!isIdle(page.judgement)) return evaluateLocked(deps, settings, memo, { from, page })
  memo.cursor = page.cursor
  observeLag(deps, page.newestAt)
  await checkpointAlertCursor(deps, checkpointMs)
  return { events: page.events, raised: [], more: page.events >= settings.pageSize }
}

/**
 * Write this process's in-memory cursor back (SQLite), unless it was written less than `minAgeMs`
 * ago. The evaluator calls it as it stops. If another process moved the cursor meanwhile, its
 * position wins and this process re-reads it.
 */
export async function checkpointAlertCursor(deps: ServiceDeps, minAgeMs = 0): Promise<void> {
  const memo = cursorMemos.get(deps.store)
  if (!memo || sameCursor(memo.cursor, memo.persisted)) return
  const at = performance.now()
  if (at - memo.persistedAt < minAgeMs) return
  const to = memo.cursor
  const moved = await inTransaction(deps, (trx) => repo.advanceAlertCursor(trx, memo.persisted, to, deps.clock.now()))
  if (moved) {
    memo.persisted = to
    memo.persistedAt = at
  } else cursorMemos.delete(deps.store)
}

function observeLag(deps: ServiceDeps, newestAt: number): void {
  alertEvaluationLag.set(Math.max(0, deps.clock.now() - newestAt) / 1000)
}

/**
 * Judge and write one page under the cursor's lock (PostgreSQL: its row lock; SQLite: the write
 * lock), so an event is evaluated exactly once whatever the number of evaluators.
 */
async function evaluateLocked(deps: ServiceDeps, settings: AlertSettings, memo: CursorMemo | null, judged?: { from: StreamCursor; page: JudgedPage }): Promise<EvaluationResult> {
  const { caps } = deps.store
  const result = await inTransaction(deps, async (trx) => {
    if (!caps.rowLocks) await repo.touchAlertCursor(trx)
    const persisted = await repo.lockAlertCursor(trx, caps)
    // Resume from memory only when nobody moved the cursor since this process last saw it.
    const unmoved = memo !== null && sameCursor(persisted, memo.persisted)
    const from = unmoved ? memo.cursor : persisted
    // SQLite: a page judged without the lock stands when nobody moved the cursor since: only an
    // evaluator writes stock watch states, and it moves the cursor in the same transaction. Its
    // thresholds are those of a moment ago, as if it had been judged then.
    const page = unmoved && judged && sameCursor(judged.from, from) ? judged.page : caps.rowLocks ? await judgeWholePage(trx, deps, from, settings) : await judgeCandidates(trx, from, settings)
    if (page.events === 0) return { page, raised: [] as AlertRow[], persisted }
    const now = deps.clock.now()
    const raised = await applyJudgement(deps, trx, page.judgement, now)
    await repo.saveAlertCursor(trx, page.cursor, now)
    return { page, raised, persisted: page.cursor }
  })
  const { page, raised, persisted } = result
  if (memo) {
    memo.cursor = page.cursor
    if (!sameCursor(memo.persisted, persisted)) memo.persistedAt = performance.now()
    memo.persisted = persisted
  }
  if (page.events > 0) observeLag(deps, page.newestAt)
  for (const a of raised) alertsRaisedTotal.inc({ kind: a.kind, scope: a.scope })
  if (raised.length > 0) {
    deps.log.info({ alerts: raised.map((a) => ({ id: a.id, kind: a.kind, scope: a.scope, sku: a.sku, warehouse_id: a.warehouseId })) }, 'stock alerts raised')
    deps.events.notify()
  }
  return { events: page.events, raised, more: page.heldBack || page.events >= settings.pageSize }
}

/**
 * Runs the evaluator whenever commits signal (and on a slow poll for other nodes' commits).
 * Runs are spaced at least `minGapMs` apart, so under a stream of writes one transaction
 * evaluates many events instead of one per write.
 */
export class AlertEvaluator {
  readonly #deps: ServiceDeps
  readonly #settings: AlertSettings
  readonly #pollMs: number
  readonly #minGapMs: number
  #stopped = false
  #woken = true
  #wake: (() => void) | null = null
  #loop: Promise<void> | null = null
  #unsubscribe: (() => void) | null = null
  #failures = 0

  constructor(deps: ServiceDeps, settings: AlertSettings = DEFAULT_ALERT_SETTINGS, o: { pollMs?: number; minGapMs?: number } = {}) {
    this.#deps = deps
    this.#settings = settings
    this.#pollMs = o.pollMs ?? 1000
    // 100 ms: under a stream of writes each run reads a page of ~100-200 events instead of a
    // handful (the fixed cost of a run, a query and two timers, is paid 10 times a second, not
    // 40), and a crossing is still announced well within a second.
    this.#minGapMs = o.minGapMs ?? 100
  }

  get running(): boolean {
    return this.#loop !== null && !this.#stopped
  }

  start(): void {
    if (this.#loop) return
    this.#unsubscribe = this.#deps.events.subscribe(() => this.wake(), 'events')
    this.#loop = (async () => {
      while (!this.#stopped) {
        this.#woken = false
        try {
          for (;;) {
            const r = await evaluateAlerts(this.#deps, this.#settings)
            this.#failures = 0
            if (!r.more || this.#stopped) break
            // Held back behind an older transaction still running (PostgreSQL): look again soon,
            // without a wake-up (its commit may write no event) and without spinning.
            if (r.events === 0) {
              this.#woken = true
              break
            }
          }
        } catch (e) {
          this.#failures++
          this.#deps.log.warn({ err: e, failures: this.#failures }, 'alert evaluation failed; retrying')
        }
        if (this.#stopped) break
        await this.#sleep(this.#failures > 0 ? Math.min(30_000, 250 * 2 ** Math.min(this.#failures, 7)) : this.#minGapMs, true)
        if (!this.#woken) await this.#sleep(this.#pollMs, false)
      }
    })()
  }

  /** Sleep `ms`; unless `fixed`, a wake-up ends it early. */
  #sleep(ms: number, fixed: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        this.#wake = null
        resolve()
      }
      const t = setTimeout(done, ms)
      t.unref?.()
      if (!fixed) this.#wake = done
    })
  }

  wake(): void {
    this.#woken = true
    this.#wake?.()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe?.()
    this.#wake?.()
    await this.#loop
    // SQLite: leave the cursor where evaluation stands, so the next start replays nothing.
    await checkpointAlertCursor(this.#deps).catch((e: unknown) => this.#deps.log.warn({ err: e }, 'saving the alert cursor failed; the next start evaluates those events again'))
  }
}

// ---- operational alerts ----

/**
 * Raise an operational alert through the alert channels: `kind` is one of OPERATIONAL_ALERT_KINDS,
 * `subject` what it is about (a store name, a warehouse code, a provider: keep it short and
 * bounded), `detail` one human sentence. Raised once: while the (kind, subject) alert is open,
 * further calls return null; resolveOperationalAlert() closes it and re-arms. Safe on several
 * nodes at once (one wins). Features call this, e.g. a warehouse pull that keeps failing:
 *
 *   await raiseOperationalAlert(deps, 'warehouse_pull_failing', 'WH-EAST', 'SFTP login refused 3 times')
 */
export async function raiseOperationalAlert(deps: ServiceDeps, kind: OperationalAlertKind, subject: string, detail: string): Promise<AlertRow | null> {
  if (!(OPERATIONAL_ALERT_KINDS as ReadonlyArray<string>).includes(kind)) throw new Error(`Unknown operational alert kind ${kind}`)
  const subj = subject.slice(0, 200)
  const key = operationalKey(kind, subj)
  const raised = await inTransaction(deps, async (trx) => {
    // The cursor lock orders alert events: a digest never skips one committed late.
    if (!deps.store.caps.rowLocks) await repo.touchAlertCursor(trx)
    await repo.lockAlertCursor(trx, deps.store.caps)
    const now = deps.clock.now()
    if (!(await repo.claimWatchTransition(trx, key, ['ok'], 'firing', now))) return null
    const alert: AlertRow = {
      id: deps.ids.next('alr'),
      kind,
      scope: 'operational',
      stateKey: key,
      sku: null,
      warehouseId: null,
      subject: subj,
      status: 'open',
      available: null,
      threshold: null,
      detail: detail.slice(0, 2000),
      sourceEventId: null,
      eventSeq: null,
      raisedAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
      closedAt: null,
    }
    return raiseInTransaction(deps, trx, alert, now)
  })
  if (raised) {
    alertsRaisedTotal.inc({ kind, scope: 'operational' })
    deps.log.warn({ alert: raised.id, kind, subject: subj, detail }, 'operational alert raised')
    deps.events.notify()
  }
  return raised
}

/** The condition is over: close the open (kind, subject) alert and re-arm. True when one was open. */
export async function resolveOperationalAlert(deps: ServiceDeps, kind: OperationalAlertKind, subject: string): Promise<boolean> {
  const key = operationalKey(kind, subject.slice(0, 200))
  return inTransaction(deps, async (trx) => {
    const now = deps.clock.now()
    if (!(await repo.claimWatchTransition(trx, key, ['firing'], 'ok', now))) return false
    await repo.closeAlertsOf(trx, key, now)
    return true
  })
}

// ---- the open-alert list ----

const STATUSES = ['open', 'acknowledged', 'closed'] as const

export interface AlertQuery {
  /** open (default: open and acknowledged), acknowledged, closed, or all. */
  readonly state?: string | undefined
  readonly kind?: string | undefined
  readonly scope?: string | undefined
  readonly sku?: string | undefined
  readonly before?: string | undefined
  readonly limit?: number | undefined
}

export async function listAlerts(deps: ServiceDeps, q: AlertQuery): Promise<AlertRow[]> {
  const state = q.state ?? 'open'
  let statuses: ReadonlyArray<repo.AlertStatus> | undefined
  if (state === 'open') statuses = ['open', 'acknowledged']
  else if (state === 'all') statuses = undefined
  else if ((STATUSES as ReadonlyArray<string>).includes(state)) statuses = [state as repo.AlertStatus]
  else throw invalid('/state', 'must be open, acknowledged, closed or all')
  return repo.listAlerts(deps.store.db, { statuses, kind: q.kind, scope: q.scope, sku: q.sku, before: q.before, limit: q.limit ?? 100 })
}

/** Alerts newest first, one page at a time (#12); `before` (an alert id) still pages without a cursor. */
export function listAlertPage(deps: ServiceDeps, q: Omit<AlertQuery, 'limit'> & PageParams): Promise<Page<AlertRow>> {
  const before = q.cursor === undefined ? q.before : (decodeCursor(q.cursor, ['string'])[0] as string)
  return pageOf(q.limit ?? DEFAULT_PAGE_LIMIT, (take) => listAlerts(deps, { ...q, before, limit: take }), (a) => [a.id])
}

export async function getAlert(deps: ServiceDeps, id: string): Promise<AlertRow> {
  const a = await repo.findAlert(deps.store.db, id)
  if (!a) throw new DomainError('alert_not_found', `No alert has id ${id}`, { alert_id: id })
  return a
}

/** Acknowledge an open alert: it stays listed as open work until the recovery closes it, marked as seen. */
export async function acknowledgeAlert(deps: ServiceDeps, id: string, actor: string): Promise<AlertRow> {
  const done = await repo.acknowledgeAlert(deps.store.db, id, actor, deps.clock.now())
  const a = await getAlert(deps, id)
  if (!done && a.status !== 'acknowledged') throw new DomainError('alert_closed', `Alert ${id} is closed; only open alerts can be acknowledged`, { alert_id: id })
  return a
}

export type { AlertKind, AlertScope }
