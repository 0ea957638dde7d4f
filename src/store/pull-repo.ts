/**
 * @module store/pull-repo: warehouse pull sources (one per warehouse, scheduled under a lease) and
 * the record of each run. Auth secrets are sealed with KEY_ENCRYPTION_KEY when it is set, exactly
 * as store credentials are (store/woo-repo.ts), and stored `plain:` otherwise.
 */
import type { Selectable } from 'kysely'
import { openSecret, sealSecret } from '../security/secret-box.js'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import type { PullRunTable, WarehousePullTable } from './pull-schema.js'
import { pastCursor } from './keyset.js'

let sealKey: Buffer | null = null
/** Set once at start (server and CLI), beside useStoreSealKey. */
export function usePullSealKey(key: Buffer | null): void {
  sealKey = key
}

export const PULL_AUTH_KINDS = ['none', 'bearer', 'basic', 'header'] as const
export type PullAuthKind = (typeof PULL_AUTH_KINDS)[number]
export type PullHealth = 'unknown' | 'ok' | 'unhealthy'

export type Pagination =
  | { readonly type: 'none' }
  /** The next page's URL from the `Link: <…>; rel="next"` header, or from a body field (dotted path). */
  | { readonly type: 'next_link'; readonly field?: string | undefined }
  /** `?param=n` from `start`, optionally with `size_param=size`; stops at a page with no items (or fewer than size). */
  | { readonly type: 'page'; readonly param: string; readonly start: number; readonly sizeParam?: string | undefined; readonly size?: number | undefined }
  /** `?param=<cursor>` where the cursor is the body field `field` (dotted path) of the previous page; stops when it is empty. */
  | { readonly type: 'cursor'; readonly param: string; readonly field: string }

export interface PullSource {
  readonly warehouseId: number
  readonly url: string
  readonly authKind: PullAuthKind
  readonly authName: string | null
  readonly authSecret: string | null
  /** A JSONata expression; null: the seed's default `{"inventory_items":[{"sku","quantity"}]}`. */
  readonly mapping: string | null
  readonly pagination: Pagination
  readonly intervalSeconds: number | null
  readonly cron: string | null
  readonly timeoutMs: number
  readonly enabled: boolean
  readonly health: PullHealth
  readonly healthReason: string | null
  readonly failures: number
  readonly nextRunAt: number | null
  readonly lastRunAt: number | null
  readonly createdAt: number
  readonly updatedAt: number
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v))

