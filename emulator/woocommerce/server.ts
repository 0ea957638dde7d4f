/**
 * @module emulator/woocommerce/server: a real HTTP(S) server that behaves like the wc/v3 REST API
 * and the webhook sender of a WooCommerce 10.0 shop, as ../shared/woocommerce/CONTRACT.md records
 * it: OAuth 1.0a over http and Basic over https, error envelopes, the 100-item batch limit (413),
 * per-item errors inside a 200, silent coercion in batch items, pagination headers, `sku` lookups
 * that find variations, stock moved by orders, and signed, asynchronous, coalesced webhook
 * deliveries with non-unique delivery ids that disable a webhook after 7 failures in a row.
 *
 * Test knobs: latency per request and per batch item, a bound on requests processed at once,
 * injected faults (any status, Retry-After, hangs), a request log, and stock-change probes.
 *
 * Observation endpoints (only with `observe: true`, `--observe` on the command line; no
 * authentication, outside /wp-json, for a benchmark or test in another process):
 *   GET /__emulator/stock-writes?from=N  every write of a managed quantity (by the API or an order),
 *       changed or not, in order: {next, writes: [[sku, stock_quantity, at_ms], …]} from index N
 *   GET /__emulator/requests?from=N      the request log: {next, requests: [{method, path, query,
 *       status, items, at}, …]} (`items`: create + update + delete of a batch request)
 *   PUT /__emulator/latency {per_request_ms, per_item_ms}   change the injected latency
 *   GET /__emulator/capacity   the capacity model and its accounting: {workers, request_ms, item_ms,
 *       busy, queued, requests, items, worker_ms, queued_ms}
 *   PUT /__emulator/capacity {workers, request_ms, item_ms}   change it (workers 0: no model)
 *
 * The capacity model is how a real shop (PHP-FPM workers in front of one database) slows down:
 * `workers` requests are served at once, each holds its worker for `request_ms + item_ms × items`
 * (a batch's create + update + delete, at most 100), the rest queue. A real WooCommerce 10 store
 * measured about 60 ms a request and 35 ms a stock-only batch item on 2 cores. `worker_ms` adds up
 * the modelled cost of every request served, so a client's load on the store is read from it
 * independently of how busy the machine running the emulator is.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { phpJson } from './php-json.js'
import { ORDER_STATUSES, Shop, TOPIC_HOOKS, type OrderRecord, type ProductRecord, type WebhookRecord } from './shop.js'

export interface ApiKey {
  readonly consumerKey: string
  readonly consumerSecret: string
  readonly permission: 'read' | 'write' | 'read_write'
}

export interface Fault {
  /** Which requests it hits (default: every API request). */
  readonly match?: (req: { method: string; path: string }) => boolean
  /** HTTP status to answer with; 'hang' answers after hangMs (or never), 'reset' destroys the socket. */
  readonly status: number | 'hang' | 'reset'
  readonly retryAfter?: string
  readonly hangMs?: number
  /** How many requests it hits before it is used up (default: until removed). */
  times?: number
}

export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly status: number
  /** Items in a batch request (create + update + delete), else 0. */
  readonly items: number
  readonly at: number
}

export interface CapacityModel {
  /** Requests served at once (0: unlimited, no cost). */
  readonly workers: number
  readonly requestMs: number
  readonly itemMs: number
}

/** What the capacity model has served so far (modelled worker time, not wall time). */
export interface CapacityAccount {
  requests: number
  items: number
  /** Sum of `requestMs + itemMs × items` over the requests served. */
  workerMs: number
  /** Time requests waited for a free worker (wall time). */
  queuedMs: number
}

export const DEFAULT_CAPACITY: CapacityModel = Object.freeze({ workers: 2, requestMs: 60, itemMs: 35 })

export interface WebhookDeliveryLog {
  readonly webhookId: number
  readonly topic: string
  readonly resourceId: number
  readonly deliveryId: string
  readonly status: number | null
  readonly error: string | null
  readonly at: number
}

export interface EmulatorOptions {
  readonly port?: number
  readonly host?: string
  /** Serve https with this key and certificate (PEM). Without it, plain http. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer }
  /** Home URL used in links and OAuth base strings (default: the listening address). */
  readonly homeUrl?: string
  readonly keys?: ReadonlyArray<ApiKey>
  /** Milliseconds per request, plus per batch item (realistic: 90 and 20). */
  readonly latency?: { readonly perRequestMs: number; readonly perItemMs: number }
  /** Requests processed at once; the rest wait (0: unlimited). */
  readonly workers?: number
  /**
   * The capacity model (see the module comment): `workers` at once (default 2), each request
   * holding one for `requestMs + itemMs × items` (defaults 60 and 35). Replaces `workers`.
   */
  readonly capacity?: Partial<CapacityModel>
  /**
   * Webhook delivery: 'async' (queued, coalesced per webhook and resource, sent after asyncDelayMs),
   * 'sync' (sent before the triggering request answers, one per change), 'manual' (queued until
   * flushWebhooks()).
   */
  readonly webhookMode?: 'async' | 'sync' | 'manual'
  readonly asyncDelayMs?: number
  readonly webhookTimeoutMs?: number
  /** Record every stock write and serve the /__emulator/ observation endpoints (see above). */
  readonly observe?: boolean
}

const NONCE_WINDOW_S = 15 * 60

class WcError extends Error {
  readonly status: number
  readonly code: string
  readonly data: Record<string, unknown>
  constructor(status: number, code: string, message: string, data: Record<string, unknown> = {}) {
    super(message)
    this.status = status
    this.code = code
    this.data = data
  }
}

const noRoute = () => new WcError(404, 'rest_no_route', 'No route was found matching the URL and request method.')

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** PHP-style query parsing: `a[]=1&a[]=2` becomes an array, the rest strings. */
function parseQuery(qs: string): Map<string, string | string[]> {
  const out = new Map<string, string | string[]>()
  for (const [k, v] of new URLSearchParams(qs)) {
    const m = /^(.+)\[\d*\]$/.exec(k)
    if (m) {
      const prev = out.get(m[1]!)
      out.set(m[1]!, Array.isArray(prev) ? [...prev, v] : [v])
    } else out.set(k, v)
  }
  return out
}

type Handler = (ctx: Ctx) => Promise<Reply> | Reply
interface Reply {
  status: number
  body: unknown
  headers?: Record<string, string>
}
interface Ctx {
  method: string
  path: string
  params: string[]
  query: Map<string, string | string[]>
  rawQuery: string
  body: Record<string, unknown>
  key: ApiKey
}

