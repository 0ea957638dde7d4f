/**
 * @module service/jobs: large bulk syncs run in the background, in chunks, crash-safely.
 * Each chunk is applied under its own idempotency key (job id + chunk number), so a runner that
 * dies mid-job and is replaced by another never applies a chunk twice: the replacement replays
 * the stored outcome of every chunk already committed and carries on from there.
 */
import { DomainError } from '../domain/errors.js'
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page } from './paging.js'
import * as repo from '../store/job-repo.js'
import { bulkSync, resultOf, type BulkItemOutcome, type BulkSyncInput, type BulkSyncResult } from './bulk-sync.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { runIdempotent, type Replayable } from './idempotency.js'
import { runImportJob } from './imports.js'
import { claimFor } from './stock.js'
import { assertBulkItemsAllowed } from './warehouse-access.js'

/**
 * Items per chunk (one transaction each). Every chunk pays fixed costs (its own commit, a WAL
 * checkpoint on SQLite, the ordered lock and totals reads, its idempotency record), which at 1,000
 * items made a 10,000-item job ~1.6× slower than one direct call (bench/bulk-sync.ts). 5,000 keeps
 * a chunk's transaction, and so the wait of a concurrent writer on SQLite's single writer, to
 * about a quarter of a second on a quiet machine.
 */
export const JOB_CHUNK = 5000
/** The chunk size of jobs queued before it was stored with the job: their chunk keys mean this. */
const LEGACY_JOB_CHUNK = 1000

export interface JobView {
  readonly id: string
  readonly type: string
  readonly status: repo.JobStatus
  readonly total: number
  readonly done: number
  readonly result: BulkSyncResult | null
  /** The result of a job of another type (store map, sync, reconcile): the API's JSON as stored. */
  readonly output: Record<string, unknown> | null
  readonly error: string | null
  /** Who queued it (the key id or JWT subject, as the ledger records actors). */
  readonly actor: string
  readonly createdAt: number
  readonly updatedAt: number
}

interface StoredInput {
  readonly items: ReadonlyArray<unknown>
  readonly source: string
  readonly referenceId: string | null
  readonly observedAt: number | null
  /**
   * Items per chunk, fixed when the job is queued: chunk n's idempotency key stands for the same
   * items however JOB_CHUNK changes, so a runner of another version resuming the job replays
   * exactly the chunks that committed. Absent on jobs queued before it was stored.
   */
  readonly chunk?: number
}

/** Queue a bulk sync as a job; idempotent under the caller's Idempotency-Key like any write. */
export async function submitBulkSyncJob(deps: ServiceDeps, input: BulkSyncInput, ctx: RequestContext): Promise<Replayable<JobView>> {
  assertBulkItemsAllowed(ctx, input.items) // security (#5): checked here, since the job runs later without the caller's restriction
  const submitted = await runIdempotent(deps, claimFor(ctx, 'stock.bulk-sync', input, null), async (trx) => {
    const id = deps.ids.next('job')
    const now = deps.clock.now()
    // A fixed observation time for the whole job: chunks applied later are still the same count.
    const stored: StoredInput = { items: input.items, source: input.source, referenceId: input.referenceId, observedAt: input.observedAt ?? now, chunk: JOB_CHUNK }
    await repo.insertJob(trx, { id, type: 'bulk-sync', input: JSON.stringify(stored), actor: ctx.actor, total: input.items.length, now })
    deps.events.expect('jobs')
    return { jobId: id }
  })
  return { value: await getJob(deps, submitted.value.jobId), replayed: submitted.replayed }
}

/** Jobs, newest first, cursor-paged (#12); without their per-item results (GET /jobs/{id} has those). */
export async function listJobs(deps: ServiceDeps, f: { readonly status?: repo.JobStatus | undefined; readonly cursor?: string | undefined; readonly limit?: number | undefined }): Promise<Page<Omit<JobView, 'result' | 'output'>>> {
  const beforeId = f.cursor === undefined ? undefined : (decodeCursor(f.cursor, ['string'])[0] as string)
  const page = await pageOf(f.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listJobs(deps.store.db, { status: f.status, beforeId, limit: take }), (j) => [j.id])
  return { items: page.items.map((j) => ({ id: j.id, type: j.type, status: j.status, total: j.total, done: j.done, error: j.error, actor: j.actor, createdAt: j.createdAt, updatedAt: j.updatedAt })), nextCursor: page.nextCursor }
}

export async function getJob(deps: ServiceDeps, id: string): Promise<JobView> {
  const j = await repo.findJob(deps.store.db, id)
  // Import jobs have their own view (GET /imports/{id}, service/imports.ts).
  if (!j || j.type.startsWith('import-')) throw new DomainError('job_not_found', `No job has id ${id}`, { job_id: id })
  const bulk = j.type === 'bulk-sync'
  const parsed = j.result ? (JSON.parse(j.result) as unknown) : null
  return { id: j.id, type: j.type, status: j.status, total: j.total, done: j.done, result: bulk ? (parsed as BulkSyncResult | null) : null, output: bulk ? null : (parsed as Record<string, unknown> | null), error: j.error, actor: j.actor, createdAt: j.createdAt, updatedAt: j.updatedAt }
}

