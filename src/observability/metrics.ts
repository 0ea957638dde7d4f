/**
 * @module observability/metrics: every Prometheus metric the service exposes, defined in one place
 * (#15). Any layer may import this leaf module (it imports only prom-client) and move a metric;
 * to add one, define it here and document it in README "Metrics".
 *
 * Labels are bounded: routes are route patterns, stores are store names (a handful), target kinds,
 * change types, outcomes. Never a SKU, an id or a raw path.
 *
 * Scraping never touches the database: figures that live there (outbox backlog, dead letters,
 * open alerts, pool) are sampled in the background (service/metrics-sampler.ts) and read here
 * from that cache.
 */
import client from 'prom-client'
import { TextHistogram } from './text-histogram.js'

export const registry = new client.Registry()
client.collectDefaultMetrics({ register: registry, prefix: '', eventLoopMonitoringPrecision: 20 })
// prom-client names three gauges with a counter's `_total` suffix, which `promtool check metrics`
// rejects; the same figures remain as nodejs_active_handles / _requests / _resources (by type).
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)

const r = [registry]

/** Many series (method × route × status): a histogram that keeps its exposition lines ready (observability/text-histogram.ts). */
export const httpRequestDuration = new TextHistogram({
  name: 'stockbridge_http_request_duration_seconds',
  help: 'HTTP request duration by method, route pattern and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: r,
})

export const movementsTotal = new client.Counter({
  name: 'stockbridge_movements_total',
  help: 'Stock movements by change type and outcome (applied, stale, refused)',
  labelNames: ['change_type', 'outcome'] as const,
  registers: r,
})

export const oversellRefusalsTotal = new client.Counter({ name: 'stockbridge_oversell_refusals_total', help: 'Movements and reservations refused for insufficient stock', registers: r })

export const idempotentReplaysTotal = new client.Counter({ name: 'stockbridge_idempotent_replays_total', help: 'Writes answered from a stored response (idempotent replay)', registers: r })

export const deliveriesTotal = new client.Counter({
  name: 'stockbridge_deliveries_total',
  help: 'Delivery outcomes by target kind (store, subscription, alert_channel) and result (ok, retry, dead)',
  labelNames: ['target_kind', 'result'] as const,
  registers: r,
})

export const deadLettersTotal = new client.Counter({ name: 'stockbridge_dead_letters_total', help: 'Deliveries that became dead letters, by target kind', labelNames: ['target_kind'] as const, registers: r })