export class WooEmulator {
  readonly shop: Shop
  readonly keys: ApiKey[]
  readonly requests: LoggedRequest[] = []
  readonly deliveries: WebhookDeliveryLog[] = []
  readonly faults: Fault[] = []
  latency: { perRequestMs: number; perItemMs: number }
  /** The capacity model in force (workers 0 without one). */
  capacity: CapacityModel
  readonly account: CapacityAccount = { requests: 0, items: 0, workerMs: 0, queuedMs: 0 }
  webhookMode: 'async' | 'sync' | 'manual'
  asyncDelayMs: number
  /** Called whenever a managed quantity changes: the probe latency measurements use. */
  onStockChange: ((p: ProductRecord, before: number | null) => void) | null = null
  /** With `observe`: every write of a managed quantity, changed or not: [sku, quantity, at ms]. */
  readonly stockWrites: Array<[string, number | null, number]> = []

  readonly #o: EmulatorOptions
  #server: http.Server | https.Server | null = null
  #url = ''
  #busy = 0
  #waiting: Array<() => void> = []
  readonly #nonces = new Map<string, number>()
  /** Pending async deliveries: key `${webhook}:${resource}`. */
  readonly #queued = new Map<string, { webhook: WebhookRecord; resourceId: number; timer: NodeJS.Timeout | null }>()
  readonly #inFlight = new Set<Promise<void>>()
  /** During a request in 'sync' mode, the deliveries it triggered. */
  #syncBatch: Array<{ webhook: WebhookRecord; resourceId: number }> | null = null

  constructor(o: EmulatorOptions = {}) {
    this.#o = o
    this.shop = new Shop(o.homeUrl ?? 'http://127.0.0.1')
    this.keys = [...(o.keys ?? [])]
    this.latency = { perRequestMs: o.latency?.perRequestMs ?? 0, perItemMs: o.latency?.perItemMs ?? 0 }
    this.capacity = o.capacity ? { ...DEFAULT_CAPACITY, ...o.capacity } : { workers: o.workers ?? 0, requestMs: 0, itemMs: 0 }
    this.webhookMode = o.webhookMode ?? 'async'
    this.asyncDelayMs = o.asyncDelayMs ?? 50
    this.shop.listeners.push({
      productUpdated: (id) => this.#trigger('product.updated', id),
      orderCreated: (id) => this.#trigger('order.created', id),
      orderUpdated: (id) => this.#trigger('order.updated', id),
      stockChanged: (p, before) => this.onStockChange?.(p, before),
    })
    if (o.observe) {
      // product.updated fires on every update, even a no-op, and on stock moved by orders: the
      // figure the store shows after it is the one a reader would see.
      this.shop.listeners.push({
        productUpdated: (id) => {
          const p = this.shop.products.get(id)
          if (!p) return
          const h = this.shop.stockHolder(p)
          if (h.manageStock) this.stockWrites.push([p.sku, h.stockQuantity, Date.now()])
        },
      })
    }
  }

  get url(): string {
    return this.#url
  }

  /** Make an API key pair (`ck_` / `cs_` and 40 hex each). */
  addKey(permission: ApiKey['permission'] = 'read_write'): ApiKey {
    const k = { consumerKey: `ck_${randomBytes(20).toString('hex')}`, consumerSecret: `cs_${randomBytes(20).toString('hex')}`, permission }
    this.keys.push(k)
    return k
  }

