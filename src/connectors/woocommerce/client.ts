/**
 * @module connectors/woocommerce/client: the wc/v3 REST client.
 *
 * Authentication follows the base URL's scheme, as WooCommerce requires: HTTP Basic over https
 * (with an optional CA file for self-signed certificates), OAuth 1.0a one-legged over plain http
 * (HMAC-SHA256, a fresh nonce and timestamp on every request, including each page reached through
 * a `Link` header, whose URL repeats the previous request's oauth_* parameters).
 * Built on node:http/https: keep-alive sockets bounded per store, and a timeout per request.
 */
import { createHmac, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import tls from 'node:tls'

export interface WooClientOptions {
  /** The site URL (`https://shop.example`), without `/wp-json`. */
  readonly baseUrl: string
  readonly consumerKey: string
  readonly consumerSecret: string
  /** PEM file of a CA to trust besides the system ones (self-signed shops). */
  readonly caFile?: string | null
  readonly timeoutMs?: number
  /** Sockets kept per store: the store's concurrency bound. */
  readonly maxSockets?: number
}

export interface WooResponse<T = unknown> {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: T
  /** The raw text (for error reports). */
  readonly text: string
}

/** A WooCommerce error envelope `{code, message, data: {status}}`. */
export interface WooErrorBody {
  readonly code: string
  readonly message: string
  readonly data?: { readonly status?: number } & Record<string, unknown>
}

export class WooTransportError extends Error {
  readonly timedOut: boolean
  constructor(message: string, timedOut: boolean, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'WooTransportError'
    this.timedOut = timedOut
  }
}

/** RFC 3986 percent-encoding (what OAuth 1.0a signs). */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * The OAuth 1.0a signature WooCommerce checks: base string
 * `METHOD & enc(url without query) & enc(sorted enc(k)=enc(v) joined by &)`, key `secret&`.
 */
export function oauthSignature(method: string, urlWithoutQuery: string, params: ReadonlyArray<readonly [string, string]>, consumerSecret: string, algo: 'sha256' | 'sha1' = 'sha256'): string {
  const encoded = params.map(([k, v]) => [rfc3986(k), rfc3986(v)] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
  const base = `${method.toUpperCase()}&${rfc3986(urlWithoutQuery)}&${rfc3986(encoded.map(([k, v]) => `${k}=${v}`).join('&'))}`
  return createHmac(algo, `${consumerSecret}&`).update(base).digest('base64')
}

export class WooClient {
  readonly #o: WooClientOptions
  readonly #base: URL
  readonly #agent: http.Agent
  readonly #secure: boolean

  constructor(o: WooClientOptions) {
    this.#o = o
    this.#base = new URL(o.baseUrl.replace(/\/+$/, ''))
    this.#secure = this.#base.protocol === 'https:'
    const agentOptions = { keepAlive: true, maxSockets: o.maxSockets ?? 4, keepAliveMsecs: 1000 }
    this.#agent = this.#secure ? new https.Agent({ ...agentOptions, ...(o.caFile ? { ca: [...tlsRootCertificates(), fs.readFileSync(o.caFile)] } : {}) }) : new http.Agent(agentOptions)
  }

  /** The https scheme (Basic auth) or http (OAuth 1.0a). */
  get authKind(): 'basic' | 'oauth1' {
    return this.#secure ? 'basic' : 'oauth1'
  }

  close(): void {
    this.#agent.destroy()
  }

  /** Absolute URL of an API path such as `/products/batch`. */
  apiUrl(path: string): URL {
    const u = new URL(this.#base.toString())
    u.pathname = `${this.#base.pathname.replace(/\/$/, '')}/wp-json/wc/v3${path}`
    return u
  }

  /**
   * One request. `query` values are strings; an absolute `url` (from a Link header) may be given
   * instead of a path, its oauth_* parameters are dropped and signed afresh.
   */
  async request<T = unknown>(method: string, pathOrUrl: string | URL, o: { query?: Record<string, string>; body?: unknown; signal?: AbortSignal } = {}): Promise<WooResponse<T>> {
    const url = typeof pathOrUrl === 'string' ? this.apiUrl(pathOrUrl) : new URL(pathOrUrl.toString())
    for (const k of [...url.searchParams.keys()]) if (k.startsWith('oauth_') || k === 'consumer_key' || k === 'consumer_secret') url.searchParams.delete(k)
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v)
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'stockbridge-woocommerce/1' }
    if (this.#secure) {
      headers.authorization = `Basic ${Buffer.from(`${this.#o.consumerKey}:${this.#o.consumerSecret}`).toString('base64')}`
    } else {
      const oauth: Array<[string, string]> = [
        ['oauth_consumer_key', this.#o.consumerKey],
        ['oauth_nonce', randomBytes(16).toString('hex')],
        ['oauth_signature_method', 'HMAC-SHA256'],
        ['oauth_timestamp', String(Math.floor(Date.now() / 1000))],
      ]
      const params: Array<[string, string]> = [...url.searchParams.entries(), ...oauth]
      const bare = `${url.protocol}//${url.host}${url.pathname}`
      const signature = oauthSignature(method, bare, params, this.#o.consumerSecret)
      for (const [k, v] of oauth) url.searchParams.set(k, v)
      url.searchParams.set('oauth_signature', signature)
    }
    let payload: string | undefined
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body)
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(payload))
    }
    const timeoutMs = this.#o.timeoutMs ?? 30_000
    const mod = this.#secure ? https : http
    return new Promise<WooResponse<T>>((resolve, reject) => {
      let settled = false
      const fail = (e: Error) => {
        if (settled) return
        settled = true
        reject(e)
      }
      const req = mod.request(url, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', (e) => fail(new WooTransportError(e.message, false, { cause: e })))
        res.on('end', () => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          const text = Buffer.concat(chunks).toString('utf8')
          let body: unknown = text
          try {
            body = text.length ? JSON.parse(text) : null
          } catch {
            body = text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T, text })
        })
      })
      const timer = setTimeout(() => {
        req.destroy()
        fail(new WooTransportError(`timed out after ${timeoutMs} ms`, true))
      }, timeoutMs)
      const onAbort = () => {
        req.destroy()
        fail(new WooTransportError('aborted', false))
      }
      // A signal of its own that follows the caller's: the caller's signal (one per delivery, or a
      // whole sync's) gets no listener per request, however many wait for a socket at once, so
      // requests queued behind the store's bounded sockets cannot pile listeners up on it.
      const signal = o.signal ? AbortSignal.any([o.signal]) : undefined
      if (signal?.aborted) onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      req.on('error', (e) => {
        clearTimeout(timer)
        fail(new WooTransportError(e.message, false, { cause: e }))
      })
      req.on('close', () => signal?.removeEventListener('abort', onAbort))
      req.end(payload)
    })
  }

  /** Every page of a collection, following `Link: <…>; rel="next"` (re-signed each time). */
  async getAll<T = unknown>(path: string, query: Record<string, string>, onPage?: (page: number, totalPages: number) => void): Promise<T[]> {
    const out: T[] = []
    let res = await this.request<T[]>('GET', path, { query: { per_page: '100', ...query } })
    for (let page = 1; ; page++) {
      if (res.status !== 200) throw new WooHttpError(res)
      out.push(...(Array.isArray(res.body) ? res.body : []))
      const totalPages = Number(res.headers['x-wp-totalpages'] ?? 1)
      onPage?.(page, totalPages)
      const next = nextLink(res.headers.link)
      if (!next) return out
      res = await this.request<T[]>('GET', new URL(next))
    }
  }
}

/** A non-2xx answer turned into an error (for the paths that do not classify statuses themselves). */
export class WooHttpError extends Error {
  readonly status: number
  readonly code: string | null
  readonly retryAfter: string | null
  constructor(res: WooResponse) {
    const b = res.body as Partial<WooErrorBody> | null
    super(`WooCommerce answered ${res.status}${b && typeof b === 'object' && b.code ? ` ${b.code}: ${b.message ?? ''}` : ''}`)
    this.name = 'WooHttpError'
    this.status = res.status
    this.code = b && typeof b === 'object' && typeof b.code === 'string' ? b.code : null
    const ra = res.headers['retry-after']
    this.retryAfter = typeof ra === 'string' ? ra : null
  }
}

export function nextLink(link: string | string[] | undefined): string | null {
  const v = Array.isArray(link) ? link.join(', ') : link
  if (!v) return null
  for (const part of v.split(/,(?=\s*<)/)) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part)
    if (m) return m[1]!
  }
  return null
}

function tlsRootCertificates(): string[] {
  // Trust the system roots as well as the extra CA.
  return [...tls.rootCertificates]
}
