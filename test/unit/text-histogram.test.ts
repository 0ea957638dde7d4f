/**
 * observability/text-histogram (#15): the same exposition text and JSON as prom-client's Histogram
 * for the same observations (so dashboards, rules and promtool see no difference), at a fraction
 * of the cost per scrape.
 */
import client from 'prom-client'
import { describe, expect, it } from 'vitest'
import { TextHistogram } from '../../src/observability/text-histogram.js'
import { promtool } from '../support/promtool.js'

const BUCKETS = [0.001, 0.01, 0.1, 1]
const observations: Array<[Record<'method' | 'route' | 'status', string>, number]> = [
  [{ method: 'GET', route: '/inventory/v1/stock/:sku', status: '200' }, 0.0004],
  [{ method: 'GET', route: '/inventory/v1/stock/:sku', status: '200' }, 0.001], // on a bound: counted in it
  [{ method: 'GET', route: '/inventory/v1/stock/:sku', status: '200' }, 0.05],
  [{ method: 'POST', route: '/inventory/v1/stock/update', status: '409' }, 7], // above every bound: only +Inf
  [{ method: 'GET', route: 'odd "quoted" \\ back\nslash', status: '404' }, 0.2],
]

function both() {
  const reference = new client.Registry()
  const prom = new client.Histogram({ name: 'h_seconds', help: 'A help\ntext with \\', labelNames: ['method', 'route', 'status'] as const, buckets: BUCKETS, registers: [reference] })
  const ours = new client.Registry()
  const text = new TextHistogram({ name: 'h_seconds', help: 'A help\ntext with \\', labelNames: ['method', 'route', 'status'] as const, buckets: BUCKETS, registers: [ours] })
  for (const [labels, v] of observations) {
    prom.observe(labels, v)
    text.observe(labels, v)
  }
  return { reference, prom, ours, text }
}

describe('TextHistogram', () => {
  it("renders exactly prom-client's exposition text, which promtool accepts", async () => {
    const { reference, text } = both()
    const expected = await reference.metrics()
    expect(`${text.renderText()}\n`).toBe(expected)
    const lint = promtool(['check', 'metrics'], expected)
    expect(lint.status).toBe(0)
  })

  it("answers get() and the registry's JSON in prom-client's shape", async () => {
    const { reference, ours } = both()
    const norm = (xs: Array<{ values: Array<{ labels: object; value: number; metricName?: string }> }>) => xs.map((m) => ({ ...m, values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: v.metricName })) }))
    expect(norm(await ours.getMetricsAsJSON())).toEqual(norm(await reference.getMetricsAsJSON()))
    expect(ours.getSingleMetric('h_seconds')).toBeDefined()
  })

  it('refuses values that are not numbers and labels that are missing; reset empties it', async () => {
    const { text } = both()
    expect(() => text.observe({ method: 'GET', route: '/x', status: '200' }, Number.NaN)).toThrow(/not a valid number/)
    expect(() => text.observe({ method: 'GET', route: '/x' } as never, 1)).toThrow(/label "status" is missing/)
    text.reset()
    expect(text.renderText()).toBe('# HELP h_seconds A help\\ntext with \\\\\n# TYPE h_seconds histogram')
  })
})
