/**
 * @module connectors/woocommerce/webhooks: receiving WooCommerce deliveries and working them off.
 *
 * Receiving is fast and careful: the signature (base64 HMAC-SHA256 of the raw body under the
 * secret the hub gave the store) is checked before the body is parsed; the unsigned
 * form-encoded ping is answered; a valid delivery is stored and answered 2xx at once (seven
 * failures in a row disable a webhook, and WooCommerce never retries). A queue processor then
 * applies each stored delivery: orders through ./orders.ts, product.updated as echo or drift.
 * The delivery id header is not unique, so nothing is deduplicated by it.
 */
import { waitForWork } from '../../sync/idle.js'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { DomainError, invalid } from '../../domain/errors.js'
import type { ServiceDeps } from '../../service/deps.js'
import * as repo from '../../store/woo-repo.js'
import type { StoredDelivery, WooStore } from '../../store/woo-repo.js'
import type { ClientPool } from './destination.js'
import { storeFigures } from './figures.js'
import { isOrderBody, processOrder } from './orders.js'

export const HANDLED_TOPICS = ['order.created', 'order.updated', 'product.updated'] as const

export function wcSignature(secret: string, raw: Uint8Array | string): string {
  return createHmac('sha256', secret).update(raw).digest('base64')
}

export function verifyWcSignature(secret: string, raw: Uint8Array, header: string | undefined | null): boolean {
  if (!header) return false
  const expected = Buffer.from(wcSignature(secret, raw))
  const given = Buffer.from(header.trim())
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export type ReceiveResult = { readonly kind: 'ping'; readonly webhookId: string } | { readonly kind: 'stored'; readonly id: number } | { readonly kind: 'ignored'; readonly reason: string }

/**
 * Verify and store one delivery. Throws DomainError for an unknown store (404), a missing or
 * wrong signature (401) and a body that is not a WooCommerce object (400/422); nothing is stored then.
 */
export async function receiveWebhook(deps: ServiceDeps, storeRef: string, headers: { get(name: string): string | undefined | null }, raw: Uint8Array): Promise<ReceiveResult> {
  const store = await repo.findStore(deps.store.db, storeRef)
  if (!store) throw new DomainError('store_not_found', `No WooCommerce store is called ${storeRef.slice(0, 60)}`, { store: storeRef.slice(0, 60) })
  const signature = headers.get('x-wc-webhook-signature')
  const contentType = headers.get('content-type') ?? ''
  // The ping sent while a webhook is created: form-encoded `webhook_id=N`, no signature, no X-WC headers.
  if (!signature && /^application\/x-www-form-urlencoded/i.test(contentType)) {
    const m = /^webhook_id=(\d{1,20})$/.exec(Buffer.from(raw).toString('utf8').trim())
    if (m) return { kind: 'ping', webhookId: m[1]! }
  }
  if (!store.webhookSecret) throw new DomainError('webhook_not_configured', `Store ${store.name} has no webhook secret yet; run \`stockbridge stores webhooks ${store.name} --callback-url URL\``)
  if (!verifyWcSignature(store.webhookSecret, raw, signature)) throw new DomainError('invalid_signature', 'X-WC-Webhook-Signature does not match the body under this store’s webhook secret')
  const topic = (headers.get('x-wc-webhook-topic') ?? '').trim()
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(raw).toString('utf8'))
  } catch {
    throw new DomainError('malformed_json', 'The webhook body is not valid JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Number.isSafeInteger((body as { id?: unknown }).id)) throw invalid('', 'must be a WooCommerce object with a numeric id')
  if (!(HANDLED_TOPICS as ReadonlyArray<string>).includes(topic)) return { kind: 'ignored', reason: `topic ${topic.slice(0, 60) || '(none)'} is not one the hub acts on` }
  if (topic.startsWith('order.') && !isOrderBody(body)) throw invalid('/line_items', 'an order needs an id, a status and line_items')
  const id = await repo.insertWebhookDelivery(
    deps.store.db,
    {
      storeId: store.id,
      topic,
      webhookId: headers.get('x-wc-webhook-id')?.slice(0, 20) ?? null,
      deliveryId: headers.get('x-wc-webhook-delivery-id')?.slice(0, 64) ?? null,
      resourceId: (body as { id: number }).id,
      body: Buffer.from(raw).toString('utf8'),
      notBefore: deps.clock.now(),
    },
    deps.clock.now(),
  )
  return { kind: 'stored', id }
}

export interface ProcessorOptions {
  /** A product.updated showing a figure that is neither ours nor the hub's waits this long (an order may explain it). */
  readonly driftGraceMs: number
  readonly leaseMs?: number
  readonly pollMs?: number
  readonly batchSize?: number
  readonly maxAttempts?: number
}

/** Works off stored deliveries: claims them under a lease, applies them, records the result. */
export class WebhookProcessor {
  readonly #deps: ServiceDeps
  readonly #pool: ClientPool
  readonly #o: Required<ProcessorOptions>
  readonly #abort = new AbortController()
  #loop: Promise<void> | null = null
  #wake: (() => void) | null = null
  #woken = false

  constructor(deps: ServiceDeps, pool: ClientPool, o: ProcessorOptions) {
    this.#deps = deps
    this.#pool = pool
    this.#o = { leaseMs: 60_000, pollMs: 1000, batchSize: 20, maxAttempts: 10, ...o }
  }

  /** Process what is due now; returns how many deliveries were handled. */
  async runOnce(): Promise<number> {
    const { store, clock } = this.#deps
    const claimed = await repo.claimWebhookDeliveries(store.db, store.caps, clock.now(), this.#o.leaseMs, this.#o.batchSize)
    // Deliveries of one order in arrival order; different orders and products need no order.
    for (const d of claimed) await this.#processOne(d)
    return claimed.length
  }

  /** Run until nothing is due (tests). */
  async drain(): Promise<number> {
    let total = 0
    for (;;) {
      const n = await this.runOnce()
      total += n
      if (n === 0) return total
    }
  }

  async #processOne(d: StoredDelivery): Promise<void> {
    const deps = this.#deps
    const db = deps.store.db
    try {
      const store = await repo.findStore(db, d.storeId)
      if (!store) return await repo.finishWebhookDelivery(db, d.id, 'ignored', 'store removed', deps.clock.now())
      if (store.mode === 'paused') return await repo.deferWebhookDelivery(db, d.id, deps.clock.now() + 60_000, 'store paused; kept for later')
      const body = JSON.parse(d.body) as unknown
      if (d.topic.startsWith('order.')) {
        if (!isOrderBody(body)) return await repo.finishWebhookDelivery(db, d.id, 'ignored', 'not an order body', deps.clock.now())
        const lines = await processOrder(deps, store, body)
        return await repo.finishWebhookDelivery(db, d.id, 'done', `order ${body.id} ${body.status}: ${lines.map((l) => `line ${l.lineId} ${l.action}`).join('; ')}`, deps.clock.now())
      }
      if (d.topic === 'product.updated') return await this.#productUpdated(store, d, body as ProductBody)
      return await repo.finishWebhookDelivery(db, d.id, 'ignored', `topic ${d.topic}`, deps.clock.now())
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e)
      if (d.attempts >= this.#o.maxAttempts) {
        deps.log.error({ err: e, delivery: d.id, store_id: d.storeId }, 'WooCommerce webhook delivery failed for good')
        await repo.finishWebhookDelivery(db, d.id, 'failed', msg, deps.clock.now())
      } else {
        await repo.deferWebhookDelivery(db, d.id, deps.clock.now() + Math.min(300_000, 500 * 2 ** d.attempts), `attempt ${d.attempts} failed: ${msg}`)
      }
    }
  }

  /**
   * product.updated: our own echo (the figure we pushed or are pushing) changes nothing; a figure
   * equal to the hub's is in sync. Anything else may be WooCommerce moving its own stock for an
   * order whose webhook is still on its way, so it waits out a grace period, then is compared
   * again with what the store shows now; what still differs is recorded as drift (and the next
   * change, or a reconciliation, pushes the hub's figure over it).
   */
  async #productUpdated(store: WooStore, d: StoredDelivery, body: ProductBody): Promise<void> {
    const deps = this.#deps
    const db = deps.store.db
    const now = deps.clock.now()
    const done = (status: 'done' | 'ignored', result: string) => repo.finishWebhookDelivery(db, d.id, status, result, now)
    const mapping = (await repo.findMappingByProductId(db, store.id, body.id)) ?? (body.sku ? (await repo.findMappings(db, store.id, [body.sku])).get(body.sku) : undefined)
    if (!mapping) return done('ignored', `product ${body.id} is not mapped to a hub SKU`)
    if (typeof body.stock_quantity !== 'number') return done('ignored', 'stock not managed by the store for this item')
    const q = body.stock_quantity
    if (q === mapping.lastPushed || q === mapping.pushing) return done('ignored', `echo of our push (${q})`)
    const hub = (await storeFigures(db, store, [mapping.sku])).get(mapping.sku)
    if (hub === undefined) return done('ignored', 'SKU unknown to the hub')
    if (q === hub) return done('ignored', `in sync (${q})`)
    if (now - d.receivedAt < this.#o.driftGraceMs) return repo.deferWebhookDelivery(db, d.id, d.receivedAt + this.#o.driftGraceMs, `store shows ${q}, hub ${hub}: waiting for a matching order`)
    if (mapping.pushedAt !== null && mapping.pushedAt > d.receivedAt) return done('ignored', 'superseded by a later push')
    const current = await this.#currentFigure(store, mapping)
    if (current === null) return done('ignored', 'item no longer in the store')
    if (current === hub || current === mapping.lastPushed || current === mapping.pushing) return done('ignored', `resolved (store now ${current})`)
    await repo.insertDrift(db, deps.store.caps, store.id, [{ sku: mapping.sku, storeFigure: current, hubFigure: hub, source: 'webhook', runId: null, detectedAt: now, repairedAt: null }])
    await repo.forgetPushed(db, store.id, [mapping.sku])
    deps.log.warn({ store: store.name, sku: mapping.sku, store_figure: current, hub_figure: hub }, 'WooCommerce store figure drifted from the hub')
    return done('done', `drift: store ${current}, hub ${hub}`)
  }

  async #currentFigure(store: WooStore, m: repo.Mapping): Promise<number | null> {
    const client = this.#pool.get(store)
    const path = m.parentId ? `/products/${m.parentId}/variations/${m.productId}` : `/products/${m.productId}`
    const res = await client.request<{ stock_quantity?: number | null }>('GET', path)
    if (res.status === 404 || res.status === 400) return null
    if (res.status !== 200) throw new Error(`reading ${path} answered ${res.status}`)
    return typeof res.body.stock_quantity === 'number' ? res.body.stock_quantity : null
  }

  wake(): void {
    this.#woken = true
    this.#wake?.()
  }

  start(): void {
    if (this.#loop) return
    this.#loop = (async () => {
      while (!this.#abort.signal.aborted) {
        let n = 0
        try {
          n = await this.runOnce()
        } catch (e) {
          this.#deps.log.warn({ err: e }, 'WooCommerce webhook processing round failed')
        }
        if (n > 0) continue
        if (this.#woken) {
          this.#woken = false
          continue
        }
        await waitForWork(this.#o.pollMs, this.#abort.signal, (wake) => (this.#wake = wake))
        this.#wake = null
        this.#woken = false
      }
    })()
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    this.#wake?.()
    await this.#loop
  }
}

interface ProductBody {
  readonly id: number
  readonly sku?: string
  readonly stock_quantity?: number | null
}
