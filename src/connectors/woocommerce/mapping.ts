/**
 * @module connectors/woocommerce/mapping: which store product (or parent + variation) sells a SKU.
 * Found through `GET /products?sku=a,b,…` in lists of up to 100 SKUs (it matches variations too,
 * case-insensitively), or a paged scan of the whole catalogue. Unknown and duplicated SKUs are
 * recorded for the operator instead of guessed at.
 */
import type { ServiceDeps } from '../../service/deps.js'
import { listProducts } from '../../store/product-repo.js'
import * as repo from '../../store/woo-repo.js'
import type { WooStore } from '../../store/woo-repo.js'
import type { WooClient } from './client.js'

export interface StoreItem {
  readonly id: number
  readonly sku: string
  readonly type: string
  readonly parent_id: number
  readonly stock_quantity: number | null
  readonly manage_stock: boolean | 'parent'
}

const FIELDS = 'id,sku,type,parent_id,stock_quantity,manage_stock'
/** The store's per_page ceiling, and a bound on the query string. */
const LOOKUP_SKUS = 100
const LOOKUP_CHARS = 6000

/** Split SKUs into lookup lists: at most 100 each and a bounded URL. SKUs with commas cannot be listed. */
export function lookupLists(skus: ReadonlyArray<string>): string[][] {
  const lists: string[][] = []
  let cur: string[] = []
  let chars = 0
  for (const s of skus) {
    if (s.includes(',')) continue
    if (cur.length >= LOOKUP_SKUS || chars + s.length + 1 > LOOKUP_CHARS) {
      lists.push(cur)
      cur = []
      chars = 0
    }
    cur.push(s)
    chars += encodeURIComponent(s).length + 1
  }
  if (cur.length) lists.push(cur)
  return lists
}

/** Store items whose SKU matches any of these (variations included), keyed by lower-cased SKU. */
export async function lookupSkus(client: WooClient, skus: ReadonlyArray<string>, onList?: (done: number, total: number) => void): Promise<Map<string, StoreItem[]>> {
  const out = new Map<string, StoreItem[]>()
  const lists = lookupLists([...new Set(skus)])
  let done = 0
  for (const list of lists) {
    const items = await client.getAll<StoreItem>('/products', { sku: list.join(','), _fields: FIELDS })
    for (const it of items) {
      if (typeof it.sku !== 'string' || it.sku === '') continue
      const k = it.sku.toLowerCase()
      const prev = out.get(k) ?? []
      if (!prev.some((p) => p.id === it.id)) out.set(k, [...prev, it])
    }
    onList?.(++done, lists.length)
  }
  return out
}

/** Every product and variation in the store (top-level pages, then each variable product's variations). */
export async function scanCatalog(client: WooClient): Promise<StoreItem[]> {
  const top = await client.getAll<StoreItem>('/products', { _fields: FIELDS, orderby: 'id', order: 'asc' })
  const out = [...top]
  for (const p of top) {
    if (p.type !== 'variable') continue
    const vars = await client.getAll<StoreItem>(`/products/${p.id}/variations`, { _fields: FIELDS, orderby: 'id', order: 'asc' })
    out.push(...vars.map((v) => ({ ...v, type: 'variation', parent_id: p.id })))
  }
  return out
}

export interface MappingReport {
  readonly mapped: number
  readonly unknown: ReadonlyArray<string>
  readonly duplicated: ReadonlyArray<{ sku: string; productIds: number[] }>
  /** Store SKUs the hub does not know (catalogue scan only). */
  readonly notInHub: ReadonlyArray<string>
}

/** Decide each SKU's mapping from the store items found, and record it with any problem. */
export async function applyLookup(deps: ServiceDeps, store: WooStore, skus: ReadonlyArray<string>, found: ReadonlyMap<string, StoreItem[]>): Promise<MappingReport> {
  const now = deps.clock.now()
  const rows: Array<{ sku: string; productId: number; parentId: number | null }> = []
  const problems: Array<{ sku: string; kind: 'unknown' | 'duplicate'; detail: string }> = []
  const unknown: string[] = []
  const duplicated: Array<{ sku: string; productIds: number[] }> = []
  for (const sku of new Set(skus)) {
    const matches = found.get(sku.toLowerCase()) ?? []
    const exact = matches.filter((m) => m.sku === sku)
    const pick = exact.length === 1 ? exact : matches
    if (pick.length === 1) {
      const m = pick[0]!
      rows.push({ sku, productId: m.id, parentId: m.type === 'variation' && m.parent_id ? m.parent_id : null })
    } else if (pick.length === 0) {
      unknown.push(sku)
      problems.push({ sku, kind: 'unknown', detail: 'No product or variation in the store has this SKU' })
    } else {
      duplicated.push({ sku, productIds: pick.map((m) => m.id) })
      problems.push({ sku, kind: 'duplicate', detail: `Several store items carry this SKU: ${pick.map((m) => m.id).join(', ')}` })
    }
  }
  await deps.store.db.transaction().execute(async (trx) => {
    await repo.upsertMappings(trx, deps.store.caps, store.id, rows, now)
    await repo.clearProblems(trx, store.id, rows.map((r) => r.sku))
    await repo.deleteMappings(trx, store.id, problems.map((p) => p.sku))
    await repo.recordProblems(trx, deps.store.caps, store.id, problems, now)
  })
  return { mapped: rows.length, unknown, duplicated, notInHub: [] }
}

/** Map the given SKUs, or every SKU the hub knows, through `?sku=` lookups. */
export async function mapSkus(deps: ServiceDeps, store: WooStore, client: WooClient, skus?: ReadonlyArray<string>, onProgress?: (done: number, total: number) => void): Promise<MappingReport> {
  const list = skus ?? (await allHubSkus(deps))
  const found = await lookupSkus(client, list, onProgress)
  return applyLookup(deps, store, list, found)
}

/** Map by scanning the whole catalogue (also reports store SKUs the hub lacks and duplicates). */
export async function mapByScan(deps: ServiceDeps, store: WooStore, client: WooClient): Promise<MappingReport> {
  const items = await scanCatalog(client)
  const found = new Map<string, StoreItem[]>()
  for (const it of items) {
    if (!it.sku) continue
    const k = it.sku.toLowerCase()
    found.set(k, [...(found.get(k) ?? []), it])
  }
  const hub = await allHubSkus(deps)
  const report = await applyLookup(deps, store, hub, found)
  const hubLower = new Set(hub.map((s) => s.toLowerCase()))
  const notInHub = items.filter((i) => i.sku && !hubLower.has(i.sku.toLowerCase()) && i.type !== 'variable').map((i) => i.sku)
  await repo.recordProblems(deps.store.db, deps.store.caps, store.id, notInHub.map((sku) => ({ sku, kind: 'not_in_hub' as const, detail: 'The store sells this SKU; the hub does not know it' })), deps.clock.now())
  return { ...report, notInHub }
}

export async function allHubSkus(deps: ServiceDeps): Promise<string[]> {
  const out: string[] = []
  let after: string | undefined
  for (;;) {
    const page = await listProducts(deps.store.db, { limit: 1000, afterSku: after })
    out.push(...page.map((p) => p.sku))
    if (page.length < 1000) return out
    after = page[page.length - 1]!.sku
  }
}
