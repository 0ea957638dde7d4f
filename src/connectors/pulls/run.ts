/**
 * @module connectors/pulls/run: one pull of a warehouse's stock from its API, and the schedule
 * that runs pulls on every node without running any twice.
 *
 * A pull reads every page first and applies nothing until all pages are in: a listing cut short
 * by a failing page is not the warehouse's stock, and applying half of it would be wrong. The
 * counts then go through the bulk-sync path as `sync` movements carrying `observed_at` (the first
 * page's Date header, never later than our clock, else the fetch time), so a pull that lands
 * after a newer webhook count is recorded as stale and changes nothing.
 *
 * Scheduling is a lease on the source's row (store/pull-repo.ts claimDuePull): each node polls,
 * one conditional UPDATE hands a due source to exactly one of them, the run releases it with the
 * next due time. A node that dies mid-run loses its lease and the source becomes due again.
 */
import { DomainError } from '../../domain/errors.js'
import { nextAfterFailure, nextDue } from '../../domain/pull-schedule.js'
import { importCounts, type CountImportResult, type CountRow } from '../../service/count-import.js'
import type { ServiceDeps } from '../../service/deps.js'
import * as repo from '../../store/pull-repo.js'
import type { PullRun, PullSource } from '../../store/pull-repo.js'
import { findWarehouse } from '../../store/warehouse-repo.js'
import { describeUrl, fetchPages, PullFetchError, type FetchOptions } from './fetch.js'
import { mapPage } from './mapping.js'
import { requireWarehouse } from '../../service/catalog.js'
import { waitForWork } from '../../sync/idle.js'

/** How long a run may hold its source before another node may take it over. */
export const PULL_LEASE_MS = 10 * 60_000
export interface PullOutcome {
  readonly run: PullRun
  /** Per item (dry run: what would happen); the stored run keeps only the refused ones. */
  readonly result: CountImportResult | null
}

function failureMessage(e: unknown): string {
  if (e instanceof PullFetchError) return `${describeUrl(e.url)}: ${e.message}`
  if (e instanceof DomainError) return e.message
  return e instanceof Error ? e.message : String(e)
}

/**
 * Run a pull of a source this caller holds the lease of, record the run, release the lease with
 * the source's new health and next due time.
 */
export async function runLeasedPull(deps: ServiceDeps, source: PullSource, o: { readonly workerId: string; readonly trigger: PullRun['trigger']; readonly dryRun: boolean; readonly fetch?: FetchOptions }): Promise<PullOutcome> {
  const runId = deps.ids.next('pul')
  const started = deps.clock.now()
  await repo.insertPullRun(deps.store.db, { id: runId, warehouseId: source.warehouseId, trigger: o.trigger, dryRun: o.dryRun, now: started })
  let pages = 0
  let observedAt: number | null = null
  let result: CountImportResult | null = null
  let error: string | null = null
  try {
    const warehouse = await findWarehouse(deps.store.db, source.warehouseId)
    if (!warehouse) throw new DomainError('warehouse_not_found', `No warehouse has id ${source.warehouseId}`, { warehouse_id: source.warehouseId })
    const rows: CountRow[] = []
    const fetchedAt = deps.clock.now()
    const r = await fetchPages(
      source,
      async (page) => {
        // The first page's Date: the listing is at least that old. Never ahead of our own clock.
        if (observedAt === null) observedAt = Math.min(page.date ?? fetchedAt, deps.clock.now())
        const counts = await mapPage(source.mapping, page.body)
        for (const c of counts) rows.push({ line: rows.length + 1, sku: c.sku, warehouse: null, quantity: c.quantity, observedAt: null, referenceId: runId })
        return counts.length
      },
      o.fetch,
    )
    pages = r.pages
    // Lease kept alive for the apply (long listings).
    await repo.extendPullLease(deps.store.db, source.warehouseId, o.workerId, deps.clock.now() + PULL_LEASE_MS)
    result = await importCounts(deps, rows, { source: `pull:${warehouse.code}`, dryRun: o.dryRun, warehouse: source.warehouseId, observedAt: observedAt ?? fetchedAt }, { actor: `system:pull:${warehouse.code}` })
  } catch (e) {
    error = failureMessage(e)
    deps.log.warn({ warehouse_id: source.warehouseId, run_id: runId, error }, 'warehouse pull failed')
  }
  const now = deps.clock.now()
  const rejected = result ? result.outcomes.filter((x) => x.status === 'rejected').slice(0, 200) : []
  const report = result ? { rejected, ...(o.dryRun ? { changes: result.outcomes.slice(0, 1000) } : {}) } : null
  await repo.finishPullRun(deps.store.db, runId, {
    status: error === null ? 'done' : 'failed',
    pages,
    fetched: result?.rows ?? 0,
    applied: result?.applied ?? 0,
    unchanged: result?.unchanged ?? 0,
    stale: result?.stale ?? 0,
    rejected: result?.rejected ?? 0,
    observedAt,
    error,
    report,
    now,
  })
  // A dry run says nothing about the schedule; a real run moves it on (or backs it off).
  const failures = error === null ? 0 : source.failures + 1
  await repo.releasePull(deps.store.db, source.warehouseId, o.workerId, {
    health: o.dryRun ? source.health : error === null ? 'ok' : 'unhealthy',
    healthReason: o.dryRun ? source.healthReason : error,
    failures: o.dryRun ? source.failures : failures,
    nextRunAt: o.dryRun || o.trigger === 'manual' ? (source.nextRunAt ?? nextDue(source, now)) : error === null ? nextDue(source, now) : nextAfterFailure(source, now, failures),
    lastRunAt: o.dryRun ? (source.lastRunAt ?? now) : now,
    now,
  })
  return { run: (await repo.findPullRun(deps.store.db, runId))!, result }
}