export const storePushLatency = new client.Histogram({
  name: 'stockbridge_store_push_latency_seconds',
  help: 'From the commit of a stock change to the store acknowledging it',
  labelNames: ['store'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: r,
})

export const inboundWebhooksTotal = new client.Counter({
  name: 'stockbridge_inbound_webhooks_total',
  help: 'Inbound provider webhooks by provider and result',
  labelNames: ['provider', 'result'] as const,
  registers: r,
})

export const pullsTotal = new client.Counter({ name: 'stockbridge_pulls_total', help: 'Warehouse/supplier pulls by source kind and result', labelNames: ['source', 'result'] as const, registers: r })

export const alertsRaisedTotal = new client.Counter({ name: 'stockbridge_alerts_raised_total', help: 'Alerts raised by kind and scope', labelNames: ['kind', 'scope'] as const, registers: r })

export const alertsSentTotal = new client.Counter({
  name: 'stockbridge_alerts_sent_total',
  help: 'Alert messages sent by channel kind, delivery (immediate, digest, test) and result (ok, failed)',
  labelNames: ['channel_kind', 'delivery', 'result'] as const,
  registers: r,
})

export const alertEvaluationLag = new client.Gauge({ name: 'stockbridge_alert_evaluation_lag_seconds', help: 'Age of the newest stock event the alert evaluator has evaluated, when it last ran', registers: r })

// ---- figures sampled in the background (never queried at scrape time) ----

export interface SampledFigures {
  outboxBacklog: number
  /** Seconds since the oldest change still waiting for any target was written (0: nothing waits). */
  outboxLagSeconds: number
  deadLettersUnreplayed: number
  openAlerts: Array<{ kind: string; n: number }>
  stores: Array<{ name: string; healthy: number }>
  /** What steers each store's pushes, as the node pushing last recorded it (sync/pacing.ts). */
  storePushing?: Array<{ name: string; pushing: StorePushing }>
  sampledAt: number
}

export interface StorePushing {
  readonly windowMs: number | null
  readonly loaded: boolean
  readonly inFlight: number | null
  readonly allowed: number | null
  /** Requests of ours the store was seen to serve at once; null while unknown. */
  readonly capacity: number | null
  readonly responseMs: number | null
  readonly backlog: number | null
}

let sampled: SampledFigures | null = null
/** The sampler's latest figures; metrics read them at scrape time. */
export function setSampledFigures(f: SampledFigures): void {
  sampled = f
}

new client.Gauge({
  name: 'stockbridge_outbox_backlog',
  help: 'Delivery slots waiting (all targets)',
  registers: r,
  collect() {
    if (sampled) this.set(sampled.outboxBacklog)
  },
})
new client.Gauge({
  name: 'stockbridge_outbox_lag_seconds',
  help: 'Age of the oldest change still waiting for delivery',
  registers: r,
  collect() {
    if (sampled) this.set(sampled.outboxLagSeconds)
  },
})
new client.Gauge({
  name: 'stockbridge_dead_letters',
  help: 'Dead letters not yet replayed',
  registers: r,
  collect() {
    if (sampled) this.set(sampled.deadLettersUnreplayed)
  },
})
new client.Gauge({
  name: 'stockbridge_open_alerts',
  help: 'Open or acknowledged alerts by kind',
  labelNames: ['kind'] as const,
  registers: r,
  collect() {
    if (!sampled) return
    this.reset()
    for (const a of sampled.openAlerts) this.set({ kind: a.kind }, a.n)
  },
})
new client.Gauge({
  name: 'stockbridge_store_healthy',
  help: 'Whether a connected store is healthy (1), unhealthy (0); unknown stores are not listed',
  labelNames: ['store'] as const,
  registers: r,
  collect() {
    if (!sampled) return
    this.reset()
    for (const s of sampled.stores) this.set({ store: s.name }, s.healthy)
  },
})
/** One gauge per figure that steers a store's pushes; a store with no such figure (yet) is not listed. */
function pushingGauge(name: string, help: string, pick: (p: StorePushing) => number | null): void {
  new client.Gauge({
    name,
    help,
    labelNames: ['store'] as const,
    registers: r,
    collect() {
      if (!sampled) return
      this.reset()
      for (const s of sampled.storePushing ?? []) {
        const v = pick(s.pushing)
        if (v !== null && Number.isFinite(v)) this.set({ store: s.name }, v)
      }
    },
  })
}
pushingGauge('stockbridge_store_push_window_seconds', 'How long a batch for the store waits for more changes now', (p) => (p.windowMs === null ? null : p.windowMs / 1000))
pushingGauge('stockbridge_store_push_loaded', 'Whether our pushes use most of the store\'s learned capacity (1: the window grows)', (p) => (p.loaded ? 1 : 0))
pushingGauge('stockbridge_store_push_requests_in_flight', 'Push requests to the store in flight', (p) => p.inFlight)
pushingGauge('stockbridge_store_push_requests_allowed', 'Push requests to the store allowed at once now (adapted)', (p) => p.allowed)
pushingGauge('stockbridge_store_push_capacity', 'Requests of ours the store was seen to serve at once (absent while unknown)', (p) => p.capacity)
pushingGauge('stockbridge_store_push_response_seconds', "The store's smoothed response time to push requests", (p) => (p.responseMs === null ? null : p.responseMs / 1000))
pushingGauge('stockbridge_store_push_backlog', 'Changes for the store claimed and waiting to be sent', (p) => p.backlog)

new client.Gauge({
  name: 'stockbridge_metrics_sample_age_seconds',
  help: 'Age of the background sample the database figures come from',
  registers: r,
  collect() {
    if (sampled) this.set(Math.max(0, (Date.now() - sampled.sampledAt) / 1000))
  },
})

/** Database pool figures, read from the driver at scrape time (no query). */
export type PoolReader = () => { total: number; idle: number; waiting: number } | null
let poolReader: PoolReader = () => null
export function setPoolReader(read: PoolReader): void {
  poolReader = read
}
new client.Gauge({
  name: 'stockbridge_db_pool_connections',
  help: 'Database pool connections by state (PostgreSQL; SQLite has one connection and is not listed)',
  labelNames: ['state'] as const,
  registers: r,
  collect() {
    const p = poolReader()
    if (!p) return
    this.set({ state: 'total' }, p.total)
    this.set({ state: 'idle' }, p.idle)
    this.set({ state: 'waiting' }, p.waiting)
  },
})

/** Which kind of target a delivery target id names (bounded label). */
export function targetKindOf(targetId: string): 'store' | 'subscription' | 'alert_channel' | 'other' {
  if (targetId.startsWith('sto_')) return 'store'
  if (targetId.startsWith('sub_')) return 'subscription'
  if (targetId.startsWith('ach_')) return 'alert_channel'
  return 'other'
}

interface PromRegistryInternals {
  getMetricsAsString(metric: unknown): Promise<string>
}

/**
 * The exposition text: registry.metrics() as prom-client writes it (blocks joined by a blank
 * line), except that a TextHistogram writes its own block.
 */
export async function renderMetrics(): Promise<{ body: string; contentType: string }> {
  const internals = registry as unknown as PromRegistryInternals
  const blocks = await Promise.all((registry.getMetricsAsArray() as unknown[]).map((m) => (m instanceof TextHistogram ? m.renderText() : internals.getMetricsAsString(m))))
  return { body: `${blocks.join('\n\n')}\n`, contentType: registry.contentType }
}
