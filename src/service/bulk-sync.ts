/**
 * @module service/bulk-sync: absolute counts for many SKUs at once (`POST /stock/bulk-sync`).
 * Each item stands alone: valid items apply even where others are refused, and every item gets
 * its own outcome. Reads are set-based (a few queries for the whole batch, not one per item).
 */
import { DomainError, ValidationError, type ErrorCode } from '../domain/errors.js'
import { applyMovement } from '../domain/movement.js'
import { parseCount } from '../domain/quantity.js'
import { parseSku } from '../domain/sku.js'
import type { Product } from '../domain/product.js'
import type { StockLevel } from '../domain/stock-level.js'
import { appendLedgerEntries, type NewLedgerEntry } from '../store/ledger-repo.js'
import { findProducts } from '../store/product-repo.js'
import { ensureLevel, findLevel, findLevelsByPairs, setOnHand } from '../store/stock-repo.js'
import { listWarehouses } from '../store/warehouse-repo.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { runIdempotent, type Replayable } from './idempotency.js'
import { claimFor } from './stock.js'
import { assertBulkItemsAllowed } from './warehouse-access.js'
import type { Executor } from '../store/db.js'

export const MAX_BULK_ITEMS = 10_000
const READ_CHUNK = 500

export interface BulkSyncInput {
  /** Items as sent; each is validated on its own so one bad item cannot sink the batch. */
  readonly items: ReadonlyArray<unknown>
  readonly source: string
  readonly referenceId: string | null
  readonly observedAt?: number | undefined
}

export type BulkItemOutcome =
  | { readonly index: number; readonly sku: string; readonly warehouseId: number; readonly status: 'applied' | 'stale'; readonly previous: number; readonly current: number; readonly movementId: number | null }
  | { readonly index: number; readonly sku: string | null; readonly warehouseId: number | null; readonly status: 'rejected'; readonly code: ErrorCode; readonly detail: string }

export interface BulkSyncResult {
  readonly applied: number
  readonly stale: number
  readonly unchanged: number
  readonly rejected: number
  readonly items: ReadonlyArray<BulkItemOutcome>
}

interface ValidItem {
  readonly index: number
  readonly sku: string
  readonly warehouseId: number
  readonly count: number
}

function validateItem(raw: unknown, index: number): ValidItem | BulkItemOutcome {
  const at = `/items/${index}`
  const rejected = (code: ErrorCode, detail: string, sku: string | null = null, warehouseId: number | null = null): BulkItemOutcome => ({ index, sku, warehouseId, status: 'rejected', code, detail })
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return rejected('validation_failed', `${at}: must be an object`)
  const o = raw as Record<string, unknown>
  const unknown = Object.keys(o).filter((k) => k !== 'sku' && k !== 'warehouse_id' && k !== 'quantity')
  const sku = typeof o.sku === 'string' ? o.sku.slice(0, 100) : null
  const wh = typeof o.warehouse_id === 'number' && Number.isSafeInteger(o.warehouse_id) && o.warehouse_id > 0 ? o.warehouse_id : null
  if (unknown.length > 0) return rejected('validation_failed', `${at}: unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))}`, sku, wh)
  try {
    const validSku = parseSku(o.sku, `${at}/sku`)
    if (wh === null) return rejected('validation_failed', `${at}/warehouse_id: must be a positive whole number`, validSku, null)
    const count = parseCount(o.quantity, `${at}/quantity`)
    return { index, sku: validSku, warehouseId: wh, count }
  } catch (e) {
    if (e instanceof ValidationError) return rejected('validation_failed', e.message, sku, wh)
    throw e
  }
}

function key(sku: string, warehouseId: number): string {
  return `${warehouseId}\u0000${sku}`
}

async function loadLevels(ex: Executor, items: ReadonlyArray<ValidItem>): Promise<Map<string, StockLevel>> {
  const levels = new Map<string, StockLevel>()
  for (let i = 0; i < items.length; i += READ_CHUNK) {
    const found = await findLevelsByPairs(ex, items.slice(i, i + READ_CHUNK))
    for (const l of found) levels.set(key(l.sku, l.warehouseId), l)
  }
  return levels
}

async function loadProducts(ex: Executor, skus: ReadonlyArray<string>): Promise<Map<string, Product>> {
  const out = new Map<string, Product>()
  for (let i = 0; i < skus.length; i += READ_CHUNK) for (const p of await findProducts(ex, skus.slice(i, i + READ_CHUNK))) out.set(p.sku, p)
  return out
}

