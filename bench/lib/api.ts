/** @module bench/lib/api: the few API calls the bench makes to set up its data, through real HTTP. */
export const API = '/inventory/v1'

interface JobView {
  id: string
  status: 'queued' | 'running' | 'done' | 'failed'
  error: string | null
  result: { applied: number; rejected: number } | null
}

export const skuAt = (prefix: string, i: number) => `${prefix}${String(i).padStart(6, '0')}`

export class Api {
  readonly base: string
  readonly key: string
  constructor(base: string, key: string) {
    this.base = base
    this.key = key
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, expect: ReadonlyArray<number> = [200, 201]): Promise<{ status: number; json: T }> {
    const send = () =>
      fetch(`${this.base}${API}${path}`, {
        method,
        headers: { 'x-api-key': this.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    let res: Response
    try {
      res = await send()
    } catch (e) {
      // A kept-alive socket the server closed just as it was reused fails the request before it
      // was sent: a GET (a job poll) is simply asked again; anything else reports the cause.
      const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : ''
      if (method !== 'GET') throw new Error(`${method} ${path} failed${cause}`, { cause: e })
      res = await send()
    }
    const text = await res.text()
    if (!expect.includes(res.status)) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`)
    return { status: res.status, json: (text ? JSON.parse(text) : null) as T }
  }

  async createWarehouse(code: string): Promise<number> {
    const r = await this.call<{ data: { id: number } }>('POST', '/warehouses', { code, name: `Bench ${code}` })
    return r.json.data.id
  }

  /** Register SKUs prefix000001 … prefixNNNNNN with `concurrency` requests in flight. */
  async createProducts(prefix: string, count: number, firstProductId: number, concurrency = 16): Promise<void> {
    let next = 1
    const worker = async () => {
      while (next <= count) {
        const i = next++
        await this.call('POST', '/products', { sku: skuAt(prefix, i), product_id: firstProductId + i })
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
  }

  /**
   * One bulk sync, to completion: a request above the service's job threshold is answered 202
   * with a background job, which is then polled (every 20 ms) until it is done.
   */
  /** A job queued by a route that answers 202 (a store's map, sync, reconcile), polled to its result. */
  async job<T>(method: string, path: string, body?: unknown): Promise<T> {
    const id = (await this.call<{ data: { id: string } }>(method, path, body, [202])).json.data.id
    for (;;) {
      const j = (await this.call<{ data: { status: string; error: string | null; result: T | null } }>('GET', `/jobs/${id}`)).json.data
      if (j.status === 'failed') throw new Error(`job ${id} (${method} ${path}) failed: ${j.error}`)
      if (j.status === 'done' && j.result) return j.result
      await new Promise((res) => setTimeout(res, 20))
    }
  }

  async bulkSync(items: ReadonlyArray<{ sku: string; warehouse_id: number; quantity: number }>): Promise<{ applied: number; rejected: number; viaJob: boolean }> {
    const r = await this.call<{ data: { applied: number; rejected: number } | JobView }>('POST', '/stock/bulk-sync', { items, source: 'bench' }, [200, 202])
    let data = r.json.data
    const viaJob = r.status === 202
    if (viaJob) {
      const id = (data as JobView).id
      for (;;) {
        const j = (await this.call<{ data: JobView }>('GET', `/jobs/${id}`)).json.data
        if (j.status === 'failed') throw new Error(`bulk-sync job ${id} failed: ${j.error}`)
        if (j.status === 'done' && j.result) {
          data = j.result
          break
        }
        await new Promise((res) => setTimeout(res, 20))
      }
    }
    const result = data as { applied: number; rejected: number }
    if (result.rejected > 0) throw new Error(`bulk-sync rejected ${result.rejected} items`)
    return { applied: result.applied, rejected: result.rejected, viaJob }
  }

  async createSubscription(url: string): Promise<string> {
    const r = await this.call<{ data: { id: string } }>('POST', '/subscriptions', { url })
    return r.json.data.id
  }

  async setStock(sku: string, warehouseId: number, count: number): Promise<void> {
    await this.call('POST', '/stock/update', { sku, warehouse_id: warehouseId, quantity: count, change_type: 'adjustment', source: 'bench' })
  }

  async onHand(sku: string, warehouseId: number): Promise<number> {
    const r = await this.call<{ data: { current_stock: number } }>('GET', `/stock/${encodeURIComponent(sku)}?warehouse_id=${warehouseId}`)
    return r.json.data.current_stock
  }
}
