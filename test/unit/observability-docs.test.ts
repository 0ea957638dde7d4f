/**
 * docs/observability (#15): the Prometheus rules pass `promtool check rules`, and every metric the
 * rules and the Grafana dashboard query is one the service exposes.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { registry } from '../../src/observability/metrics.js'
import { promtool } from '../support/promtool.js'

const DIR = path.resolve(import.meta.dirname, '../../docs/observability')
const RULES = path.join(DIR, 'alerts.rules.yml')
const DASHBOARD = path.join(DIR, 'grafana-dashboard.json')

/** Series names the registry exposes (histograms add _bucket, _sum, _count). */
async function exposedNames(): Promise<Set<string>> {
  const out = new Set<string>()
  for (const m of await registry.getMetricsAsJSON()) {
    out.add(m.name)
    if (String(m.type) === 'histogram' || String(m.type) === 'summary') for (const s of ['_bucket', '_sum', '_count']) out.add(`${m.name}${s}`)
  }
  return out
}

/** Metric names in a PromQL expression: ours, Node's and the process's (plus Prometheus' own `up`). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:stockbridge|nodejs|process)_[a-zA-Z0-9_]+)/g)].map((m) => m[1]!)
}

describe('docs/observability', () => {
  it('the alerting rules pass promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES])
    expect(r.out).toContain('SUCCESS')
    expect(r.status).toBe(0)
  })

  it('the rules query only metrics that exist', async () => {
    const names = await exposedNames()
    const exprs = [...fs.readFileSync(RULES, 'utf8').matchAll(/expr:\s*(\|[\s\S]*?(?=\n\s+\w+:)|.*)/g)].map((m) => m[1]!)
    expect(exprs.length).toBeGreaterThanOrEqual(5)
    const used = exprs.flatMap(metricsIn)
    expect(used.length).toBeGreaterThan(5)
    expect(used.filter((n) => !names.has(n))).toEqual([])
  })

  it('the Grafana dashboard is valid JSON whose every query names only metrics that exist', async () => {
    const names = await exposedNames()
    const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> }
    expect(dash.panels.length).toBeGreaterThan(8)
    const used: string[] = []
    for (const p of dash.panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0)
      for (const t of p.targets) {
        const m = metricsIn(t.expr)
        expect(m.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0)
        used.push(...m)
      }
    }
    expect(used.filter((n) => !names.has(n))).toEqual([])
    // the metrics the issue asks for all appear on the dashboard
    for (const n of ['stockbridge_http_request_duration_seconds_bucket', 'stockbridge_movements_total', 'stockbridge_outbox_lag_seconds', 'stockbridge_deliveries_total', 'stockbridge_dead_letters_total', 'stockbridge_store_push_latency_seconds_bucket', 'stockbridge_inbound_webhooks_total', 'stockbridge_pulls_total', 'stockbridge_alerts_sent_total', 'stockbridge_db_pool_connections', 'nodejs_eventloop_lag_p99_seconds']) expect(used).toContain(n)
  })
})
