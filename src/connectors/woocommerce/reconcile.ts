/**
 * @module connectors/woocommerce/reconcile: find and repair drift between a store and the hub.
 *
 * Reads the store's figures for every mapped SKU (`GET /products?sku=` lists of 100, which find
 * variations too), compares them with the hub's figure for the store, records each difference
 * (SKU, store figure, hub figure), and, unless it is a dry run, pushes the hub's figure over it
 * and re-enables the store's disabled webhooks that point at the hub. SKUs with a push already
 * on its way are left to it. Runs and their drift are kept and shown over the API.
 */
import type { ServiceDeps } from '../../service/deps.js'
import * as repo from '../../store/woo-repo.js'
import type { ReconcileRun, WooStore } from '../../store/woo-repo.js'
import type { WooClient } from './client.js'
import { syncSkus } from './destination.js'
import { storeFigures } from './figures.js'
import { lookupSkus } from './mapping.js'

export interface WebhookInfo {
  readonly id: number
  readonly topic: string
  readonly status: string
  readonly delivery_url: string
}

/** The store's webhooks that deliver to this hub for this store. */
export function isOurWebhook(store: WooStore, w: WebhookInfo): boolean {
  if (store.callbackUrl && w.delivery_url === store.callbackUrl) return true
  return w.delivery_url.includes(`/woocommerce/${store.id}/webhook`) || w.delivery_url.includes(`/woocommerce/${encodeURIComponent(store.name)}/webhook`)
}

export interface ReconcileOptions {
  readonly dryRun: boolean
  readonly onProgress?: (done: number, total: number) => void
}

export async function reconcileStore(deps: ServiceDeps, store: WooStore, client: WooClient, o: ReconcileOptions): Promise<ReconcileRun> {
  const db = deps.store.db
  const runId = deps.ids.next('rec')
  const startedAt = deps.clock.now()
  await repo.insertRun(db, { id: runId, storeId: store.id, dryRun: o.dryRun, startedAt })
  let checked = 0
  const drift: Array<{ sku: string; store_figure: number | null; hub_figure: number; repaired: boolean; note?: string }> = []
  const webhooks: Array<{ id: number; topic: string; status: string; reenabled: boolean }> = []
  let inFlight = 0
  try {
    // Every mapped SKU, a page at a time.
    const mappings: repo.Mapping[] = []
    for (let after: string | null = null; ; ) {
      const page = await repo.listMappings(db, store.id, after, 1000)
      mappings.push(...page)
      if (page.length < 1000) break
      after = page[page.length - 1]!.sku
    }
    const pending = new Set((await db.selectFrom('delivery').select('sku').where('target_id', '=', store.id).execute()).map((r) => r.sku))
    const toCheck = mappings.filter((m) => {
      if (!pending.has(m.sku)) return true
      inFlight++
      return false
    })
    const found = await lookupSkus(client, toCheck.map((m) => m.sku), o.onProgress)
    const hub = await storeFigures(db, store, toCheck.map((m) => m.sku))
    for (const m of toCheck) {
      const h = hub.get(m.sku)
      if (h === undefined) continue
      checked++
      const item = (found.get(m.sku.toLowerCase()) ?? []).find((i) => i.id === m.productId)
      if (!item) drift.push({ sku: m.sku, store_figure: null, hub_figure: h, repaired: false, note: `product ${m.productId} not found in the store` })
      else if (item.manage_stock === false || item.stock_quantity !== h) drift.push({ sku: m.sku, store_figure: item.stock_quantity, hub_figure: h, repaired: false, ...(item.manage_stock === false ? { note: 'the store does not manage stock for this item' } : {}) })
    }
    if (!o.dryRun && store.mode === 'live' && drift.length) {
      const { results } = await syncSkus(deps, store, client, drift.map((d) => d.sku), { force: true })
      for (const d of drift) d.repaired = results.get(d.sku)?.kind === 'ok'
    }
    // Webhooks that point at us and were disabled (7 failed deliveries in a row) or paused.
    const hooks = await client.getAll<WebhookInfo>('/webhooks', { status: 'all' })
    for (const w of hooks.filter((h) => isOurWebhook(store, h) && h.status !== 'active')) {
      let reenabled = false
      if (!o.dryRun) {
        const res = await client.request('PUT', `/webhooks/${w.id}`, { body: { status: 'active' } })
        reenabled = res.status === 200
      }
      webhooks.push({ id: w.id, topic: w.topic, status: w.status, reenabled })
    }
    const now = deps.clock.now()
    await repo.insertDrift(
      db,
      deps.store.caps,
      store.id,
      drift.map((d) => ({ sku: d.sku, storeFigure: d.store_figure, hubFigure: d.hub_figure, source: 'reconcile' as const, runId, detectedAt: now, repairedAt: d.repaired ? now : null })),
    )
    await repo.finishRun(db, runId, {
      status: 'done',
      checked,
      drift: drift.length,
      repaired: drift.filter((d) => d.repaired).length,
      webhooksReenabled: webhooks.filter((w) => w.reenabled).length,
      error: null,
      report: { drift, webhooks, skipped_in_flight: inFlight, mode: store.mode },
      finishedAt: now,
    })
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    deps.log.warn({ err: e, store: store.name }, 'reconciliation failed')
    await repo.finishRun(db, runId, { status: 'failed', checked, drift: drift.length, repaired: 0, webhooksReenabled: 0, error: msg, report: { drift, webhooks }, finishedAt: deps.clock.now() })
  }
  return (await repo.findRun(db, runId))!
}
