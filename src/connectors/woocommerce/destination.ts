/**
 * @module connectors/woocommerce/destination: a store as a delivery target of the engine.
 *
 * The engine hands over the due `stock.changed` events of one store (coalesced per SKU by the
 * delivery slots). The figure pushed is recomputed from current levels at delivery time, so it
 * is absolute and idempotent: a retry or a late round sends today's truth, never an old delta.
 * SKUs not yet mapped are looked up first; a figure the store already shows (what we last pushed)
 * is not sent again.
 */
import type { OutboxEvent } from '../../domain/events.js'
import type { ServiceDeps } from '../../service/deps.js'
import { raiseOperationalAlert, resolveOperationalAlert } from '../../service/alerts.js'
import type { DeliveryOutcome } from '../../sync/classify.js'
import type { Destination, DestinationResolver } from '../../sync/destination.js'
import * as repo from '../../store/woo-repo.js'
import type { WooStore } from '../../store/woo-repo.js'
import { WooClient } from './client.js'
import { storeFigures } from './figures.js'
import { applyLookup, lookupSkus } from './mapping.js'
import type { OutageWatch } from './outage.js'
import { BATCH_LIMIT, MIN_SPLIT, pushItems, type PushItem, type PushResult, type PushStats } from './push.js'

/** How a store's deliveries are paced (sync/pacing.ts): the window's floor (the linger) and its bound. */
export interface PushPacing {
  /** A batch of fewer than MIN_SPLIT items waits this long for more while other requests are in flight; the window's floor. */
  readonly lingerMs: number
  /** A loaded store's bound on waiting plus answering: no change waits longer than this for a fuller batch. */
  readonly maxWindowMs: number
}

export const DEFAULT_PUSH_PACING: PushPacing = Object.freeze({ lingerMs: 40, maxWindowMs: 600 })

/** The pacer's figures are written to the store's row at most this often (and when its pushes go idle). */
const STATUS_EVERY_MS = 1000

export const STORE_ID_PREFIX = 'sto'

/** How long an "unknown in the store" verdict stands before a change looks the SKU up again. */
const UNKNOWN_RECHECK_MS = 10 * 60 * 1000

export interface ConnectorOptions {
  readonly requestTimeoutMs: number
}

/** One client per store, rebuilt when the store's settings change. */
export class ClientPool {
  readonly #clients = new Map<string, { updatedAt: number; client: WooClient }>()
  readonly timeoutMs: number
  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs
  }

  get(store: WooStore): WooClient {
    const hit = this.#clients.get(store.id)
    if (hit && hit.updatedAt === store.updatedAt) return hit.client
    hit?.client.close()
    const client = new WooClient({ baseUrl: store.baseUrl, consumerKey: store.consumerKey, consumerSecret: store.consumerSecret, caFile: store.caFile, timeoutMs: this.timeoutMs, maxSockets: store.concurrency })
    this.#clients.set(store.id, { updatedAt: store.updatedAt, client })
    return client
  }

  closeAll(): void {
    for (const c of this.#clients.values()) c.client.close()
    this.#clients.clear()
  }
}

export interface SyncOutcome {
  readonly results: Map<string, PushResult | { kind: 'skipped'; reason: string }>
  readonly requests: number
}

/**
 * Bring these SKUs' figures to the store: map what is unmapped, recompute figures, push what
 * differs from what the store shows (or everything with `force`), remap on invalid ids, record
 * health. Used by the engine's deliveries, `stores sync` and reconciliation repairs.
 */