/** Set absolute counts (`change_type` sync) for up to 10,000 (SKU, warehouse) pairs in one transaction. */
export async function bulkSync(deps: ServiceDeps, input: BulkSyncInput, ctx: RequestContext): Promise<Replayable<BulkSyncResult>> {
  if (input.items.length > MAX_BULK_ITEMS) {
    throw new ValidationError([{ pointer: '/items', message: `must hold at most ${MAX_BULK_ITEMS} items` }])
  }
  assertBulkItemsAllowed(ctx, input.items) // security (#5): the credential's warehouse restriction
  return runIdempotent(deps, claimFor(ctx, 'stock.bulk-sync', input, null), async (trx) => {
    const now = deps.clock.now()
    const observedAt = input.observedAt ?? now
    const outcomes: BulkItemOutcome[] = []
    const valid: ValidItem[] = []
    input.items.forEach((raw, i) => {
      const v = validateItem(raw, i)
      if ('status' in v) outcomes.push(v)
      else valid.push(v)
    })
    const [products, warehouses, levels] = await Promise.all([
      loadProducts(trx, [...new Set(valid.map((v) => v.sku))]),
      listWarehouses(trx),
      loadLevels(trx, valid),
    ])
    const warehouseIds = new Set(warehouses.map((w) => w.id))
    const entries: NewLedgerEntry[] = []
    const entryIndex: number[] = []
    for (const item of valid) {
      const product = products.get(item.sku)
      if (!product) {
        outcomes.push({ index: item.index, sku: item.sku, warehouseId: item.warehouseId, status: 'rejected', code: 'sku_not_found', detail: `No product is registered with SKU ${item.sku}` })
        continue
      }
      if (!warehouseIds.has(item.warehouseId)) {
        outcomes.push({ index: item.index, sku: item.sku, warehouseId: item.warehouseId, status: 'rejected', code: 'warehouse_not_found', detail: `No warehouse has id ${item.warehouseId}` })
        continue
      }
      const k = key(item.sku, item.warehouseId)
      let level = levels.get(k)
      if (!level) {
        await ensureLevel(trx, item.sku, item.warehouseId, product, now)
        level = await findLevel(trx, item.sku, item.warehouseId, deps.store.caps.rowLocks)
        if (!level) throw new Error(`Stock level ${k} vanished after creation`)
      }
      let after: StockLevel | undefined
      let status: 'applied' | 'stale' = 'applied'
      for (let attempt = 0; attempt < 8 && after === undefined; attempt++) {
        const outcome = applyMovement(level, { kind: 'sync', count: item.count, observedAt }, { allowsBackorders: product.allowsBackorders })
        if (outcome.status === 'stale') {
          status = 'stale'
          after = level
          break
        }
        after = await setOnHand(trx, { sku: item.sku, warehouseId: item.warehouseId, onHand: item.count, fromVersion: level.version, lastCountedAt: Math.max(level.lastCountedAt ?? observedAt, observedAt), now })
        if (!after) level = (await findLevel(trx, item.sku, item.warehouseId, deps.store.caps.rowLocks)) ?? level
      }
      if (!after) throw new DomainError('version_conflict', `The stock of ${item.sku} in warehouse ${item.warehouseId} is changing too fast; retry`, { sku: item.sku, warehouse_id: item.warehouseId })
      entries.push({
        sku: item.sku,
        productId: product.productId,
        warehouseId: item.warehouseId,
        changeType: 'sync',
        status,
        quantity: item.count,
        onHandBefore: level.onHand,
        onHandAfter: after.onHand,
        reservedBefore: level.reserved,
        reservedAfter: after.reserved,
        levelVersion: after.version,
        source: input.source,
        referenceId: input.referenceId,
        reservationId: null,
        actor: ctx.actor,
        notes: null,
        observedAt,
        createdAt: now,
      })
      entryIndex.push(outcomes.length)
      outcomes.push({ index: item.index, sku: item.sku, warehouseId: item.warehouseId, status, previous: level.onHand, current: after.onHand, movementId: null })
      levels.set(k, after)
    }
    const ids = await appendLedgerEntries(trx, deps.store.caps, entries)
    ids.forEach((id, i) => {
      const at = entryIndex[i]!
      outcomes[at] = { ...(outcomes[at] as Extract<BulkItemOutcome, { status: 'applied' | 'stale' }>), movementId: id }
    })
    outcomes.sort((a, b) => a.index - b.index)
    const count = (s: string) => outcomes.filter((o) => o.status === s).length
    const unchanged = outcomes.filter((o) => o.status === 'applied' && o.previous === o.current).length
    return { applied: count('applied'), stale: count('stale'), unchanged, rejected: count('rejected'), items: outcomes }
  })
}