function toSource(r: Selectable<WarehousePullTable>): PullSource {
  return {
    warehouseId: Number(r.warehouse_id),
    url: r.url,
    authKind: r.auth_kind as PullAuthKind,
    authName: r.auth_name,
    authSecret: r.auth_secret === null ? null : openSecret(r.auth_secret, sealKey),
    mapping: r.mapping,
    pagination: JSON.parse(r.pagination) as Pagination,
    intervalSeconds: r.interval_seconds === null ? null : Number(r.interval_seconds),
    cron: r.cron,
    timeoutMs: Number(r.timeout_ms),
    enabled: Number(r.enabled) === 1,
    health: r.health as PullHealth,
    healthReason: r.health_reason,
    failures: Number(r.failures),
    nextRunAt: num(r.next_run_at),
    lastRunAt: num(r.last_run_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

export type PullSourceWrite = Omit<PullSource, 'health' | 'healthReason' | 'failures' | 'lastRunAt' | 'createdAt' | 'updatedAt'>

/** Create or replace a warehouse's pull source; a replaced source starts healthy-unknown with no failures. */
export async function upsertPullSource(ex: Executor, s: PullSourceWrite, now: number): Promise<void> {
  const values = {
    url: s.url,
    auth_kind: s.authKind,
    auth_name: s.authName,
    auth_secret: s.authSecret === null ? null : sealSecret(s.authSecret, sealKey),
    mapping: s.mapping,
    pagination: JSON.stringify(s.pagination),
    interval_seconds: s.intervalSeconds,
    cron: s.cron,
    timeout_ms: s.timeoutMs,
    enabled: s.enabled ? 1 : 0,
    health: 'unknown',
    health_reason: null,
    failures: 0,
    next_run_at: s.nextRunAt,
    updated_at: now,
  }
  await ex
    .insertInto('warehouse_pull')
    .values({ warehouse_id: s.warehouseId, ...values, locked_by: null, locked_until: null, last_run_at: null, created_at: now })
    .onConflict((oc) => oc.column('warehouse_id').doUpdateSet(values))
    .execute()
}

export async function findPullSource(ex: Executor, warehouseId: number): Promise<PullSource | undefined> {
  const r = await ex.selectFrom('warehouse_pull').selectAll().where('warehouse_id', '=', warehouseId).executeTakeFirst()
  return r ? toSource(r) : undefined
}

/** Every warehouse's pull source (a few per deployment: one per warehouse at most). */
export async function listPullSources(ex: Executor): Promise<PullSource[]> {
  return (await ex.selectFrom('warehouse_pull').selectAll().orderBy('warehouse_id').execute()).map(toSource)
}

export async function deletePullSource(ex: Executor, warehouseId: number): Promise<boolean> {
  const r = await ex.deleteFrom('warehouse_pull').where('warehouse_id', '=', warehouseId).executeTakeFirst()
  return Number(r.numDeletedRows) > 0
}

/**
 * Claim one due, enabled source for `leaseMs`: a single conditional UPDATE, so of several nodes
 * polling at once exactly one gets it. A source whose runner died is claimable again once its
 * lease runs out.
 */
export async function claimDuePull(ex: Executor, caps: DialectCaps, workerId: string, now: number, leaseMs: number): Promise<PullSource | undefined> {
  const candidate = ex
    .selectFrom('warehouse_pull')
    .select('warehouse_id')
    .where('enabled', '=', 1)
    .where('next_run_at', 'is not', null)
    .where('next_run_at', '<=', now)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .orderBy('next_run_at')
    .limit(1)
    .$if(caps.rowLocks, (qb) => qb.forUpdate().skipLocked())
  const r = await ex
    .updateTable('warehouse_pull')
    .set({ locked_by: workerId, locked_until: now + leaseMs })
    .where('warehouse_id', 'in', candidate)
    // Re-checked here: on SQLite the sub-select and the update are one statement anyway; on PostgreSQL
    // a row another node claimed between the two is skipped by the lock, and this guard is belt and braces.
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .returningAll()
    .executeTakeFirst()
  return r ? toSource(r) : undefined
}

/** Take a source's lease for a manual run; false when a run holds it. */
export async function leasePull(ex: Executor, warehouseId: number, workerId: string, now: number, leaseMs: number): Promise<boolean> {
  const r = await ex
    .updateTable('warehouse_pull')
    .set({ locked_by: workerId, locked_until: now + leaseMs })
    .where('warehouse_id', '=', warehouseId)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .executeTakeFirst()
  return Number(r.numUpdatedRows) > 0
}

export async function extendPullLease(ex: Executor, warehouseId: number, workerId: string, until: number): Promise<void> {
  await ex.updateTable('warehouse_pull').set({ locked_until: until }).where('warehouse_id', '=', warehouseId).where('locked_by', '=', workerId).execute()
}

/** Release the lease with the run's outcome: health, failure count and when to run next. */
export async function releasePull(
  ex: Executor,
  warehouseId: number,
  workerId: string,
  o: { readonly health: PullHealth; readonly healthReason: string | null; readonly failures: number; readonly nextRunAt: number | null; readonly lastRunAt: number; readonly now: number },
): Promise<void> {
  await ex
    .updateTable('warehouse_pull')
    .set({ locked_by: null, locked_until: null, health: o.health, health_reason: o.healthReason?.slice(0, 500) ?? null, failures: o.failures, next_run_at: o.nextRunAt, last_run_at: o.lastRunAt })
    .where('warehouse_id', '=', warehouseId)
    .where('locked_by', '=', workerId)
    .execute()
}

export type PullRunStatus = 'running' | 'done' | 'failed'

export interface PullRun {
  readonly id: string
  readonly warehouseId: number
  readonly trigger: 'schedule' | 'manual'
  readonly dryRun: boolean
  readonly status: PullRunStatus
  readonly pages: number
  readonly fetched: number
  readonly applied: number
  readonly unchanged: number
  readonly stale: number
  readonly rejected: number
  readonly observedAt: number | null
  readonly error: string | null
  readonly report: unknown
  readonly startedAt: number
  readonly finishedAt: number | null
}

function toRun(r: Selectable<PullRunTable>): PullRun {
  return {
    id: r.id,
    warehouseId: Number(r.warehouse_id),
    trigger: r.trigger as PullRun['trigger'],
    dryRun: Number(r.dry_run) === 1,
    status: r.status as PullRunStatus,
    pages: Number(r.pages),
    fetched: Number(r.fetched),
    applied: Number(r.applied),
    unchanged: Number(r.unchanged),
    stale: Number(r.stale),
    rejected: Number(r.rejected),
    observedAt: num(r.observed_at),
    error: r.error,
    report: r.report === null ? null : (JSON.parse(r.report) as unknown),
    startedAt: Number(r.started_at),
    finishedAt: num(r.finished_at),
  }
}

export async function insertPullRun(ex: Executor, r: { id: string; warehouseId: number; trigger: PullRun['trigger']; dryRun: boolean; now: number }): Promise<void> {
  await ex
    .insertInto('pull_run')
    .values({ id: r.id, warehouse_id: r.warehouseId, trigger: r.trigger, dry_run: r.dryRun ? 1 : 0, status: 'running', pages: 0, fetched: 0, applied: 0, unchanged: 0, stale: 0, rejected: 0, observed_at: null, error: null, report: null, started_at: r.now, finished_at: null })
    .execute()
}

export async function finishPullRun(
  ex: Executor,
  id: string,
  f: { status: 'done' | 'failed'; pages: number; fetched: number; applied: number; unchanged: number; stale: number; rejected: number; observedAt: number | null; error: string | null; report: unknown; now: number },
): Promise<void> {
  await ex
    .updateTable('pull_run')
    .set({ status: f.status, pages: f.pages, fetched: f.fetched, applied: f.applied, unchanged: f.unchanged, stale: f.stale, rejected: f.rejected, observed_at: f.observedAt, error: f.error?.slice(0, 1000) ?? null, report: f.report === null ? null : JSON.stringify(f.report), finished_at: f.now })
    .where('id', '=', id)
    .execute()
}

export async function findPullRun(ex: Executor, id: string): Promise<PullRun | undefined> {
  const r = await ex.selectFrom('pull_run').selectAll().where('id', '=', id).executeTakeFirst()
  return r ? toRun(r) : undefined
}

/** Newest first. */
export async function listPullRuns(ex: Executor, warehouseId: number, limit: number, before?: { readonly startedAt: number; readonly id: string }): Promise<PullRun[]> {
  const rows = await ex
    .selectFrom('pull_run')
    .selectAll()
    .where('warehouse_id', '=', warehouseId)
    .$if(before !== undefined, (qb) => qb.where((eb) => pastCursor(eb, '<', 'started_at', before!.startedAt, 'id', before!.id)))
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
  return rows.map(toRun)
}
