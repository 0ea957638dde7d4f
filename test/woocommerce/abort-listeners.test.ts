/**
 * #12.17: `MaxListenersExceededWarning` (abort listeners) under WooCommerce traffic. Every request
 * to a store used to add an abort listener to the caller's signal, and the delivery worker passed
 * one signal to every delivery: with a store's requests queued behind its bounded sockets (and
 * several stores), more than ten listeners sat on that one signal. A request now listens on a
 * signal of its own that follows the caller's, so the caller's signal keeps no listener at all,
 * and aborting it still stops every request.
 */
import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { WooClient, WooTransportError } from '../../src/connectors/woocommerce/client.js'
import { startShop, type Shop } from './support.js'

describe('abort listeners of store requests', () => {
  let shop: Shop | null = null
  const warnings: Error[] = []
  const onWarning = (w: Error) => warnings.push(w)
  afterEach(async () => {
    process.off('warning', onWarning)
    await shop?.emu.stop()
    shop = null
  })

  it('30 requests queued on 2 sockets under one signal: no listener piles up on it, no warning, and aborting still stops them', async () => {
    process.on('warning', onWarning)
    // A slow store: 1 worker, 50 ms a request, so requests wait for sockets and in its queue.
    shop = await startShop({ simple: 2, variable: 0, capacity: { workers: 1, requestMs: 50, itemMs: 0 } })
    const client = new WooClient({ baseUrl: shop.emu.url, consumerKey: shop.key.consumerKey, consumerSecret: shop.key.consumerSecret, maxSockets: 2 })
    try {
      const done = new AbortController()
      const answered = Array.from({ length: 30 }, () => client.request('GET', '/products', { query: { per_page: '1' }, signal: done.signal }))
      expect(getEventListeners(done.signal, 'abort').length).toBeLessThanOrEqual(1)
      const all = await Promise.all(answered)
      expect(all.every((r) => r.status === 200)).toBe(true)
      expect(getEventListeners(done.signal, 'abort')).toHaveLength(0)

      const stop = new AbortController()
      const pending = Array.from({ length: 20 }, () => client.request('GET', '/products', { signal: stop.signal }).then(() => 'answered', (e: unknown) => (e instanceof WooTransportError ? e.message : String(e))))
      stop.abort()
      const outcomes = await Promise.all(pending)
      expect(outcomes.filter((o) => o === 'aborted').length).toBeGreaterThan(0)
      expect(outcomes.every((o) => o === 'aborted' || o === 'answered')).toBe(true)
      // Warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r))
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([])
    } finally {
      client.close()
    }
  })
})
