/**
 * @module service/store-jobs: a store's map, sync and reconcile as background jobs. Over HTTP they
 * can take minutes (thousands of SKUs at the store's pace), so the request only queues the job
 * (202 + Location) and GET /jobs/{id} shows progress and, at the end, the result. The CLI still
 * runs them inline with a progress bar.
 */
import { DomainError } from '../domain/errors.js'
import * as jobRepo from '../store/job-repo.js'
import { findStore } from '../store/woo-repo.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { getJob, type JobHandler, type JobView } from './jobs.js'
import { connectorFor } from './woocommerce-runtime.js'

export type StoreJobKind = 'map' | 'sync' | 'reconcile'

export interface StoreJobInput {
  readonly store: string
  readonly scan?: boolean
  readonly skus?: ReadonlyArray<string>
  readonly dryRun?: boolean
  /** sync: push every figure, also those the store is known to hold already. */
  readonly force?: boolean
}

/** Queue one; the store must exist now (404 otherwise), so a typo is not a failed job later. */
export async function submitStoreJob(deps: ServiceDeps, kind: StoreJobKind, input: StoreJobInput, ctx: RequestContext): Promise<JobView> {
  const store = await findStore(deps.store.db, input.store)
  if (!store) throw new DomainError('store_not_found', `No WooCommerce store is called ${input.store.slice(0, 60)}`, { store: input.store.slice(0, 60) })
  const id = deps.ids.next('job')
  await jobRepo.insertJob(deps.store.db, { id, type: `store-${kind}`, input: JSON.stringify({ ...input, store: store.id }), actor: ctx.actor, total: 0, now: deps.clock.now() })
  deps.events.expect('jobs')
  deps.events.notify()
  return getJob(deps, id)
}

/** The runner's handlers for store jobs; results are the API's snake_case shapes. */
export function storeJobHandlers(deps: ServiceDeps): Record<string, JobHandler> {
  const woo = () => connectorFor(deps)
  const parse = (s: string) => JSON.parse(s) as StoreJobInput
  return {
    'store-map': async (job, progress) => {
      const i = parse(job.input)
      const r = await woo().map(i.store, { ...(i.scan ? { scan: true } : { onProgress: progress }), ...(i.skus ? { skus: [...i.skus] } : {}) })
      return { mapped: r.mapped, unknown: r.unknown, duplicated: r.duplicated, not_in_hub: r.notInHub }
    },
    'store-sync': async (job, progress) => {
      const i = parse(job.input)
      const r = await woo().sync(i.store, { onProgress: progress, ...(i.force ? { force: true } : {}) })
      return { skus: r.skus, pushed: r.pushed, unchanged: r.unchanged, failed: r.failed, requests: r.requests }
    },
    'store-reconcile': async (job, progress) => {
      const i = parse(job.input)
      const run = await woo().reconcile(i.store, { dryRun: i.dryRun === true, onProgress: progress })
      if (run.status === 'failed') throw new Error(`reconciliation ${run.id} failed: ${run.error ?? 'unknown error'}`)
      return { run_id: run.id, dry_run: run.dryRun, status: run.status, checked: run.checked, drift: run.drift, repaired: run.repaired, webhooks_reenabled: run.webhooksReenabled }
    },
  }
}

export interface StoreJob {
  readonly job: JobView
  readonly kind: StoreJobKind
  readonly input: StoreJobInput
}

/** A store job queued by `actor` (the admin UI shows a key only its own), or undefined. */
export async function findStoreJob(deps: ServiceDeps, id: string, actor: string): Promise<StoreJob | undefined> {
  const row = await jobRepo.findJob(deps.store.db, id)
  if (!row || !row.type.startsWith('store-') || row.actor !== actor) return undefined
  return { job: await getJob(deps, id), kind: row.type.slice('store-'.length) as StoreJobKind, input: JSON.parse(row.input) as StoreJobInput }
}
