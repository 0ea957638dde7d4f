/**
 * @module service/imports: count and product imports, run at once or, when large, as background
 * jobs (the `job` table and runner of service/jobs.ts) whose progress can be followed.
 * A job's rows are stored with it, already read and checked for shape, so the runner needs no
 * file. A counts job applies its rows in calls of a fixed size, each under its own idempotency key
 * (job id + call number), as bulk-sync jobs do (service/jobs.ts): a job taken over from a node
 * that died replays the calls that node committed and applies only the rest, so the ledger gets
 * each row's movement once. (Applying everything again would end at the same levels, counts being
 * absolute, but with every committed row's movement and event twice.)
 */
import { DomainError } from '../domain/errors.js'
import * as repo from '../store/job-repo.js'
import { importCounts, JOB_ROWS_PER_CALL, type CountImportResult, type CountOutcome, type CountRow } from './count-import.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { importProducts, type ProductImportResult, type ProductOutcome, type ProductRow } from './product-import.js'

export type ImportKind = 'counts' | 'products'
export const IMPORT_JOB_TYPES = { counts: 'import-counts', products: 'import-products' } as const

interface StoredImport {
  readonly kind: ImportKind
  readonly rows: ReadonlyArray<CountRow> | ReadonlyArray<ProductRow>
  readonly source: string
  readonly warehouse: string | number | null
  readonly observedAt: number
  /** Rows refused while the file was read, merged into the result by line. */
  readonly early?: ReadonlyArray<CountOutcome | ProductOutcome>
  /** Counts: rows per bulk-sync call, fixed when queued (the call keys mean this); absent on older jobs. */
  readonly chunk?: number
  /** The submitter's warehouse restriction (#5), which the runner applies as the request would have. */
  readonly allowedWarehouses?: ReadonlyArray<number> | null
}

/** An import's result with the rows refused while reading put back in line order. */
export function withEarly<R extends CountImportResult | ProductImportResult>(r: R, early: ReadonlyArray<CountOutcome | ProductOutcome> | undefined): R {
  if (!early || early.length === 0) return r
  const outcomes = [...r.outcomes, ...early].sort((a, b) => a.line - b.line)
  return { ...r, rows: outcomes.length, rejected: r.rejected + early.length, outcomes }
}

export interface ImportJobView {
  readonly id: string
  readonly kind: ImportKind
  readonly status: repo.JobStatus
  readonly total: number
  readonly done: number
  readonly error: string | null
  readonly result: CountImportResult | ProductImportResult | null
  /** Who queued it (key id or JWT subject). */
  readonly actor: string
  readonly createdAt: number
  readonly updatedAt: number
}

export async function submitImportJob(deps: ServiceDeps, stored: StoredImport, ctx: RequestContext): Promise<ImportJobView> {
  const id = deps.ids.next('imp')
  const input: StoredImport = { ...stored, chunk: JOB_ROWS_PER_CALL, allowedWarehouses: ctx.allowedWarehouses ?? null }
  await repo.insertJob(deps.store.db, { id, type: IMPORT_JOB_TYPES[stored.kind], input: JSON.stringify(input), actor: ctx.actor, total: stored.rows.length, now: deps.clock.now() })
  // Wake this node's runner now: the insert is no transaction of its own, so no commit would (it
  // otherwise waited for its next poll, up to two seconds).
  deps.events.expect('jobs')
  deps.events.notify()
  return getImportJob(deps, id)
}

export async function getImportJob(deps: ServiceDeps, id: string): Promise<ImportJobView> {
  const j = await repo.findJobStatus(deps.store.db, id)
  if (!j || !j.type.startsWith('import-')) throw new DomainError('job_not_found', `No import has id ${id}`, { job_id: id })
  return {
    id: j.id,
    kind: j.type === IMPORT_JOB_TYPES.counts ? 'counts' : 'products',
    status: j.status,
    total: j.total,
    done: j.done,
    error: j.error,
    result: j.result ? (JSON.parse(j.result) as CountImportResult | ProductImportResult) : null,
    actor: j.actor,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
  }
}

/** Run a claimed import job to its end (called by the job runner). */
export async function runImportJob(deps: ServiceDeps, job: repo.Job, workerId: string, leaseMs: number): Promise<void> {
  try {
    const input = JSON.parse(job.input) as StoredImport
    const onProgress = (done: number) => repo.updateJobProgress(deps.store.db, job.id, workerId, done, deps.clock.now(), leaseMs)
    const result =
      input.kind === 'counts'
        ? await importCounts(
            deps,
            input.rows as CountRow[],
            { source: input.source, dryRun: false, warehouse: input.warehouse, observedAt: input.observedAt, onProgress, rowsPerCall: input.chunk, callKey: input.chunk === undefined ? undefined : (n) => `${job.id}#${n}` },
            { actor: job.actor, allowedWarehouses: input.allowedWarehouses ?? null },
          )
        : await importProducts(deps, input.rows as ProductRow[], { dryRun: false, onProgress })
    await repo.finishJob(deps.store.db, job.id, workerId, 'done', JSON.stringify(withEarly(result, input.early)), null, deps.clock.now())
  } catch (e) {
    deps.log.error({ err: e, job_id: job.id }, 'import job failed')
    await repo.finishJob(deps.store.db, job.id, workerId, 'failed', null, e instanceof Error ? e.message : String(e), deps.clock.now())
  }
}
