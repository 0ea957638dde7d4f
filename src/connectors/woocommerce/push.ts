/**
 * @module connectors/woocommerce/push: absolute stock figures into a store's batch endpoints.
 *
 * Simple products go to `POST /products/batch`, variations to their parent's
 * `POST /products/{parent}/variations/batch`; at most 100 items a request (the store refuses more
 * with 413 and applies nothing), at most `concurrency` requests at once. A batch answers 200 with
 * one element per item, in order: the object, or `{id, error}`. Each item's outcome is read from
 * there; a whole-request failure applies to every item in it.
 */
import { classifyResponse, parseRetryAfter } from '../../sync/classify.js'
import { WooTransportError, type WooClient, type WooErrorBody } from './client.js'

export const BATCH_LIMIT = 100
/** Smallest share worth a request of its own when a small round is spread over parallel requests. */
export const MIN_SPLIT = 4

export interface PushItem {
  readonly sku: string
  readonly productId: number
  readonly parentId: number | null
  readonly figure: number
}

export type PushResult =
  | { readonly kind: 'ok' }
  /** The store no longer knows this id (or it moved): look the SKU up again. */
  | { readonly kind: 'invalid_id'; readonly reason: string }
  /** The store refused this item for good (dead letter with the reason). */
  | { readonly kind: 'item_error'; readonly reason: string; readonly status: number | null }
  /** Try again later (413, 429, 5xx, timeouts, network). */
  | { readonly kind: 'retry'; readonly status: number | null; readonly reason: string; readonly retryAfterMs: number }
  /** 401/403: the store refuses our credentials; it is unhealthy until a request succeeds. */
  | { readonly kind: 'auth'; readonly status: number; readonly reason: string }

/** Item error codes meaning "no such product or variation at this address". */
const INVALID_ID_CODES = new Set(['woocommerce_rest_product_invalid_id', 'woocommerce_rest_invalid_product_id', 'woocommerce_rest_product_variation_invalid_id'])

export interface Batch {
  readonly path: string
  readonly items: ReadonlyArray<PushItem>
}

/**
 * Pack items into batch requests: grouped by URL, at most 100 each. When a round has fewer items
 * than `concurrency` full batches, it is spread over up to `concurrency` requests (each at least
 * MIN_SPLIT items) so a small round finishes sooner; a backlog still goes out in full batches.
 */
export function packBatches(items: ReadonlyArray<PushItem>, concurrency: number): Batch[] {
  const groups = new Map<string, PushItem[]>()
  for (const it of items) {
    const path = it.parentId === null ? '/products/batch' : `/products/${it.parentId}/variations/batch`
    groups.set(path, [...(groups.get(path) ?? []), it])
  }
  const target = Math.max(1, Math.min(BATCH_LIMIT, Math.max(MIN_SPLIT, Math.ceil(items.length / Math.max(1, concurrency)))))
  const out: Batch[] = []
  for (const [path, list] of groups) {
    const n = Math.ceil(list.length / target)
    const size = Math.ceil(list.length / n)
    for (let i = 0; i < list.length; i += size) out.push({ path, items: list.slice(i, i + size) })
  }
  return out
}

function isErrorItem(x: unknown): x is { id: unknown; error: WooErrorBody } {
  return typeof x === 'object' && x !== null && 'error' in x && typeof (x as { error: unknown }).error === 'object'
}

async function sendBatch(client: WooClient, b: Batch, signal?: AbortSignal): Promise<PushResult[]> {
  const body = { update: b.items.map((i) => ({ id: i.productId, manage_stock: true, stock_quantity: i.figure })) }
  for (const i of b.items) if (!Number.isSafeInteger(i.figure)) throw new Error(`Refusing to push a non-integer figure for ${i.sku}`)
  let res
  try {
    res = await client.request<{ update?: unknown[] }>('POST', b.path, { body, ...(signal ? { signal } : {}) })
  } catch (e) {
    const reason = e instanceof WooTransportError && e.timedOut ? 'timed out' : e instanceof Error ? e.message : String(e)
    return b.items.map(() => ({ kind: 'retry', status: null, reason, retryAfterMs: 0 }))
  }
  const wcCode = (res.body as Partial<WooErrorBody> | null)?.code
  const describe = `HTTP ${res.status}${typeof wcCode === 'string' ? ` ${wcCode}` : ''}`
  if (res.status === 401 || res.status === 403) return b.items.map(() => ({ kind: 'auth', status: res.status, reason: describe }))
  if (res.status === 413) return b.items.map(() => ({ kind: 'retry', status: 413, reason: describe, retryAfterMs: parseRetryAfter(headerOf(res.headers['retry-after']), Date.now()) }))
  if (res.status !== 200) {
    const c = classifyResponse(res.status, headerOf(res.headers['retry-after']), Date.now())
    if (c.kind === 'retry') return b.items.map(() => ({ kind: 'retry', status: res.status, reason: describe, retryAfterMs: c.retryAfterMs }))
    return b.items.map(() => ({ kind: 'item_error', status: res.status, reason: describe }))
  }
  const answers = Array.isArray(res.body?.update) ? res.body.update : []
  return b.items.map((item, i): PushResult => {
    const a = answers[i]
    if (a === undefined) return { kind: 'retry', status: 200, reason: 'the store answered without this item', retryAfterMs: 0 }
    if (isErrorItem(a)) {
      const reason = `${a.error.code}: ${a.error.message}`
      if (INVALID_ID_CODES.has(a.error.code)) return { kind: 'invalid_id', reason }
      return { kind: 'item_error', status: typeof a.error.data?.status === 'number' ? a.error.data.status : null, reason }
    }
    const stored = (a as { stock_quantity?: unknown }).stock_quantity
    if (stored !== item.figure) return { kind: 'item_error', status: 200, reason: `the store kept ${JSON.stringify(stored)} instead of ${item.figure}` }
    return { kind: 'ok' }
  })
}

function headerOf(v: string | string[] | undefined): string | null {
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null)
}

export interface PushStats {
  requests: number
}

export interface PushOptions {
  /** Requests at once. */
  readonly concurrency: number
  /**
   * Requests a small set of items may be spread over (default `concurrency`). The delivery worker
   * passes 1: it runs a store's parallel requests itself, one call per request.
   */
  readonly spreadOver?: number
  readonly signal?: AbortSignal | undefined
  readonly stats?: PushStats | undefined
  readonly onBatch?: ((done: number, total: number) => void) | undefined
}

/** Push every item, at most `concurrency` requests at once; one result per SKU. */
export async function pushItems(client: WooClient, items: ReadonlyArray<PushItem>, o: PushOptions): Promise<Map<string, PushResult>> {
  const { concurrency, signal, stats, onBatch } = o
  const out = new Map<string, PushResult>()
  const batches = packBatches(items, o.spreadOver ?? concurrency)
  let next = 0
  let done = 0
  const lanes = Array.from({ length: Math.min(Math.max(1, concurrency), batches.length) }, async () => {
    while (next < batches.length) {
      const b = batches[next++]!
      if (stats) stats.requests++
      let results: PushResult[]
      try {
        results = await sendBatch(client, b, signal)
      } catch (e) {
        results = b.items.map(() => ({ kind: 'item_error', status: null, reason: e instanceof Error ? e.message : String(e) }))
      }
      b.items.forEach((it, i) => out.set(it.sku, results[i]!))
      onBatch?.(++done, batches.length)
    }
  })
  await Promise.all(lanes)
  return out
}