/**
 * Runs a job of another type than bulk-sync (store jobs): reports progress as it goes and returns
 * the result to store (JSON). Throwing fails the job with the message.
 */
export type JobHandler = (job: repo.Job, progress: (done: number, total: number) => void) => Promise<unknown>

/** Run one claimed job to its end. Exported for tests; the runner calls it. */
export async function runJob(deps: ServiceDeps, job: repo.Job, workerId: string, leaseMs: number, handlers: Readonly<Record<string, JobHandler>> = {}): Promise<void> {
  if (job.type.startsWith('import-')) return runImportJob(deps, job, workerId, leaseMs) // CSV imports (#14)
  if (job.type !== 'bulk-sync') return runOtherJob(deps, job, workerId, leaseMs, handlers[job.type])
  const input = JSON.parse(job.input) as StoredInput
  const size = input.chunk ?? LEGACY_JOB_CHUNK
  const items: BulkItemOutcome[] = []
  try {
    for (let start = 0, chunk = 0; start < input.items.length; start += size, chunk++) {
      const part = input.items.slice(start, start + size)
      const r = await bulkSync(
        deps,
        { items: part, source: input.source, referenceId: input.referenceId, observedAt: input.observedAt ?? undefined },
        { actor: job.actor, idempotencyKey: `${job.id}#${chunk}` },
      )
      for (const o of r.value.items) items.push(start === 0 ? o : { ...o, index: o.index + start })
      await repo.updateJobProgress(deps.store.db, job.id, workerId, Math.min(input.items.length, start + part.length), deps.clock.now(), leaseMs)
    }
    const result = resultOf(items)
    await repo.finishJob(deps.store.db, job.id, workerId, 'done', JSON.stringify(result), null, deps.clock.now())
  } catch (e) {
    deps.log.error({ err: e, job_id: job.id }, 'job failed')
    await repo.finishJob(deps.store.db, job.id, workerId, 'failed', null, e instanceof Error ? e.message : String(e), deps.clock.now())
  }
}

async function runOtherJob(deps: ServiceDeps, job: repo.Job, workerId: string, leaseMs: number, handler: JobHandler | undefined): Promise<void> {
  if (!handler) {
    await repo.finishJob(deps.store.db, job.id, workerId, 'failed', null, `this node cannot run jobs of type ${job.type}`, deps.clock.now())
    return
  }
  // Progress is written at most every 500 ms, and in order (one write at a time).
  let writing: Promise<unknown> = Promise.resolve()
  let lastAt = 0
  const progress = (done: number, total: number) => {
    const now = deps.clock.now()
    if (now - lastAt < 500 && done < total) return
    lastAt = now
    writing = writing.then(() => repo.updateJobCounts(deps.store.db, job.id, workerId, done, total, now, leaseMs)).catch((e: unknown) => deps.log.warn({ err: e, job_id: job.id }, 'could not record job progress'))
  }
  try {
    const result = await handler(job, progress)
    await writing
    await repo.finishJob(deps.store.db, job.id, workerId, 'done', JSON.stringify(result), null, deps.clock.now())
  } catch (e) {
    await writing
    deps.log.error({ err: e, job_id: job.id }, 'job failed')
    await repo.finishJob(deps.store.db, job.id, workerId, 'failed', null, e instanceof Error ? e.message : String(e), deps.clock.now())
  }
}

/** Claims and runs queued jobs one at a time; woken by commits, polling slowly otherwise. */
export class JobRunner {
  readonly #deps: ServiceDeps
  readonly #workerId: string
  readonly #leaseMs: number
  readonly #pollMs: number
  #stopped = false
  #loop: Promise<void> | null = null
  #wake: (() => void) | null = null
  #unsubscribe: (() => void) | null = null

  readonly #handlers: Readonly<Record<string, JobHandler>>

  constructor(deps: ServiceDeps, workerId: string, o: { leaseMs?: number; pollMs?: number; handlers?: Readonly<Record<string, JobHandler>> } = {}) {
    this.#deps = deps
    this.#handlers = o.handlers ?? {}
    this.#workerId = workerId
    this.#leaseMs = o.leaseMs ?? 60_000
    this.#pollMs = o.pollMs ?? 2000
  }

  /** Claim and run one job; false when there was none. */
  async runOnce(): Promise<boolean> {
    const job = await repo.claimJob(this.#deps.store.db, this.#deps.store.caps, this.#workerId, this.#deps.clock.now(), this.#leaseMs)
    if (!job) return false
    await runJob(this.#deps, job, this.#workerId, this.#leaseMs, this.#handlers)
    return true
  }

  start(): void {
    this.#unsubscribe = this.#deps.events.subscribe(() => this.#wake?.(), 'jobs')
    this.#loop = (async () => {
      while (!this.#stopped) {
        let ran = false
        try {
          ran = await this.runOnce()
        } catch (e) {
          this.#deps.log.warn({ err: e }, 'job round failed')
        }
        if (ran || this.#stopped) continue
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, this.#pollMs)
          this.#wake = done
          function done() {
            clearTimeout(t)
            resolve()
          }
        })
        this.#wake = null
      }
    })()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe?.()
    this.#wake?.()
    await this.#loop
  }
}