export async function syncSkus(deps: ServiceDeps, store: WooStore, client: WooClient, skus: ReadonlyArray<string>, o: { force?: boolean; signal?: AbortSignal; onBatch?: (done: number, total: number) => void; spreadOver?: number; outage?: OutageWatch } = {}): Promise<SyncOutcome> {
  const db = deps.store.db
  const results = new Map<string, PushResult | { kind: 'skipped'; reason: string }>()
  const stats: PushStats = { requests: 0 }
  let mappings = await repo.findMappings(db, store.id, skus)
  const unmapped = skus.filter((s) => !mappings.has(s))
  if (unmapped.length) {
    const problems = await repo.findProblems(db, store.id, unmapped)
    const now = deps.clock.now()
    const toLookup = unmapped.filter((s) => {
      const p = problems.get(s)
      return !p || now - p.seenAt > UNKNOWN_RECHECK_MS
    })
    if (toLookup.length) {
      stats.requests += Math.ceil(toLookup.length / 100)
      await applyLookup(deps, store, toLookup, await lookupSkus(client, toLookup))
      mappings = await repo.findMappings(db, store.id, skus)
    }
  }
  const figures = await storeFigures(db, store, skus)
  const items: PushItem[] = []
  for (const sku of skus) {
    const m = mappings.get(sku)
    const figure = figures.get(sku)
    if (!m) results.set(sku, { kind: 'skipped', reason: 'not sold in this store (no product or variation has this SKU)' })
    else if (figure === undefined) results.set(sku, { kind: 'skipped', reason: 'the hub does not know this SKU' })
    else if (!o.force && m.lastPushed === figure) results.set(sku, { kind: 'skipped', reason: 'the store already shows this figure' })
    else items.push({ sku, productId: m.productId, parentId: m.parentId, figure })
  }
  if (items.length) {
    await repo.markPushing(db, store.id, items)
    const push = { concurrency: store.concurrency, signal: o.signal, stats, ...(o.spreadOver !== undefined ? { spreadOver: o.spreadOver } : {}) }
    let pushed = await pushItems(client, items, { ...push, onBatch: o.onBatch })
    // Items whose id the store no longer knows: look their SKUs up again and retry once.
    const invalid = items.filter((i) => pushed.get(i.sku)?.kind === 'invalid_id')
    if (invalid.length) {
      stats.requests += Math.ceil(invalid.length / 100)
      await applyLookup(deps, store, invalid.map((i) => i.sku), await lookupSkus(client, invalid.map((i) => i.sku)))
      const remapped = await repo.findMappings(db, store.id, invalid.map((i) => i.sku))
      const again: PushItem[] = []
      for (const i of invalid) {
        const m = remapped.get(i.sku)
        if (m && (m.productId !== i.productId || m.parentId !== i.parentId)) again.push({ ...i, productId: m.productId, parentId: m.parentId })
        else pushed.set(i.sku, { kind: 'item_error', status: 404, reason: `SKU ${i.sku} no longer exists in the store (product ${i.productId}): ${(pushed.get(i.sku) as { reason: string }).reason}` })
      }
      if (again.length) {
        await repo.markPushing(db, store.id, again)
        const second = await pushItems(client, again, push)
        pushed = new Map([...pushed, ...second])
      }
    }
    const ok = items.filter((i) => pushed.get(i.sku)?.kind === 'ok')
    if (ok.length) await repo.markPushed(db, store.id, ok.map((i) => ({ sku: i.sku, figure: i.figure })), deps.clock.now())
    for (const [sku, r] of pushed) results.set(sku, r)
    // Stopped by the worker, not failed by the store: says nothing of its health.
    if (!o.signal?.aborted) await recordHealth(deps, store, [...pushed.values()], o.outage)
  }
  return { results, requests: stats.requests }
}

/**
 * 401/403 marks the store unhealthy (alerting once); every request failing before the store
 * answered marks it unreachable (outage.ts); any accepted request marks it healthy again.
 */
async function recordHealth(deps: ServiceDeps, store: WooStore, results: ReadonlyArray<PushResult>, outage: OutageWatch | undefined): Promise<void> {
  const auth = results.find((r) => r.kind === 'auth')
  const anyAnswer = results.some((r) => r.kind === 'ok' || r.kind === 'item_error' || r.kind === 'invalid_id')
  const now = deps.clock.now()
  const unanswered = results.length > 0 && results.every((r) => r.kind === 'retry' && r.status === null)
  if (unanswered && outage) {
    await outage.unreachable(store, (results[0] as { reason: string }).reason)
    return
  }
  if (anyAnswer || auth) await outage?.answered(store)
  if (auth && auth.kind === 'auth' && !anyAnswer) {
    if (await repo.setStoreHealth(deps.store.db, store.id, 'unhealthy', `The store refused our credentials (${auth.reason})`, now)) {
      deps.log.error({ store: store.name, store_id: store.id, reason: auth.reason }, 'ALERT: WooCommerce store refuses the hub credentials; stock pushes are failing')
      // Through the alert channels too (#15); a failure to alert must not fail the delivery.
      await raiseOperationalAlert(deps, 'store_unhealthy', store.name, `The store refuses the hub's credentials (${auth.reason}); stock pushes are failing`).catch((e: unknown) => deps.log.warn({ err: e }, 'raising the store_unhealthy alert failed'))
    }
  } else if (anyAnswer) {
    if (await repo.setStoreHealth(deps.store.db, store.id, 'ok', null, now)) {
      deps.log.info({ store: store.name }, 'WooCommerce store healthy')
      await resolveOperationalAlert(deps, 'store_unhealthy', store.name).catch((e: unknown) => deps.log.warn({ err: e }, 'resolving the store_unhealthy alert failed'))
    }
  }
}

