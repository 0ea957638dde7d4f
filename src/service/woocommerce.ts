/**
 * @module service/woocommerce: the WooCommerce connector's use-cases (mapping, full sync, webhook
 * registration, reconciliation, receiving deliveries) and its running parts (client pool, the
 * queue processor of received webhooks, the reconciliation schedule).
 */
import { DomainError } from '../domain/errors.js'
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageOf, type Page } from './paging.js'
import { WooHttpError, WooTransportError } from '../connectors/woocommerce/client.js'
import { ClientPool, syncSkus, wooResolver } from '../connectors/woocommerce/destination.js'
import { OutageWatch } from '../connectors/woocommerce/outage.js'
import { mapByScan, mapSkus, type MappingReport } from '../connectors/woocommerce/mapping.js'
import { importCatalog, type CatalogImportReport } from '../connectors/woocommerce/catalog-import.js'
import { isOurWebhook, reconcileStore, type WebhookInfo } from '../connectors/woocommerce/reconcile.js'
import { HANDLED_TOPICS, receiveWebhook, WebhookProcessor, type ReceiveResult } from '../connectors/woocommerce/webhooks.js'
import type { DestinationResolver } from '../sync/destination.js'
import * as repo from '../store/woo-repo.js'
import type { ReconcileRun, WooStore } from '../store/woo-repo.js'
import type { ServiceDeps } from './deps.js'
import { getStore, setWebhookSecret } from './stores.js'

export interface WooSettings {
  /** Per request to a store. */
  readonly requestTimeoutMs: number
  /** How long a surprising product.updated waits for the order that may explain it. */
  readonly driftGraceMs: number
  /** Scheduled reconciliation of every live store (0: off). */
  readonly reconcileMinutes: number
  /** The batch window's floor: a small batch waits this long for more while other requests are in flight (#17). */
  readonly storeLingerMs: number
  /** The batch window's bound under load: no change waits longer for a fuller batch (#17). */
  readonly storeMaxWindowMs: number
  /** How often a store that cannot be reached is probed (#12.15). */
  readonly probeMs: number
}

export const DEFAULT_WOO_SETTINGS: WooSettings = Object.freeze({ requestTimeoutMs: 30_000, driftGraceMs: 15_000, reconcileMinutes: 60, storeLingerMs: 40, storeMaxWindowMs: 40, probeMs: 2000 })

/** A store's refusal or silence, as the service's error. */
function storeFailure(store: WooStore, e: unknown): never {
  if (e instanceof WooHttpError) throw new DomainError('store_request_failed', `${store.name} answered ${e.message}`, { store: store.name, status: e.status, woo_code: e.code }, { cause: e })
  if (e instanceof WooTransportError) throw new DomainError('store_request_failed', `${store.name} could not be reached: ${e.message}`, { store: store.name, status: null }, { cause: e })
  throw e
}

/** The connector's running parts, one per process. */
export class WooConnector {
  readonly pool: ClientPool
  readonly processor: WebhookProcessor
  readonly outage: OutageWatch
  readonly settings: WooSettings
  readonly #deps: ServiceDeps
  #timer: NodeJS.Timeout | null = null
  #reconciling: Promise<unknown> = Promise.resolve()

  constructor(deps: ServiceDeps, settings: Partial<WooSettings> = {}) {
    this.#deps = deps
    this.settings = { ...DEFAULT_WOO_SETTINGS, ...settings }
    this.pool = new ClientPool(this.settings.requestTimeoutMs)
    this.outage = new OutageWatch(deps, (s) => this.pool.get(s), { probeMs: this.settings.probeMs })
    this.processor = new WebhookProcessor(deps, this.pool, { driftGraceMs: this.settings.driftGraceMs })
  }

