/**
 * @module service/observability: readiness checks, the background sampler behind the metrics that
 * live in the database, and the operational alerts it watches for (#15).
 */
import { countOpenAlerts } from '../store/alert-repo.js'
import { deliveryBacklog } from '../store/delivery-repo.js'
import { pendingMigrations } from '../store/migrate.js'
import { listStores } from '../store/woo-repo.js'
import { setPoolReader, setSampledFigures, type StorePushing } from '../observability/metrics.js'
import { raiseOperationalAlert, resolveOperationalAlert } from './alerts.js'
import { pingDatabase } from '../store/health.js'
import type { ServiceDeps } from './deps.js'

export interface ReadinessCheck {
  readonly name: 'database' | 'migrations' | 'delivery_worker' | 'alert_evaluator'
  readonly ok: boolean
  readonly detail: string
}

export interface ReadinessProbe {
  /** null: the component is turned off on this node (not a failure). */
  readonly deliveryWorkerRunning?: () => boolean | null
  readonly alertEvaluatorRunning?: () => boolean | null
}

/** Is this node ready for traffic? Every check is run and reported, so a 503 names what failed. */
export async function checkReadiness(deps: ServiceDeps, probe: ReadinessProbe = {}): Promise<{ ready: boolean; checks: ReadinessCheck[] }> {
  const checks: ReadinessCheck[] = []
  let dbOk = false
  try {
    await pingDatabase(deps.store.db)
    dbOk = true
    checks.push({ name: 'database', ok: true, detail: 'reachable' })
  } catch (e) {
    checks.push({ name: 'database', ok: false, detail: `unreachable: ${e instanceof Error ? e.message.slice(0, 200) : 'error'}` })
  }
  if (dbOk) {
    try {
      const pending = await pendingMigrations(deps.store.db)
      checks.push(pending.length === 0 ? { name: 'migrations', ok: true, detail: 'current' } : { name: 'migrations', ok: false, detail: `pending: ${pending.join(', ')}` })
    } catch (e) {
      checks.push({ name: 'migrations', ok: false, detail: `cannot be read: ${e instanceof Error ? e.message.slice(0, 200) : 'error'}` })
    }
  } else {
    checks.push({ name: 'migrations', ok: false, detail: 'unknown: the database is unreachable' })
  }
  for (const [name, read] of [['delivery_worker', probe.deliveryWorkerRunning], ['alert_evaluator', probe.alertEvaluatorRunning]] as const) {
    const running = read?.() ?? null
    if (running !== null) checks.push({ name, ok: running, detail: running ? 'running' : 'stopped' })
  }
  return { ready: checks.every((c) => c.ok), checks }
}

export interface SamplerSettings {
  readonly intervalMs: number
  /** Raise outbox_lag when the oldest waiting change is older than this (0: never). */
  readonly outboxLagAlertSeconds: number
  /** Raise dead_letters while unreplayed dead letters exist. */
  readonly deadLetterAlerts: boolean
}

/**
 * Samples, every few seconds, the figures /metrics shows from the database, so a scrape never
 * queries (let alone scans) a table; and raises or resolves the operational alerts those figures
 * reveal. One query each, on small tables (pending deliveries, dead letters, open alerts, stores).
 */
export class ObservabilitySampler {
  readonly #deps: ServiceDeps
  readonly #s: SamplerSettings
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> = Promise.resolve()
  /** What this node last told the alert table, so it only calls when its view changes. */
  readonly #firing = new Map<string, boolean>()

  constructor(deps: ServiceDeps, s: SamplerSettings) {
    this.#deps = deps
    this.#s = s
    const stats = deps.store.poolStats
    setPoolReader(stats ? () => stats() : () => null)
  }

  start(): void {
    if (this.#timer) return
    this.#running = this.sampleOnce()
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => this.sampleOnce())
    }, this.#s.intervalMs)
    this.#timer.unref()
  }

  async sampleOnce(): Promise<void> {
    const { db } = this.#deps.store
    try {
      const now = this.#deps.clock.now()
      const backlog = await deliveryBacklog(db)
      const dead = Number((await db.selectFrom('dead_letter').select((eb) => eb.fn.countAll<number | string>().as('n')).where('replayed_at', 'is', null).executeTakeFirstOrThrow()).n)
      const openAlerts = await countOpenAlerts(db)
      const all = await listStores(db)
      const stores = all.filter((s) => s.health !== 'unknown').map((s) => ({ name: s.name, healthy: s.health === 'ok' ? 1 : 0 }))
      const storePushing = all.flatMap((s) => (s.pushStatus ? [{ name: s.name, pushing: pushingOf(s.pushStatus) }] : []))
      const lagSeconds = backlog.oldestPendingAt === null ? 0 : Math.max(0, (now - backlog.oldestPendingAt) / 1000)
      setSampledFigures({ outboxBacklog: backlog.pending, outboxLagSeconds: lagSeconds, deadLettersUnreplayed: dead, openAlerts, stores, storePushing, sampledAt: Date.now() })
      if (this.#s.deadLetterAlerts) await this.#toggle('dead_letters', dead > 0, `${dead} deliveries are dead letters; replay them once the target is fixed (GET /inventory/v1/dead-letters)`)
      if (this.#s.outboxLagAlertSeconds > 0) await this.#toggle('outbox_lag', lagSeconds > this.#s.outboxLagAlertSeconds, `the oldest undelivered change waits ${Math.round(lagSeconds)} s (limit ${this.#s.outboxLagAlertSeconds} s; ${backlog.pending} deliveries pending)`)
    } catch (e) {
      this.#deps.log.warn({ err: e }, 'sampling metrics failed')
    }
  }

  async #toggle(kind: 'dead_letters' | 'outbox_lag', firing: boolean, detail: string): Promise<void> {
    if (this.#firing.get(kind) === firing) return
    if (firing) await raiseOperationalAlert(this.#deps, kind, 'deliveries', detail)
    else await resolveOperationalAlert(this.#deps, kind, 'deliveries')
    this.#firing.set(kind, firing)
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await this.#running
  }
}

/** A store's recorded push status (the pacer's snapshot, sync/pacing.ts) as metric figures. */
function pushingOf(p: Readonly<Record<string, unknown>>): StorePushing {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
  return { windowMs: num(p.window_ms), loaded: p.loaded === true, inFlight: num(p.in_flight), allowed: num(p.concurrency), capacity: num(p.capacity), responseMs: num(p.latency_ms), backlog: num(p.backlog) }
}