/** Pull now (CLI `warehouses pull`, `POST /warehouses/{id}/pull`); a failed pull is an error (502 pull_failed) carrying its run, never a success. */
export async function runPullNow(deps: ServiceDeps, warehouseId: number, o: { readonly dryRun: boolean; readonly fetch?: FetchOptions }): Promise<PullOutcome> {
  await requireWarehouse(deps.store.db, warehouseId)
  const out = await pullNow(deps, warehouseId, o)
  if (out.run.status === 'failed') throw new DomainError('pull_failed', `The pull of warehouse ${warehouseId} failed: ${out.run.error ?? 'unknown error'}`, { warehouse_id: warehouseId, run_id: out.run.id })
  return out
}

/** A pull now; refused while another run holds the source. */
export async function pullNow(deps: ServiceDeps, warehouseId: number, o: { readonly dryRun: boolean; readonly fetch?: FetchOptions }): Promise<PullOutcome> {
  const source = await repo.findPullSource(deps.store.db, warehouseId)
  if (!source) throw new DomainError('pull_not_configured', `Warehouse ${warehouseId} has no pull source`, { warehouse_id: warehouseId })
  const workerId = `manual-${deps.ids.next('wrk')}`
  if (!(await repo.leasePull(deps.store.db, warehouseId, workerId, deps.clock.now(), PULL_LEASE_MS))) {
    throw new DomainError('pull_in_progress', `A pull of warehouse ${warehouseId} is running; try again when it has finished`, { warehouse_id: warehouseId })
  }
  return runLeasedPull(deps, source, { workerId, trigger: 'manual', dryRun: o.dryRun, ...(o.fetch ? { fetch: o.fetch } : {}) })
}

/** Claims due pulls and runs them one at a time on this node. */
export class PullScheduler {
  readonly #deps: ServiceDeps
  readonly #workerId: string
  readonly #pollMs: number
  readonly #fetch: FetchOptions | undefined
  #stopped = false
  #loop: Promise<void> | null = null
  #wake: (() => void) | null = null
  readonly #abort = new AbortController()

  constructor(deps: ServiceDeps, workerId: string, o: { pollMs?: number; fetch?: FetchOptions } = {}) {
    this.#deps = deps
    this.#workerId = workerId
    this.#pollMs = o.pollMs ?? 5000
    this.#fetch = o.fetch
  }

  /** Claim and run one due pull; false when none was due. */
  async runOnce(): Promise<boolean> {
    const source = await repo.claimDuePull(this.#deps.store.db, this.#deps.store.caps, this.#workerId, this.#deps.clock.now(), PULL_LEASE_MS)
    if (!source) return false
    await runLeasedPull(this.#deps, source, { workerId: this.#workerId, trigger: 'schedule', dryRun: false, fetch: { ...this.#fetch, signal: this.#abort.signal } })
    return true
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        let ran = false
        try {
          ran = await this.runOnce()
        } catch (e) {
          this.#deps.log.warn({ err: e }, 'pull round failed')
        }
        if (ran || this.#stopped) continue
        await waitForWork(this.#pollMs, this.#abort.signal, (wake) => (this.#wake = wake))
        this.#wake = null
      }
    })()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#abort.abort()
    this.#wake?.()
    await this.#loop
  }
}