  /** Store targets to their stores, the rest to `fallback`. */
  resolver(fallback: DestinationResolver): DestinationResolver {
    const { storeLingerMs, storeMaxWindowMs } = this.settings
    return wooResolver(this.#deps, this.pool, fallback, { lingerMs: storeLingerMs, maxWindowMs: Math.max(storeLingerMs, storeMaxWindowMs) }, this.outage)
  }

  start(): void {
    this.processor.start()
    if (this.settings.reconcileMinutes > 0) {
      this.#timer = setInterval(() => {
        this.#reconciling = this.reconcileAll().catch((e: unknown) => this.#deps.log.warn({ err: e }, 'scheduled reconciliation failed'))
      }, this.settings.reconcileMinutes * 60_000)
      this.#timer.unref()
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.outage.stop()
    await this.processor.stop()
    await this.#reconciling
    this.pool.closeAll()
  }

  /** Reconcile (and repair) every live store; observe-mode stores get a dry run. */
  async reconcileAll(): Promise<ReconcileRun[]> {
    const out: ReconcileRun[] = []
    for (const s of await repo.listStores(this.#deps.store.db)) {
      if (s.mode === 'paused') continue
      out.push(await reconcileStore(this.#deps, s, this.pool.get(s), { dryRun: s.mode !== 'live' }))
    }
    return out
  }

  async receive(storeRef: string, headers: { get(name: string): string | undefined | null }, raw: Uint8Array): Promise<ReceiveResult> {
    const r = await receiveWebhook(this.#deps, storeRef, headers, raw)
    if (r.kind === 'stored') this.processor.wake()
    return r
  }

  async map(ref: string, o: { scan?: boolean; skus?: string[]; onProgress?: (done: number, total: number) => void } = {}): Promise<MappingReport> {
    const store = await getStore(this.#deps, ref)
    try {
      return o.scan ? await mapByScan(this.#deps, store, this.pool.get(store)) : await mapSkus(this.#deps, store, this.pool.get(store), o.skus, o.onProgress)
    } catch (e) {
      return storeFailure(store, e)
    }
  }

  /** Push every mapped SKU's figure (mapping first when nothing is mapped yet). */
  async sync(ref: string, o: { onProgress?: (done: number, total: number) => void; force?: boolean } = {}): Promise<{ skus: number; pushed: number; unchanged: number; failed: Array<{ sku: string; reason: string }>; requests: number }> {
    const store = await getStore(this.#deps, ref)
    const db = this.#deps.store.db
    const client = this.pool.get(store)
    try {
      if ((await repo.countMappings(db, store.id)) === 0) await mapSkus(this.#deps, store, client)
      const skus: string[] = []
      for (let after: string | null = null; ; ) {
        const page = await repo.listMappings(db, store.id, after, 1000)
        skus.push(...page.map((m) => m.sku))
        if (page.length < 1000) break
        after = page[page.length - 1]!.sku
      }
      const { results, requests } = await syncSkus(this.#deps, store, client, skus, { force: o.force ?? true, ...(o.onProgress ? { onBatch: o.onProgress } : {}) })
      const failed: Array<{ sku: string; reason: string }> = []
      let pushed = 0
      let unchanged = 0
      for (const [sku, r] of results) {
        if (r.kind === 'ok') pushed++
        else if (r.kind === 'skipped') unchanged++
        else failed.push({ sku, reason: r.reason })
      }
      return { skus: skus.length, pushed, unchanged, failed, requests }
    } catch (e) {
      return storeFailure(store, e)
    }
  }

  /**
   * Create (or find, re-enable and re-key) order.created, order.updated and product.updated
   * webhooks on the store, delivering to `callbackUrl` and signed with a secret the hub keeps.
   */
  async registerWebhooks(ref: string, callbackUrl: string): Promise<{ callbackUrl: string; webhooks: Array<{ id: number; topic: string; action: 'created' | 'updated' }> }> {
    let store = await getStore(this.#deps, ref)
    const url = webhookUrlFor(store, callbackUrl)
    store = await setWebhookSecret(this.#deps, store, url)
    const client = this.pool.get(store)
    const out: Array<{ id: number; topic: string; action: 'created' | 'updated' }> = []
    try {
      const existing = await client.getAll<WebhookInfo>('/webhooks', { status: 'all' })
      for (const topic of HANDLED_TOPICS) {
        const found = existing.find((w) => w.topic === topic && (w.delivery_url === url || isOurWebhook(store, w)))
        const body = { name: `stockbridge ${topic}`, topic, delivery_url: url, secret: store.webhookSecret, status: 'active' }
        const res = found ? await client.request<WebhookInfo>('PUT', `/webhooks/${found.id}`, { body }) : await client.request<WebhookInfo>('POST', '/webhooks', { body })
        if (res.status !== 200 && res.status !== 201) throw new WooHttpError(res)
        out.push({ id: res.body.id, topic, action: found ? 'updated' : 'created' })
      }
    } catch (e) {
      return storeFailure(store, e)
    }
    return { callbackUrl: url, webhooks: out }
  }

  /** Register the store's products and variations as hub SKUs (#14); dry run: report only. */
  async importProducts(ref: string, o: { dryRun: boolean; onProgress?: (done: number, total: number) => void }): Promise<CatalogImportReport> {
    const store = await getStore(this.#deps, ref)
    try {
      return await importCatalog(this.#deps, store, this.pool.get(store), o)
    } catch (e) {
      return storeFailure(store, e)
    }
  }

  async reconcile(ref: string, o: { dryRun: boolean; onProgress?: (done: number, total: number) => void }): Promise<ReconcileRun> {
    const store = await getStore(this.#deps, ref)
    return reconcileStore(this.#deps, store, this.pool.get(store), o)
  }
}

/** A full callback URL is kept as given; a bare origin gets this store's webhook path appended. */
export function webhookUrlFor(store: WooStore, callbackUrl: string): string {
  let u: URL
  try {
    u = new URL(callbackUrl)
  } catch {
    throw new DomainError('validation_failed', 'The callback URL must be absolute, e.g. https://hub.example', { errors: [{ pointer: '/callback_url', message: 'must be an absolute http(s) URL' }] })
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DomainError('validation_failed', 'The callback URL must use http or https', { errors: [{ pointer: '/callback_url', message: 'must use http or https' }] })
  if (u.pathname.includes('/woocommerce/')) return u.toString()
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/inventory/v1/woocommerce/${store.id}/webhook`
  return u.toString()
}

// Every store list is cursor-paged (#12): `limit` (default DEFAULT_PAGE_LIMIT) and the cursor of the page before.
export interface ListPaging {
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
}

/** Reconciliation runs, newest first. */
export async function listRuns(deps: ServiceDeps, ref: string, p: ListPaging = {}): Promise<Page<ReconcileRun>> {
  const storeId = (await getStore(deps, ref)).id
  const key = p.cursor === undefined ? undefined : decodeCursor(p.cursor, ['number', 'string'])
  const before = key ? { startedAt: key[0] as number, id: key[1] as string } : undefined
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listRuns(deps.store.db, storeId, take, before), (r) => [r.startedAt, r.id])
}

/** Drift found, newest first. */
export async function listDrift(deps: ServiceDeps, ref: string, o: ListPaging & { runId?: string | undefined } = {}): Promise<Page<repo.DriftRow>> {
  const storeId = (await getStore(deps, ref)).id
  const beforeId = o.cursor === undefined ? undefined : (decodeCursor(o.cursor, ['number'])[0] as number)
  return pageOf(o.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listDrift(deps.store.db, storeId, { runId: o.runId, beforeId, limit: take }), (d) => [d.id])
}

/** Mapping problems by SKU. */
export async function listProblems(deps: ServiceDeps, ref: string, p: ListPaging = {}): Promise<Page<repo.MappingProblem>> {
  const storeId = (await getStore(deps, ref)).id
  const afterSku = p.cursor === undefined ? undefined : (decodeCursor(p.cursor, ['string'])[0] as string)
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listProblems(deps.store.db, storeId, take, afterSku), (m) => [m.sku])
}

/** Webhook deliveries received from the store, newest first. */
export async function listReceived(deps: ServiceDeps, ref: string, p: ListPaging = {}): Promise<Page<repo.StoredDelivery>> {
  const storeId = (await getStore(deps, ref)).id
  const beforeId = p.cursor === undefined ? undefined : (decodeCursor(p.cursor, ['number'])[0] as number)
  return pageOf(p.limit ?? DEFAULT_PAGE_LIMIT, (take) => repo.listWebhookDeliveries(deps.store.db, storeId, take, beforeId), (d) => [d.id])
}