  async start(): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.#handle(req, res)
    const server = this.#o.tls ? https.createServer({ key: this.#o.tls.key, cert: this.#o.tls.cert }, handler) : http.createServer(handler)
    server.keepAliveTimeout = 5000
    await new Promise<void>((resolve) => server.listen(this.#o.port ?? 0, this.#o.host ?? '127.0.0.1', resolve))
    this.#server = server
    const port = (server.address() as AddressInfo).port
    this.#url = `${this.#o.tls ? 'https' : 'http'}://${this.#o.host ?? '127.0.0.1'}:${port}`
    if (!this.#o.homeUrl) this.shop.homeUrl = this.#url
    return this
  }

  async stop(): Promise<void> {
    for (const q of this.#queued.values()) if (q.timer) clearTimeout(q.timer)
    this.#queued.clear()
    await Promise.allSettled([...this.#inFlight])
    const s = this.#server
    if (!s) return
    await new Promise<void>((resolve) => {
      s.close(() => resolve())
      s.closeAllConnections()
    })
    this.#server = null
  }

  /** Inject a fault; returns a function that removes it. */
  fail(f: Fault): () => void {
    this.faults.push(f)
    return () => {
      const i = this.faults.indexOf(f)
      if (i >= 0) this.faults.splice(i, 1)
    }
  }

  /** Batch requests logged so far (POST|PUT|PATCH …/batch). */
  batchRequests(): LoggedRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/batch') && r.method !== 'GET')
  }

  // ---------------------------------------------------------------------------- webhook sender

  #trigger(topic: string, resourceId: number): void {
    for (const w of this.shop.webhooks.values()) {
      if (w.status !== 'active' || w.topic !== topic) continue
      if (this.webhookMode === 'sync' && this.#syncBatch) {
        this.#syncBatch.push({ webhook: w, resourceId })
        continue
      }
      const key = `${w.id}:${resourceId}`
      // Coalescing: while a job for this (webhook, resource) is pending, a new change adds none.
      if (this.#queued.has(key)) continue
      const entry = { webhook: w, resourceId, timer: null as NodeJS.Timeout | null }
      this.#queued.set(key, entry)
      if (this.webhookMode === 'async' || this.webhookMode === 'sync') {
        entry.timer = setTimeout(() => this.#runQueued(key), this.asyncDelayMs)
      }
    }
  }

  #runQueued(key: string): void {
    const e = this.#queued.get(key)
    if (!e) return
    this.#queued.delete(key)
    const p = this.#deliver(e.webhook, e.resourceId).finally(() => this.#inFlight.delete(p))
    this.#inFlight.add(p)
  }

  /** Send every queued delivery now and wait for all deliveries in flight. */
  async flushWebhooks(): Promise<void> {
    for (;;) {
      for (const [key, e] of [...this.#queued]) {
        if (e.timer) clearTimeout(e.timer)
        this.#runQueued(key)
      }
      if (this.#inFlight.size === 0) return
      await Promise.allSettled([...this.#inFlight])
    }
  }

  /** Deliveries waiting in the queue (manual mode, or not yet due). */
  queuedWebhooks(): number {
    return this.#queued.size
  }

  /** The body WooCommerce would send for this resource now, or null when it is gone. */
  #resourceBody(w: WebhookRecord, resourceId: number): unknown {
    if (w.topic.startsWith('order.')) {
      const o = this.shop.orders.get(resourceId)
      return o ? this.shop.renderOrder(o) : null
    }
    const p = this.shop.products.get(resourceId)
    return p ? this.shop.renderProduct(p) : null
  }

  async #deliver(w: WebhookRecord, resourceId: number): Promise<void> {
    if (w.status !== 'active') return
    const payload = this.#resourceBody(w, resourceId)
    const body = payload === null ? phpJson({ id: resourceId }) : phpJson(payload)
    const [resource, event] = w.topic.split('.') as [string, string]
    // Not unique: a hash of the webhook id and the current second.
    const deliveryId = createHash('md5').update(`${w.id}${Math.floor(Date.now() / 1000)}`).digest('hex')
    const headers = {
      'User-Agent': 'WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)',
      Accept: '*/*',
      'Accept-Encoding': 'deflate, gzip, br, zstd',
      'Content-Type': 'application/json',
      'X-WC-Webhook-Source': `${this.shop.homeUrl}/`,
      'X-WC-Webhook-Topic': w.topic,
      'X-WC-Webhook-Resource': resource,
      'X-WC-Webhook-Event': event,
      'X-WC-Webhook-Signature': createHmac('sha256', w.secret).update(body, 'utf8').digest('base64'),
      'X-WC-Webhook-ID': String(w.id),
      'X-WC-Webhook-Delivery-ID': deliveryId,
      Connection: 'close',
    }
    const r = await this.#post(w.deliveryUrl, headers, body)
    this.deliveries.push({ webhookId: w.id, topic: w.topic, resourceId, deliveryId, status: r.status, error: r.error, at: Date.now() })
    // 200–302 is success (redirects are not followed); anything else, or no answer, a failure.
    if (r.status !== null && r.status >= 200 && r.status <= 302) {
      w.failureCount = 0
    } else {
      w.failureCount++
      if (w.failureCount >= 7) {
        w.status = 'disabled'
        w.modifiedAt = Date.now()
      }
    }
  }

  #post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number | null; error: string | null }> {
    return new Promise((resolve) => {
      let u: URL
      try {
        u = new URL(url)
      } catch {
        resolve({ status: null, error: 'bad url' })
        return
      }
      const mod = u.protocol === 'https:' ? https : http
      const req = mod.request(u, { method: 'POST', headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }, timeout: this.#o.webhookTimeoutMs ?? 5000, rejectUnauthorized: false }, (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? null, error: null }))
        res.on('error', (e) => resolve({ status: res.statusCode ?? null, error: e.message }))
      })
      req.on('timeout', () => req.destroy(new Error('timed out')))
      req.on('error', (e) => resolve({ status: null, error: e.message }))
      req.end(body)
    })
  }

  /** The ping WooCommerce sends while a webhook is created: form-encoded, unsigned, no X-WC headers. */
  async #ping(w: WebhookRecord): Promise<void> {
    await this.#post(w.deliveryUrl, { 'User-Agent': 'WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)', 'Content-Type': 'application/x-www-form-urlencoded' }, `webhook_id=${w.id}`)
  }

  // ------------------------------------------------------------------------------------- HTTP

  /** Take a worker (waiting in line when all are busy); false without a bound, nothing to release. */
  async #acquire(): Promise<boolean> {
    const max = this.capacity.workers
    if (max <= 0) return false
    if (this.#busy < max) {
      this.#busy++
      return true
    }
    const since = performance.now()
    await new Promise<void>((resolve) => this.#waiting.push(resolve))
    this.account.queuedMs += performance.now() - since
    return true
  }

  #release(): void {
    // The worker passes to the next in line, or becomes free (a smaller bound set meanwhile drains).
    if (this.#busy <= this.capacity.workers) {
      const next = this.#waiting.shift()
      if (next) return next()
    }
    this.#busy--
  }

  /** Workers fewer than the model's now (raised by PUT /__emulator/capacity): let waiting requests in. */
  #admit(): void {
    // No model any more: everyone waiting goes in.
    while ((this.capacity.workers <= 0 || this.#busy < this.capacity.workers) && this.#waiting.length > 0) {
      this.#busy++
      this.#waiting.shift()!()
    }
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const u = new URL(req.url ?? '/', 'http://x')
    const method = (req.method ?? 'GET').toUpperCase()
    let path = u.pathname
    let items = 0
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method, path, query: u.search, status, items, at: Date.now() })
      if (res.destroyed) return
      const text = phpJson(body)
      res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers })
      res.end(text)
    }
    const sendError = (e: WcError) => send(e.status, { code: e.code, message: e.message, data: { status: e.status, ...e.data } })

    if (this.#o.observe && path.startsWith('/__emulator/')) {
      this.#observe(method, path, u, raw, res)
      return
    }

    // `?rest_route=` routes, but skips API-key authentication: always 401.
    if (u.searchParams.has('rest_route')) {
      send(401, { code: 'woocommerce_rest_cannot_view', message: 'Sorry, you cannot list resources.', data: { status: 401 } })
      return
    }
    const prefix = /^(?:\/index\.php)?\/wp-json\/wc\/v3(\/.*)?$/.exec(path)
    if (!prefix) {
      sendError(noRoute())
      return
    }
    const route = prefix[1] ?? '/'

    const fault = this.faults.find((f) => (f.times === undefined || f.times > 0) && (!f.match || f.match({ method, path: route })))
    if (fault) {
      if (fault.times !== undefined) fault.times--
      if (fault.status === 'reset') {
        this.requests.push({ method, path, query: u.search, status: 0, items, at: Date.now() })
        req.socket.destroy()
        return
      }
      if (fault.status === 'hang') {
        if (fault.hangMs !== undefined) await sleep(fault.hangMs)
        else return
        send(200, [])
        return
      }
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'Retry-After': fault.retryAfter } : {}
      const code = fault.status === 429 ? 'woocommerce_rest_too_many_requests' : fault.status === 401 ? 'woocommerce_rest_authentication_error' : 'internal_server_error'
      const msg = fault.status === 401 ? 'Consumer key is invalid.' : fault.status === 429 ? 'Too many requests.' : 'There has been a critical error on this website.'
      send(fault.status, { code, message: msg, data: { status: fault.status } }, headers)
      return
    }

    const held = await this.#acquire()
    try {
      let body: Record<string, unknown> = {}
      if (raw.length > 0 && method !== 'GET') {
        try {
          const parsed: unknown = JSON.parse(raw)
          body = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {}
        } catch {
          if (/json/i.test(req.headers['content-type'] ?? '')) throw new WcError(400, 'rest_invalid_json', 'Invalid JSON body passed.', { json_error_code: 4, json_error_message: 'Syntax error' })
        }
      }
      items = /\/batch$/.test(route) ? (['create', 'update', 'delete'] as const).reduce((n, k) => n + (Array.isArray(body[k]) ? (body[k] as unknown[]).length : 0), 0) : 0
      const work = held ? this.capacity.requestMs + this.capacity.itemMs * Math.min(items, 100) : 0
      if (held) {
        this.account.requests++
        this.account.items += items
        this.account.workerMs += work
      }
      const wait = work + this.latency.perRequestMs + this.latency.perItemMs * Math.min(items, 100)
      if (wait > 0) await sleep(wait)

      const found = this.#route(method, route)
      let key: ApiKey
      try {
        key = this.#authenticate(req, method, path, u, found?.collection ?? false)
      } catch (e) {
        // An anonymous request to an unknown route gets the router's 404; bad credentials, 401.
        if (!found && e instanceof WcError && e.code === 'woocommerce_rest_cannot_view') throw noRoute()
        throw e
      }
      if (!found) throw noRoute()
      if (method !== 'GET' && key.permission === 'read') throw new WcError(401, 'woocommerce_rest_authentication_error', 'The API key provided does not have write permissions.')
      if (this.webhookMode === 'sync') this.#syncBatch = []
      let reply: Reply
      try {
        reply = await found.handler({ method, path: route, params: found.params, query: parseQuery(u.search.slice(1)), rawQuery: u.search.slice(1), body, key })
      } finally {
        const batch = this.#syncBatch
        this.#syncBatch = null
        // Synchronous delivery: one per change, before the response goes out.
        for (const d of batch ?? []) await this.#deliver(d.webhook, d.resourceId)
      }
      send(reply.status, reply.body, reply.headers)
    } catch (e) {
      if (e instanceof WcError) sendError(e)
      else send(500, { code: 'internal_server_error', message: e instanceof Error ? e.message : String(e), data: { status: 500 } })
    } finally {
      if (held) this.#release()
    }
  }

  /** Change the capacity model (workers 0: none); requests already waiting keep their place. */
  setCapacity(c: Partial<CapacityModel>): void {
    this.capacity = { ...this.capacity, ...c }
    this.#admit()
  }

  /** The observation endpoints (not logged as requests; see the module comment). */
  #observe(method: string, path: string, u: URL, raw: string, res: http.ServerResponse): void {
    const from = Math.max(0, Number(u.searchParams.get('from') ?? 0) || 0)
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
    if (method === 'GET' && path === '/__emulator/stock-writes') return void reply(200, { next: this.stockWrites.length, writes: this.stockWrites.slice(from) })
    if (method === 'GET' && path === '/__emulator/requests') return void reply(200, { next: this.requests.length, requests: this.requests.slice(from) })
    if (method === 'PUT' && path === '/__emulator/latency') {
      try {
        const b = JSON.parse(raw) as { per_request_ms?: unknown; per_item_ms?: unknown }
        const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0
        if (!ok(b.per_request_ms) || !ok(b.per_item_ms)) return void reply(422, { error: 'per_request_ms and per_item_ms: numbers ≥ 0' })
        this.latency = { perRequestMs: b.per_request_ms as number, perItemMs: b.per_item_ms as number }
        return void reply(200, { per_request_ms: this.latency.perRequestMs, per_item_ms: this.latency.perItemMs })
      } catch {
        return void reply(400, { error: 'invalid JSON' })
      }
    }
    if (method === 'GET' && path === '/__emulator/capacity') return void reply(200, this.#capacityBody())
    if (method === 'PUT' && path === '/__emulator/capacity') {
      try {
        const b = JSON.parse(raw) as { workers?: unknown; request_ms?: unknown; item_ms?: unknown }
        const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0
        if (!ok(b.workers) || !Number.isInteger(b.workers) || !ok(b.request_ms) || !ok(b.item_ms)) return void reply(422, { error: 'workers (integer), request_ms and item_ms: numbers ≥ 0' })
        this.setCapacity({ workers: b.workers as number, requestMs: b.request_ms as number, itemMs: b.item_ms as number })
        return void reply(200, this.#capacityBody())
      } catch {
        return void reply(400, { error: 'invalid JSON' })
      }
    }
    reply(404, { error: 'no such observation endpoint' })
  }

  #capacityBody() {
    const { workers, requestMs, itemMs } = this.capacity
    const a = this.account
    return { workers, request_ms: requestMs, item_ms: itemMs, busy: this.#busy, queued: this.#waiting.length, requests: a.requests, items: a.items, worker_ms: a.workerMs, queued_ms: Math.round(a.queuedMs) }
  }

  // ------------------------------------------------------------------------------------- auth

  #authenticate(req: http.IncomingMessage, method: string, fullPath: string, u: URL, collection: boolean): ApiKey {
    const cannotView = () => new WcError(401, 'woocommerce_rest_cannot_view', collection ? 'Sorry, you cannot list resources.' : 'Sorry, you cannot view this resource.')
    const authError = (m: string) => new WcError(401, 'woocommerce_rest_authentication_error', m)
    if (this.#o.tls) {
      let ck: string | undefined
      let cs: string | undefined
      const h = req.headers.authorization
      if (h?.startsWith('Basic ')) {
        const dec = Buffer.from(h.slice(6), 'base64').toString('utf8')
        const i = dec.indexOf(':')
        if (i >= 0) {
          ck = dec.slice(0, i)
          cs = dec.slice(i + 1)
        }
      } else if (u.searchParams.has('consumer_key')) {
        ck = u.searchParams.get('consumer_key') ?? undefined
        cs = u.searchParams.get('consumer_secret') ?? undefined
      }
      if (ck === undefined) throw cannotView()
      const key = this.keys.find((k) => k.consumerKey === ck)
      if (!key) throw cannotView()
      if (!safeEqual(key.consumerSecret, cs ?? '')) throw authError('Consumer secret is invalid.')
      return key
    }
    // Plain http: only OAuth 1.0a one-legged; Basic and consumer_key parameters are ignored.
    const params = new Map<string, string>()
    for (const [k, v] of u.searchParams) params.set(k, v)
    const h = req.headers.authorization
    if (h?.startsWith('OAuth ')) {
      for (const m of h.slice(6).matchAll(/([a-z_]+)="([^"]*)"/g)) params.set(m[1]!, decodeURIComponent(m[2]!))
    }
    if (!params.has('oauth_consumer_key')) throw cannotView()
    for (const p of ['oauth_consumer_key', 'oauth_timestamp', 'oauth_nonce', 'oauth_signature', 'oauth_signature_method']) {
      if (!params.get(p)) throw authError(`Missing OAuth parameter ${p}`)
    }
    const key = this.keys.find((k) => k.consumerKey === params.get('oauth_consumer_key'))
    if (!key) throw authError('Consumer key is invalid.')
    const sigMethod = params.get('oauth_signature_method')!
    if (sigMethod !== 'HMAC-SHA1' && sigMethod !== 'HMAC-SHA256') throw authError('Invalid signature - signature method is invalid.')
    const given = params.get('oauth_signature')!.replace(/ /g, '+')
    const pairs: Array<[string, string]> = []
    for (const [k, v] of new URLSearchParams(u.search)) if (k !== 'oauth_signature') pairs.push([k, v])
    if (h?.startsWith('OAuth ')) for (const [k, v] of params) if (k.startsWith('oauth_') && k !== 'oauth_signature' && !u.searchParams.has(k)) pairs.push([k, v])
    // Array parameters are signed as name[0]=v.
    const counters = new Map<string, number>()
    const norm = pairs.map(([k, v]) => {
      const m = /^(.+)\[\]$/.exec(k)
      if (!m) return [k, v] as [string, string]
      const n = counters.get(m[1]!) ?? 0
      counters.set(m[1]!, n + 1)
      return [`${m[1]}[${n}]`, v] as [string, string]
    })
    const encoded = norm.map(([k, v]) => [rfc3986(k), rfc3986(v)] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    const paramString = encoded.map(([k, v]) => `${k}=${v}`).join('&')
    const base = `${method}&${rfc3986(this.shop.homeUrl + fullPath)}&${rfc3986(paramString)}`
    const expected = createHmac(sigMethod === 'HMAC-SHA1' ? 'sha1' : 'sha256', `${key.consumerSecret}&`).update(base).digest('base64')
    if (!safeEqual(expected, given)) throw authError('Invalid signature - provided signature does not match.')
    const ts = Number(params.get('oauth_timestamp'))
    const now = Math.floor(Date.now() / 1000)
    if (!Number.isFinite(ts) || Math.abs(now - ts) > NONCE_WINDOW_S) throw authError('Invalid timestamp.')
    const nonceKey = `${key.consumerKey}:${params.get('oauth_nonce')}`
    const seen = this.#nonces.get(nonceKey)
    if (seen !== undefined && now - seen <= NONCE_WINDOW_S) throw authError('Invalid nonce - nonce has already been used.')
    this.#nonces.set(nonceKey, now)
    if (this.#nonces.size > 100_000) for (const [k, t] of this.#nonces) if (now - t > NONCE_WINDOW_S) this.#nonces.delete(k)
    return key
  }

  // ----------------------------------------------------------------------------------- routes

  #route(method: string, route: string): { handler: Handler; params: string[]; collection: boolean } | null {
    const table: Array<[string, RegExp, Handler, boolean]> = [
      ['GET', /^\/products\/?$/, (c) => this.#listProducts(c), true],
      ['POST', /^\/products\/?$/, (c) => this.#createProduct(c), true],
      ['POST|PUT|PATCH', /^\/products\/batch\/?$/, (c) => this.#batchProducts(c), true],
      ['GET', /^\/products\/(\d+)\/variations\/?$/, (c) => this.#listVariations(c), true],
      ['POST', /^\/products\/(\d+)\/variations\/?$/, (c) => this.#createVariation(c), true],
      ['POST|PUT|PATCH', /^\/products\/(\d+)\/variations\/batch\/?$/, (c) => this.#batchVariations(c), true],
      ['GET', /^\/products\/(\d+)\/variations\/(\d+)\/?$/, (c) => this.#getVariation(c), false],
      ['POST|PUT|PATCH', /^\/products\/(\d+)\/variations\/(\d+)\/?$/, (c) => this.#updateVariation(c), false],
      ['GET', /^\/products\/(\d+)\/?$/, (c) => this.#getProduct(c), false],
      ['POST|PUT|PATCH', /^\/products\/(\d+)\/?$/, (c) => this.#updateProduct(c), false],
      ['DELETE', /^\/products\/(\d+)\/?$/, (c) => this.#deleteProduct(c), false],
      ['POST', /^\/orders\/?$/, (c) => this.#createOrder(c), true],
      ['GET', /^\/orders\/?$/, (c) => this.#listOrders(c), true],
      ['GET', /^\/orders\/(\d+)\/?$/, (c) => ({ status: 200, body: this.shop.renderOrder(this.#order(c.params[0]!)) }), false],
      ['POST|PUT|PATCH', /^\/orders\/(\d+)\/?$/, (c) => this.#updateOrder(c), false],
      ['POST', /^\/orders\/(\d+)\/refunds\/?$/, (c) => this.#createRefund(c), true],
      ['GET', /^\/orders\/(\d+)\/refunds\/?$/, (c) => { const o = this.#order(c.params[0]!); return { status: 200, body: [...o.refunds].reverse().map((r) => this.shop.renderRefund(o, r)) } }, true],
      ['GET', /^\/orders\/(\d+)\/notes\/?$/, (c) => ({ status: 200, body: this.#order(c.params[0]!).notes.map((n, i) => ({ id: i + 1, note: n, customer_note: false })) }), true],
      ['GET', /^\/webhooks\/?$/, (c) => this.#listWebhooks(c), true],
      ['POST', /^\/webhooks\/?$/, (c) => this.#createWebhook(c), true],
      ['GET', /^\/webhooks\/(\d+)\/?$/, (c) => ({ status: 200, body: this.shop.renderWebhook(this.#webhook(c.params[0]!)) }), false],
      ['POST|PUT|PATCH', /^\/webhooks\/(\d+)\/?$/, (c) => this.#updateWebhook(c), false],
      ['DELETE', /^\/webhooks\/(\d+)\/?$/, (c) => this.#deleteWebhook(c), false],
    ]
    for (const [methods, re, handler, collection] of table) {
      const m = re.exec(route)
      if (m && methods.split('|').includes(method)) return { handler, params: m.slice(1), collection }
    }
    return null
  }

  #paging(c: Ctx): { page: number; perPage: number } {
    const bad = (param: string, msg: string, code = 'rest_invalid_type') =>
      new WcError(400, 'rest_invalid_param', `Invalid parameter(s): ${param}`, { params: { [param]: msg }, details: { [param]: { code, message: msg, data: { param } } } })
    const pp = c.query.get('per_page')
    const pg = c.query.get('page')
    let perPage = 10
    let page = 1
    if (pp !== undefined) {
      if (typeof pp !== 'string' || !/^-?\d+$/.test(pp)) throw bad('per_page', 'per_page is not of type integer.')
      perPage = Number(pp)
      if (perPage < 1 || perPage > 100) throw bad('per_page', 'per_page must be between 1 (inclusive) and 100 (inclusive)', 'rest_out_of_bounds')
    }
    if (pg !== undefined) {
      if (typeof pg !== 'string' || !/^-?\d+$/.test(pg)) throw bad('page', 'page is not of type integer.')
      page = Number(pg)
      if (page < 1) throw bad('page', 'page must be greater than or equal to 1', 'rest_out_of_bounds')
    }
    return { page, perPage }
  }

  /** A page of results with X-WP-Total, X-WP-TotalPages and Link (repeating the query string). */
  #paged(c: Ctx, all: unknown[], render: (x: never) => unknown): Reply {
    const { page, perPage } = this.#paging(c)
    const total = all.length
    const pages = Math.ceil(total / perPage)
    const slice = all.slice((page - 1) * perPage, page * perPage)
    let body = slice.map((x) => render(x as never))
    const fields = c.query.get('_fields')
    if (typeof fields === 'string' && fields) {
      const keep = fields.split(',').map((s) => s.trim())
      body = body.map((o) => Object.fromEntries(Object.entries(o as Record<string, unknown>).filter(([k]) => keep.includes(k))))
    }
    const link = (p: number) => {
      const q = new URLSearchParams(c.rawQuery)
      q.set('page', String(p))
      return `${this.shop.homeUrl}/wp-json/wc/v3${c.path}?${q.toString()}`
    }
    const links: string[] = []
    if (page > 1 && page - 1 <= Math.max(pages, 1)) links.push(`<${link(page - 1)}>; rel="prev"`)
    if (page < pages) links.push(`<${link(page + 1)}>; rel="next"`)
    if (links.length === 0) links.push(`<${this.shop.homeUrl}/wp-json/>; rel="https://api.w.org/"`)
    return { status: 200, body, headers: { 'X-WP-Total': String(total), 'X-WP-TotalPages': String(pages), Link: links.join(', ') } }
  }

  #filterProducts(c: Ctx, candidates: ProductRecord[], topLevelOnly: boolean): ProductRecord[] {
    let list = candidates
    const sku = c.query.get('sku')
    const searchSku = c.query.get('search_sku')
    if (typeof sku === 'string' && sku !== '') {
      const wanted = new Set(sku.split(',').map((s) => s.trim().toLowerCase()))
      list = list.filter((p) => wanted.has(p.sku.toLowerCase()))
    } else if (typeof searchSku === 'string' && searchSku !== '') {
      list = list.filter((p) => p.sku.toLowerCase().includes(searchSku.toLowerCase()))
    } else if (topLevelOnly) {
      list = list.filter((p) => p.type !== 'variation')
    }
    const include = c.query.get('include')
    if (include !== undefined) {
      const ids = new Set((Array.isArray(include) ? include : include.split(',')).map(Number))
      list = list.filter((p) => ids.has(p.id))
    }
    const after = c.query.get('modified_after')
    const before = c.query.get('modified_before')
    const parseDate = (s: string) => Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(s) ? s : `${s}Z`)
    if (typeof after === 'string') list = list.filter((p) => p.modifiedAt > parseDate(after))
    if (typeof before === 'string') list = list.filter((p) => p.modifiedAt < parseDate(before))
    const orderby = c.query.get('orderby') ?? 'date'
    const asc = c.query.get('order') === 'asc'
    const key = (p: ProductRecord) => (orderby === 'id' ? p.id : orderby === 'modified' ? p.modifiedAt : p.createdAt)
    return [...list].sort((a, b) => (key(a) - key(b) || a.id - b.id) * (asc ? 1 : -1))
  }

  #listProducts(c: Ctx): Reply {
    const list = this.#filterProducts(c, [...this.shop.products.values()], true)
    return this.#paged(c, list, (p: ProductRecord) => this.shop.renderProduct(p))
  }

  #product(id: string | number, forUpdate: boolean): ProductRecord {
    const p = this.shop.products.get(Number(id))
    if (!p) throw new WcError(forUpdate ? 400 : 404, 'woocommerce_rest_product_invalid_id', 'Invalid ID.')
    return p
  }

  #getProduct(c: Ctx): Reply {
    return { status: 200, body: this.shop.renderProduct(this.#product(c.params[0]!, false)) }
  }

  /** Single-item validation (schema): stock_quantity integer or numeric string; manage_stock boolean. */
  #validateSingle(body: Record<string, unknown>): Record<string, unknown> {
    const out = { ...body }
    const bad = (param: string, type: string) =>
      new WcError(400, 'rest_invalid_param', `Invalid parameter(s): ${param}`, {
        params: { [param]: `${param} is not of type ${type}.` },
        details: { [param]: { code: 'rest_invalid_type', message: `${param} is not of type ${type}.`, data: { param } } },
      })
    if ('stock_quantity' in body && body.stock_quantity !== null) {
      const q = body.stock_quantity
      if (typeof q === 'number' && Number.isInteger(q)) out.stock_quantity = q
      else if (typeof q === 'string' && /^\s*-?\d+\s*$/.test(q)) out.stock_quantity = Number(q)
      else throw bad('stock_quantity', 'integer')
    }
    if ('manage_stock' in body && typeof body.manage_stock !== 'boolean') throw bad('manage_stock', 'boolean')
    return out
  }

  /** Batch items skip type validation: a non-numeric quantity becomes 0, a float is truncated. */
  #coerceItem(body: Record<string, unknown>): Record<string, unknown> {
    const out = { ...body }
    if ('stock_quantity' in body && body.stock_quantity !== null) {
      const n = typeof body.stock_quantity === 'number' ? body.stock_quantity : typeof body.stock_quantity === 'string' ? Number.parseFloat(body.stock_quantity) : body.stock_quantity === true ? 1 : 0
      out.stock_quantity = Number.isFinite(n) ? Math.trunc(n) : 0
    }
    if ('manage_stock' in body && typeof body.manage_stock !== 'boolean') out.manage_stock = ['yes', 'true', '1', 1].includes(body.manage_stock as string)
    return out
  }

  #checkSku(body: Record<string, unknown>, exceptId?: number): void {
    if (typeof body.sku === 'string' && body.sku !== '') {
      const other = this.shop.skuTaken(body.sku, exceptId)
      if (other) throw new WcError(400, 'product_invalid_sku', 'Invalid or duplicated SKU.', { resource_id: other.id, unique_sku: `${body.sku}-1` })
    }
  }

  #updateProduct(c: Ctx): Reply {
    const p = this.#product(c.params[0]!, true)
    if (p.type === 'variation') throw new WcError(404, 'woocommerce_rest_invalid_product_id', 'To manipulate product variations you should use the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.')
    const body = this.#validateSingle(c.body)
    this.#checkSku(body, p.id)
    this.shop.applyUpdate(p, body)
    return { status: 200, body: this.shop.renderProduct(p) }
  }

  #newProduct(body: Record<string, unknown>, parent?: ProductRecord): ProductRecord {
    this.#checkSku(body)
    const type = parent ? 'variation' : ((body.type as ProductRecord['type']) ?? 'simple')
    const attrs = Array.isArray(body.attributes) ? (body.attributes as Array<{ name?: string; option?: string; options?: string[] }>) : []
    const p = this.shop.addProduct({
      name: typeof body.name === 'string' ? body.name : parent ? attrs.map((a) => a.option ?? '').join(', ') : 'Product',
      type,
      parentId: parent?.id ?? 0,
      sku: typeof body.sku === 'string' ? body.sku : '',
      manageStock: body.manage_stock === true,
      stockQuantity: body.manage_stock === true ? ((body.stock_quantity as number | null) ?? 0) : null,
      backorders: (body.backorders as 'no') ?? 'no',
      regularPrice: typeof body.regular_price === 'string' ? body.regular_price : '',
      attributes: attrs.map((a) => ({ name: a.name ?? '', ...(a.option !== undefined ? { option: a.option } : {}), ...(a.options ? { options: a.options } : {}) })),
    })
    return p
  }

  #createProduct(c: Ctx): Reply {
    const body = this.#validateSingle(c.body)
    return { status: 201, body: this.shop.renderProduct(this.#newProduct(body)) }
  }

  #deleteProduct(c: Ctx): Reply {
    const p = this.shop.products.get(Number(c.params[0]))
    if (!p) throw new WcError(404, 'woocommerce_rest_product_invalid_id', 'Invalid ID.')
    const out = this.shop.renderProduct(p)
    this.shop.deleteProduct(p)
    return { status: 200, body: out }
  }

  #itemError(id: unknown, e: WcError) {
    return { id: id ?? null, error: { code: e.code, message: e.message, data: { status: e.status, ...e.data } } }
  }

  #batch(c: Ctx, ops: { create: (b: Record<string, unknown>) => unknown; update: (b: Record<string, unknown>) => unknown; del: (id: unknown) => unknown }): Reply {
    const sections = (['create', 'update', 'delete'] as const).filter((k) => Array.isArray(c.body[k]))
    const total = sections.reduce((n, k) => n + (c.body[k] as unknown[]).length, 0)
    if (total > 100) throw new WcError(413, 'woocommerce_rest_request_entity_too_large', 'Unable to accept more than 100 items for this request.')
    if (sections.length === 0) return { status: 200, body: [] }
    const out: Record<string, unknown[]> = {}
    const run = (fn: () => unknown, id: unknown) => {
      try {
        return fn()
      } catch (e) {
        if (e instanceof WcError) return this.#itemError(id, e)
        throw e
      }
    }
    for (const k of sections) {
      const list = c.body[k] as unknown[]
      out[k] = list.map((item) => {
        if (k === 'delete') return run(() => ops.del(item), item)
        const b = item !== null && typeof item === 'object' ? (item as Record<string, unknown>) : {}
        return run(() => (k === 'create' ? ops.create(this.#coerceItem(b)) : ops.update(this.#coerceItem(b))), b.id)
      })
    }
    return { status: 200, body: out }
  }

  #batchProducts(c: Ctx): Reply {
    return this.#batch(c, {
      create: (b) => this.shop.renderProduct(this.#newProduct(b)),
      update: (b) => {
        if (b.id === undefined || b.id === null || b.id === '') throw new WcError(400, 'woocommerce_rest_product_invalid_id', 'Invalid ID.')
        const p = this.#product(Number(b.id), true)
        if (p.type === 'variation') throw new WcError(404, 'woocommerce_rest_invalid_product_id', 'To manipulate product variations you should use the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.')
        this.#checkSku(b, p.id)
        this.shop.applyUpdate(p, b)
        return this.shop.renderProduct(p)
      },
      del: (id) => {
        const p = this.shop.products.get(Number(id))
        if (!p) throw new WcError(404, 'woocommerce_rest_product_invalid_id', 'Invalid ID.')
        const r = this.shop.renderProduct(p)
        this.shop.deleteProduct(p)
        return r
      },
    })
  }

  #variation(parentId: string | number, id: string | number): ProductRecord {
    const v = this.shop.products.get(Number(id))
    if (!v || v.type !== 'variation' || v.parentId !== Number(parentId)) throw new WcError(404, 'woocommerce_rest_product_variation_invalid_id', 'Invalid ID.')
    return v
  }

  #listVariations(c: Ctx): Reply {
    const parentId = Number(c.params[0])
    const list = this.#filterProducts(c, this.shop.children(parentId), false)
    return this.#paged(c, list, (p: ProductRecord) => this.shop.renderVariation(p))
  }

  #getVariation(c: Ctx): Reply {
    return { status: 200, body: this.shop.renderVariation(this.#variation(c.params[0]!, c.params[1]!)) }
  }

  #updateVariation(c: Ctx): Reply {
    const v = this.#variation(c.params[0]!, c.params[1]!)
    const body = this.#validateSingle(c.body)
    this.#checkSku(body, v.id)
    this.shop.applyUpdate(v, body)
    return { status: 200, body: this.shop.renderVariation(v) }
  }

  #variableParent(id: string | number): ProductRecord {
    const p = this.shop.products.get(Number(id))
    if (!p || p.type !== 'variable') throw new WcError(404, 'woocommerce_rest_product_variation_invalid_id', 'Invalid ID.')
    return p
  }

  #createVariation(c: Ctx): Reply {
    const parent = this.#variableParent(c.params[0]!)
    const body = this.#validateSingle(c.body)
    return { status: 201, body: this.shop.renderVariation(this.#newProduct(body, parent)) }
  }

  #batchVariations(c: Ctx): Reply {
    const parentId = c.params[0]!
    return this.#batch(c, {
      create: (b) => this.shop.renderVariation(this.#newProduct(b, this.#variableParent(parentId))),
      update: (b) => {
        this.#variableParent(parentId)
        const v = this.#variation(parentId, Number(b.id))
        this.#checkSku(b, v.id)
        this.shop.applyUpdate(v, b)
        return this.shop.renderVariation(v)
      },
      del: (id) => {
        const v = this.#variation(parentId, Number(id))
        const r = this.shop.renderVariation(v)
        this.shop.deleteProduct(v)
        return r
      },
    })
  }

  #order(id: string | number): OrderRecord {
    const o = this.shop.orders.get(Number(id))
    if (!o) throw new WcError(404, 'woocommerce_rest_shop_order_invalid_id', 'Invalid ID.')
    return o
  }

  #createOrder(c: Ctx): Reply {
    const b = c.body
    const status = b.status === undefined ? undefined : String(b.status)
    if (status !== undefined && !(ORDER_STATUSES as ReadonlyArray<string>).includes(status)) {
      throw new WcError(400, 'rest_invalid_param', 'Invalid parameter(s): status', { params: { status: `status is not one of ${ORDER_STATUSES.join(', ')}.` }, details: { status: { code: 'rest_not_in_enum', message: `status is not one of ${ORDER_STATUSES.join(', ')}.`, data: null } } })
    }
    const lines = (Array.isArray(b.line_items) ? (b.line_items as Array<Record<string, unknown>>) : []).map((l) => {
      let p: ProductRecord | undefined
      if (typeof l.sku === 'string') p = this.shop.skuTaken(l.sku)
      else p = this.shop.products.get(Number(l.variation_id) || Number(l.product_id))
      if (!p) throw new WcError(400, 'woocommerce_rest_invalid_product_id', 'Invalid product ID or SKU.')
      return { product: p, quantity: Number(l.quantity ?? 1) }
    })
    const o = this.shop.createOrder({ ...(status ? { status } : {}), setPaid: b.set_paid === true, ...(b.billing && typeof b.billing === 'object' ? { billing: b.billing as Record<string, string> } : {}), lines })
    return { status: 201, body: this.shop.renderOrder(o) }
  }

  #listOrders(c: Ctx): Reply {
    const list = [...this.shop.orders.values()].sort((a, b) => b.id - a.id)
    return this.#paged(c, list, (o: OrderRecord) => this.shop.renderOrder(o))
  }

  #updateOrder(c: Ctx): Reply {
    const o = this.#order(c.params[0]!)
    // Line quantities edited ({"line_items":[{"id","quantity"}]}): a paid order moves its stock by the difference.
    if (Array.isArray(c.body.line_items)) {
      const edits = (c.body.line_items as Array<Record<string, unknown>>).map((l) => {
        const line = o.lines.find((x) => x.id === Number(l.id))
        const quantity = Number(l.quantity)
        if (!line) throw new WcError(400, 'woocommerce_rest_invalid_item_id', 'Order item ID provided is not associated with order.')
        if (!Number.isSafeInteger(quantity) || quantity <= 0) throw new WcError(400, 'rest_invalid_param', 'Invalid parameter(s): line_items', { params: { line_items: 'line_items[0][quantity] is not of type integer.' } })
        return { line, quantity }
      })
      for (const e of edits) if (e.quantity !== e.line.quantity) this.shop.setLineQuantity(o, e.line, e.quantity)
    }
    if (c.body.status !== undefined) {
      const s = String(c.body.status)
      if (!(ORDER_STATUSES as ReadonlyArray<string>).includes(s)) throw new WcError(400, 'rest_invalid_param', 'Invalid parameter(s): status', { params: { status: 'status is not one of the allowed values.' } })
      this.shop.setOrderStatus(o, s)
    } else this.shop.setOrderStatus(o, o.status)
    return { status: 200, body: this.shop.renderOrder(o) }
  }

  /** POST /orders/{id}/refunds: amount and line quantities checked against what is left to refund; api_restock defaults to true. */
  #createRefund(c: Ctx): Reply {
    const o = this.#order(c.params[0]!)
    const b = c.body
    const bad = (message: string) => new WcError(400, 'woocommerce_rest_invalid_order_refund', message)
    const lines = (Array.isArray(b.line_items) ? (b.line_items as Array<Record<string, unknown>>) : []).map((l) => {
      const line = o.lines.find((x) => x.id === Number(l.id))
      if (!line) throw bad('Invalid line item ID.')
      const quantity = l.quantity === undefined ? 0 : Number(l.quantity)
      if (!Number.isSafeInteger(quantity) || quantity < 0 || quantity > line.quantity - line.refundedQty) throw bad('Invalid refund quantity.')
      const refundTotal = Number(l.refund_total ?? 0)
      if (!Number.isFinite(refundTotal) || refundTotal < 0) throw bad('Invalid refund total.')
      return { line, quantity, refundTotal }
    })
    const amount = b.amount === undefined ? lines.reduce((n, l) => n + l.refundTotal, 0) : Number(b.amount)
    if (!Number.isFinite(amount) || amount <= 0) throw bad('Refund amount must be greater than zero.')
    const left = this.shop.orderTotal(o) - o.refunds.reduce((n, r) => n + r.amount, 0)
    if (amount > left + 0.005) throw new WcError(500, 'woocommerce_rest_cannot_create_order_refund', 'Invalid refund amount.')
    const refund = this.shop.createRefund(o, { amount, reason: typeof b.reason === 'string' ? b.reason : '', restock: b.api_restock !== false, lines })
    return { status: 201, body: this.shop.renderRefund(o, refund) }
  }

  #webhook(id: string | number): WebhookRecord {
    const w = this.shop.webhooks.get(Number(id))
    if (!w) throw new WcError(404, 'woocommerce_rest_shop_webhook_invalid_id', 'Invalid ID.')
    return w
  }

  #listWebhooks(c: Ctx): Reply {
    const status = c.query.get('status')
    const list = [...this.shop.webhooks.values()].filter((w) => typeof status !== 'string' || status === 'all' || w.status === status).sort((a, b) => b.id - a.id)
    return this.#paged(c, list, (w: WebhookRecord) => this.shop.renderWebhook(w))
  }

  #checkWebhookFields(b: Record<string, unknown>): void {
    if (b.topic !== undefined && (typeof b.topic !== 'string' || !(b.topic in TOPIC_HOOKS))) {
      throw new WcError(400, 'woocommerce_rest_shop_webhook_invalid_topic', 'Webhook topic is invalid.')
    }
    if (b.delivery_url !== undefined) {
      let ok = false
      try {
        const u = new URL(String(b.delivery_url))
        ok = u.protocol === 'http:' || u.protocol === 'https:'
      } catch {
        ok = false
      }
      if (!ok) throw new WcError(400, 'woocommerce_rest_shop_webhook_invalid_delivery_url', 'Webhook delivery URL must be a valid URL starting with http:// or https://.')
    }
    if (b.status !== undefined && !['active', 'paused', 'disabled'].includes(String(b.status))) {
      throw new WcError(400, 'rest_invalid_param', 'Invalid parameter(s): status', { params: { status: 'status is not one of active, paused and disabled.' } })
    }
  }

  async #createWebhook(c: Ctx): Promise<Reply> {
    const b = c.body
    const missing = ['topic', 'delivery_url'].filter((k) => b[k] === undefined)
    if (missing.length) throw new WcError(400, 'rest_missing_callback_param', `Missing parameter(s): ${missing.join(', ')}`, { params: missing })
    this.#checkWebhookFields(b)
    const w = this.shop.createWebhook(
      {
        topic: String(b.topic),
        deliveryUrl: String(b.delivery_url),
        ...(typeof b.name === 'string' ? { name: b.name } : {}),
        ...(typeof b.secret === 'string' && b.secret ? { secret: b.secret } : {}),
        ...(b.status ? { status: b.status as WebhookRecord['status'] } : {}),
      },
      () => randomBytes(38).toString('base64url').slice(0, 50),
    )
    await this.#ping(w) // synchronous; its outcome does not matter
    return { status: 201, body: this.shop.renderWebhook(w) }
  }

  #updateWebhook(c: Ctx): Reply {
    const w = this.#webhook(c.params[0]!)
    const b = c.body
    this.#checkWebhookFields(b)
    if (typeof b.name === 'string') w.name = b.name
    if (typeof b.topic === 'string') w.topic = b.topic
    if (typeof b.delivery_url === 'string') w.deliveryUrl = b.delivery_url
    if (typeof b.secret === 'string' && b.secret) w.secret = b.secret
    if (typeof b.status === 'string') {
      w.status = b.status as WebhookRecord['status']
      if (w.status === 'active') w.failureCount = 0
    }
    w.modifiedAt = Date.now()
    return { status: 200, body: this.shop.renderWebhook(w) }
  }

  #deleteWebhook(c: Ctx): Reply {
    const w = this.#webhook(c.params[0]!)
    if (c.query.get('force') !== 'true') throw new WcError(501, 'woocommerce_rest_trash_not_supported', 'Webhooks do not support trashing.')
    this.shop.webhooks.delete(w.id)
    return { status: 200, body: this.shop.renderWebhook(w) }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Test helper: the signature WooCommerce puts in X-WC-Webhook-Signature. */
export function wcWebhookSignature(secret: string, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64')
}
