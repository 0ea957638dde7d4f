/**
 * @module connectors/pulls/fetch: read every page of a warehouse API's stock listing.
 * Auth (bearer, basic, a named header), pagination (next link, page number, cursor), a timeout per
 * request covering the body, a bound on each body, and a few quick retries of a page that fails
 * for a reason worth retrying (network, timeout, 408/425/429/5xx), so one hiccup does not fail
 * the whole pull; the scheduler backs off failed pulls on top of that.
 */
import type { PullSource } from '../../store/pull-repo.js'

export const MAX_PAGES = 1000
export const MAX_PAGE_BYTES = 16 * 1024 * 1024
const PAGE_ATTEMPTS = 3

export class PullFetchError extends Error {
  readonly url: string
  readonly status: number | null
  constructor(message: string, url: string, status: number | null, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PullFetchError'
    this.url = url
    this.status = status
  }
}

export interface FetchedPage {
  readonly url: string
  readonly body: unknown
  /** The response's Date header, when it has a usable one. */
  readonly date: number | null
}

export interface FetchOptions {
  /** Waits between retries of one page (ms); tests shorten them. */
  readonly retryDelaysMs?: ReadonlyArray<number>
  readonly signal?: AbortSignal
}

/** Redacted for logs and run reports: never the query string (it may carry a token). */
export function describeUrl(u: string): string {
  try {
    const x = new URL(u)
    return `${x.origin}${x.pathname}`
  } catch {
    return '(invalid URL)'
  }
}

function authHeaders(s: PullSource): Record<string, string> {
  switch (s.authKind) {
    case 'bearer':
      return { authorization: `Bearer ${s.authSecret ?? ''}` }
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`${s.authName ?? ''}:${s.authSecret ?? ''}`).toString('base64')}` }
    case 'header':
      return { [s.authName ?? 'x-api-key']: s.authSecret ?? '' }
    default:
      return {}
  }
}

/** A dotted path (`links.next`, `meta.cursor`) into a JSON body. */
export function fieldAt(body: unknown, path: string): unknown {
  let cur: unknown = body
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function nextFromLink(link: string | null): string | null {
  if (!link) return null
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part)
    if (m) return m[1]!
  }
  return null
}

const retryable = (status: number) => status === 408 || status === 425 || status === 429 || status >= 500

async function readBounded(res: Response, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > MAX_PAGE_BYTES) throw new PullFetchError(`the page is ${declared} bytes; at most ${MAX_PAGE_BYTES} are read`, url, res.status)
  if (!res.body) return ''
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > MAX_PAGE_BYTES) throw new PullFetchError(`the page is larger than ${MAX_PAGE_BYTES} bytes`, url, res.status)
    chunks.push(Buffer.from(chunk))
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function fetchOnce(s: PullSource, url: string, signal?: AbortSignal): Promise<{ page: FetchedPage; link: string | null }> {
  const timeout = AbortSignal.timeout(s.timeoutMs)
  const both = signal ? AbortSignal.any([timeout, signal]) : timeout
  let res: Response
  try {
    res = await fetch(url, { headers: { accept: 'application/json', 'user-agent': 'stockbridge-pull/1', ...authHeaders(s) }, signal: both, redirect: 'follow' })
  } catch (e) {
    if (timeout.aborted) throw new PullFetchError(`no answer within ${s.timeoutMs} ms`, url, null, { cause: e })
    throw new PullFetchError(`could not connect: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`, url, null, { cause: e })
  }
  let text: string
  try {
    text = await readBounded(res, url)
  } catch (e) {
    if (e instanceof PullFetchError) throw e
    if (timeout.aborted) throw new PullFetchError(`the body did not arrive within ${s.timeoutMs} ms`, url, res.status, { cause: e })
    throw new PullFetchError(`reading the body failed: ${(e as Error).message}`, url, res.status, { cause: e })
  }
  if (res.status < 200 || res.status > 299) throw new PullFetchError(`answered ${res.status}${text ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}`, url, res.status)
  let body: unknown
  try {
    body = text === '' ? null : JSON.parse(text)
  } catch (e) {
    throw new PullFetchError(`answered ${res.status} with a body that is not JSON`, url, res.status, { cause: e })
  }
  const date = Date.parse(res.headers.get('date') ?? '')
  return { page: { url, body, date: Number.isFinite(date) ? date : null }, link: res.headers.get('link') }
}

async function fetchWithRetries(s: PullSource, url: string, o: FetchOptions): Promise<{ page: FetchedPage; link: string | null; retries: number }> {
  const delays = o.retryDelaysMs ?? [500, 2000]
  for (let attempt = 1; ; attempt++) {
    try {
      return { ...(await fetchOnce(s, url, o.signal)), retries: attempt - 1 }
    } catch (e) {
      const worthRetrying = e instanceof PullFetchError && (e.status === null || retryable(e.status))
      if (!worthRetrying || attempt >= PAGE_ATTEMPTS || o.signal?.aborted) throw e
      await new Promise((r) => setTimeout(r, delays[Math.min(attempt - 1, delays.length - 1)] ?? 500))
    }
  }
}

function withParams(base: string, params: Record<string, string>): string {
  const u = new URL(base)
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
  return u.toString()
}

/**
 * Fetch the pages one after the other, handing each to `onPage`, which answers how many items the
 * page mapped to (page-number pagination stops at an empty or short page). Returns pages read and
 * retries spent.
 */
export async function fetchPages(s: PullSource, onPage: (page: FetchedPage) => Promise<number>, o: FetchOptions = {}): Promise<{ pages: number; retries: number }> {
  const p = s.pagination
  let url = p.type === 'page' ? withParams(s.url, { [p.param]: String(p.start), ...(p.sizeParam && p.size ? { [p.sizeParam]: String(p.size) } : {}) }) : s.url
  let pageNo = p.type === 'page' ? p.start : 0
  let pages = 0
  let retries = 0
  const seen = new Set<string>()
  for (;;) {
    if (pages >= MAX_PAGES) throw new PullFetchError(`more than ${MAX_PAGES} pages; stopping`, url, null)
    seen.add(url)
    const r = await fetchWithRetries(s, url, o)
    pages++
    retries += r.retries
    const items = await onPage(r.page)
    let next: string | null = null
    if (p.type === 'next_link') {
      const raw = p.field ? fieldAt(r.page.body, p.field) : nextFromLink(r.link)
      next = typeof raw === 'string' && raw !== '' ? new URL(raw, url).toString() : null
    } else if (p.type === 'page') {
      if (items > 0 && !(p.size && items < p.size)) {
        pageNo++
        next = withParams(s.url, { [p.param]: String(pageNo), ...(p.sizeParam && p.size ? { [p.sizeParam]: String(p.size) } : {}) })
      }
    } else if (p.type === 'cursor') {
      const c = fieldAt(r.page.body, p.field)
      if ((typeof c === 'string' && c !== '') || typeof c === 'number') next = withParams(s.url, { [p.param]: String(c) })
    }
    if (next === null) return { pages, retries }
    // A server that links back to a page already read would loop for ever.
    if (seen.has(next)) throw new PullFetchError('the next page is one already read (a pagination loop)', next, null)
    const a = new URL(next)
    const b = new URL(s.url)
    if (a.origin !== b.origin) throw new PullFetchError(`the next link leaves ${b.origin}; credentials are not sent elsewhere`, next, null)
    url = next
  }
}
