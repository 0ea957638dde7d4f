/** @module store/job-repo: background jobs (large bulk syncs), claimed under a lease like deliveries. */
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'

export type JobStatus = 'queued' | 'running' | 'done' | 'failed'

export interface Job {
  readonly id: string
  readonly type: string
  readonly status: JobStatus
  readonly input: string
  readonly actor: string
  readonly total: number
  readonly done: number
  readonly result: string | null
  readonly error: string | null
  readonly createdAt: number
  readonly updatedAt: number
}

function toJob(r: { id: string; type: string; status: string; input: string; actor: string; total: number; done: number; result: string | null; error: string | null; created_at: number | string; updated_at: number | string }): Job {
  return { id: r.id, type: r.type, status: r.status as JobStatus, input: r.input, actor: r.actor, total: Number(r.total), done: Number(r.done), result: r.result, error: r.error, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) }
}

export async function insertJob(ex: Executor, j: { id: string; type: string; input: string; actor: string; total: number; now: number }): Promise<void> {
  await ex
    .insertInto('job')
    .values({ id: j.id, type: j.type, status: 'queued', input: j.input, actor: j.actor, total: j.total, done: 0, result: null, error: null, locked_by: null, locked_until: null, created_at: j.now, updated_at: j.now })
    .execute()
}

export async function findJob(ex: Executor, id: string): Promise<Job | undefined> {
  const r = await ex.selectFrom('job').selectAll().where('id', '=', id).executeTakeFirst()
  return r ? toJob(r) : undefined
}

/** A job without its input (which can be megabytes): for progress polls. */
export async function findJobStatus(ex: Executor, id: string): Promise<Job | undefined> {
  const r = await ex.selectFrom('job').select(['id', 'type', 'status', 'actor', 'total', 'done', 'result', 'error', 'created_at', 'updated_at']).where('id', '=', id).executeTakeFirst()
  return r ? toJob({ ...r, input: '' }) : undefined
}

/** Claim one queued job, or a running one whose worker's lease ran out (it crashed). */
export async function claimJob(ex: Executor, caps: DialectCaps, workerId: string, now: number, leaseMs: number): Promise<Job | undefined> {
  const candidate = ex
    .selectFrom('job')
    .select('id')
    .where((eb) => eb.or([eb('status', '=', 'queued'), eb.and([eb('status', '=', 'running'), eb('locked_until', '<', now)])]))
    .orderBy('created_at')
    .limit(1)
    .$if(caps.rowLocks, (qb) => qb.forUpdate().skipLocked())
  const r = await ex
    .updateTable('job')
    .set({ status: 'running', locked_by: workerId, locked_until: now + leaseMs, updated_at: now })
    .where('id', 'in', candidate)
    .returningAll()
    .executeTakeFirst()
  return r ? toJob(r) : undefined
}

export async function updateJobProgress(ex: Executor, id: string, workerId: string, done: number, now: number, leaseMs: number): Promise<void> {
  await ex.updateTable('job').set({ done, updated_at: now, locked_until: now + leaseMs }).where('id', '=', id).where('locked_by', '=', workerId).execute()
}

export async function finishJob(ex: Executor, id: string, workerId: string, status: 'done' | 'failed', result: string | null, error: string | null, now: number): Promise<void> {
  await ex.updateTable('job').set({ status, result, error: error?.slice(0, 500) ?? null, locked_by: null, locked_until: null, updated_at: now }).where('id', '=', id).where('locked_by', '=', workerId).execute()
}

/** Jobs, newest first (ULID ids sort by creation time); only ids below `beforeId` when given. */
export async function listJobs(ex: Executor, q: { readonly status?: JobStatus | undefined; readonly beforeId?: string | undefined; readonly limit: number }): Promise<Job[]> {
  const rows = await ex
    .selectFrom('job')
    .selectAll()
    .$if(q.status !== undefined, (qb) => qb.where('status', '=', q.status!))
    .$if(q.beforeId !== undefined, (qb) => qb.where('id', '<', q.beforeId!))
    .orderBy('id', 'desc')
    .limit(q.limit)
    .execute()
  return rows.map(toJob)
}

/** Progress of a job whose size is learnt while it runs (store jobs): done and total together. */
export async function updateJobCounts(ex: Executor, id: string, workerId: string, done: number, total: number, now: number, leaseMs: number): Promise<void> {
  await ex.updateTable('job').set({ done, total, updated_at: now, locked_until: now + leaseMs }).where('id', '=', id).where('locked_by', '=', workerId).execute()
}
