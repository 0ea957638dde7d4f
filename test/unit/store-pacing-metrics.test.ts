/**
 * The pacer's figures per store in /metrics (#17): labelled by the store's name, set from a pacing
 * snapshot, the store's load only while it is known.
 */
import { describe, expect, it } from 'vitest'
import { renderMetrics, setStorePacing } from '../../src/observability/metrics.js'

const snapshot = { window_ms: 350, loaded: true, in_flight: 2, concurrency: 2, latency_ms: 240, backlog: 7, store_load: 0.62 }

describe('store pacing metrics', () => {
  it('expose the window, loaded, in flight, concurrency, response time, backlog and load of each store', async () => {
    setStorePacing('shop-a', snapshot)
    const { body } = await renderMetrics()
    expect(body).toContain('stockbridge_store_push_window_seconds{store="shop-a"} 0.35')
    expect(body).toContain('stockbridge_store_push_loaded{store="shop-a"} 1')
    expect(body).toContain('stockbridge_store_push_in_flight{store="shop-a"} 2')
    expect(body).toContain('stockbridge_store_push_concurrency{store="shop-a"} 2')
    expect(body).toContain('stockbridge_store_push_response_seconds{store="shop-a"} 0.24')
    expect(body).toContain('stockbridge_store_push_backlog{store="shop-a"} 7')
    expect(body).toContain('stockbridge_store_push_store_load{store="shop-a"} 0.62')
  })

  it('drop the load of a store whose capacity is no longer known, and keep each store apart', async () => {
    setStorePacing('shop-a', { ...snapshot, loaded: false, window_ms: 40, store_load: null })
    setStorePacing('shop-b', { ...snapshot, backlog: 0, latency_ms: null })
    const { body } = await renderMetrics()
    expect(body).toContain('stockbridge_store_push_loaded{store="shop-a"} 0')
    expect(body).toContain('stockbridge_store_push_window_seconds{store="shop-a"} 0.04')
    expect(body).not.toContain('stockbridge_store_push_store_load{store="shop-a"}')
    expect(body).toContain('stockbridge_store_push_store_load{store="shop-b"} 0.62')
    expect(body).toContain('stockbridge_store_push_backlog{store="shop-b"} 0')
    expect(body).not.toContain('stockbridge_store_push_response_seconds{store="shop-b"}')
  })
})