function toOutcome(r: PushResult | { kind: 'skipped'; reason: string } | undefined): DeliveryOutcome {
  if (!r) return { kind: 'retry', status: null, error: 'no result', retryAfterMs: 0 }
  switch (r.kind) {
    case 'ok':
    case 'skipped':
      return { kind: 'ok', status: 200 }
    case 'retry':
      return { kind: 'retry', status: r.status, error: r.reason, retryAfterMs: r.retryAfterMs }
    case 'auth':
      return { kind: 'retry', status: r.status, error: r.reason, retryAfterMs: 0 }
    case 'invalid_id':
      return { kind: 'permanent', status: 404, error: r.reason }
    case 'item_error':
      return { kind: 'permanent', status: r.status ?? 400, error: r.reason }
  }
}

/**
 * The engine runs up to the store's `concurrency` deliveries at once, each of at most one batch
 * request's worth of SKUs (100) and sent as one request per batch URL: the store's parallel
 * requests are the worker's lanes, so a stream of changes is carried by all of them.
 */
export function storeDestination(deps: ServiceDeps, pool: ClientPool, storeId: string, pacing: PushPacing = DEFAULT_PUSH_PACING, outage?: OutageWatch): Destination {
  let written = { at: -Infinity, idle: true }
  return {
    async limits() {
      const store = await repo.findStore(deps.store.db, storeId)
      return { concurrency: Math.max(1, store?.concurrency ?? 1), maxBatch: BATCH_LIMIT, minBatch: MIN_SPLIT, lingerMs: pacing.lingerMs, pacing: { maxWindowMs: pacing.maxWindowMs } }
    },
    observe(p) {
      // Throttled: at most once a second, and once more when the store's pushes go idle.
      const now = deps.clock.now()
      const idle = p.in_flight === 0 && p.backlog === 0
      if (now - written.at < STATUS_EVERY_MS && !(idle && !written.idle)) return
      written = { at: now, idle }
      void repo.setPushStatus(deps.store.db, storeId, { ...p, at: now }).catch((e: unknown) => deps.log.warn({ err: e, store_id: storeId }, 'recording the push status failed'))
    },
    async deliver(events: ReadonlyArray<OutboxEvent>, signal: AbortSignal): Promise<DeliveryOutcome[]> {
      try {
        const store = await repo.findStore(deps.store.db, storeId)
        // A store removed or no longer pushing: nothing to deliver (a `stores sync` catches up later).
        if (!store || store.mode !== 'live') return events.map(() => ({ kind: 'ok', status: 204 }))
        const skus = [...new Set(events.map((e) => e.sku))]
        // A call of more than one batch (runOnce of a big round) still uses the store's lanes.
        const spreadOver = skus.length <= BATCH_LIMIT ? 1 : store.concurrency
        const { results } = await syncSkus(deps, store, pool.get(store), skus, { signal, spreadOver, ...(outage ? { outage } : {}) })
        return events.map((e) => toOutcome(results.get(e.sku)))
      } catch (e) {
        deps.log.warn({ err: e, store_id: storeId }, 'WooCommerce delivery round failed')
        const error = e instanceof Error ? e.message.slice(0, 300) : String(e)
        return events.map(() => ({ kind: 'retry', status: null, error, retryAfterMs: 0 }))
      }
    },
  }
}

/** Store targets (`sto_…`) go to their store; everything else to the fallback (subscriptions). */
export function wooResolver(deps: ServiceDeps, pool: ClientPool, fallback: DestinationResolver, pacing: PushPacing = DEFAULT_PUSH_PACING, outage?: OutageWatch): DestinationResolver {
  const mine = new Map<string, Destination>()
  return async (targetId) => {
    if (!targetId.startsWith(`${STORE_ID_PREFIX}_`)) return fallback(targetId)
    let d = mine.get(targetId)
    if (!d) {
      d = storeDestination(deps, pool, targetId, pacing, outage)
      mine.set(targetId, d)
    }
    return d
  }
}
