/**
 * @module service/bulk-sync: absolute counts for many SKUs at once (`POST /stock/bulk-sync`).
 * Each item stands alone: valid items apply even where others are refused, and every item gets
 * its own outcome, answered in request order.
 *
 * The work is set-based: a handful of statements for the whole batch, not one round trip per
 * item. Products, then levels, are locked in (sku, warehouse_id) order, the order every writer
 * locks in, so concurrent bulk syncs, sales and transfers cannot deadlock; with the rows locked
 * the new figures are computed here and written back in one guarded multi-row UPDATE (a VALUES
 * join on SQLite), and the ledger rows and their outbox events go in as multi-row INSERTs.
 * Measured with bench/bulk-sync.ts: 100,000 rows as 10 requests of 10,000.
 */
import type { Transaction } from 'kysely'
import { DomainError, ValidationError, type ErrorCode } from '../domain/errors.js'
import { applyMovement } from '../domain/movement.js'
import { negativeCountRefused, parseSignedCount } from '../domain/quantity.js'
import { parseSku } from '../domain/sku.js'
import type { LedgerEntry } from '../domain/ledger.js'
import type { Product } from '../domain/product.js'
import { sellableOf, type StockLevel } from '../domain/stock-level.js'
import { stockChangedData } from './stock-events.js'
import type { Executor } from '../store/db.js'
import type { Database } from '../store/schema.js'
import { enqueueDeliverySlots } from '../store/delivery-repo.js'
import { appendLedgerEntries, type NewLedgerEntry } from '../store/ledger-repo.js'
import { bumpSkuVersions, insertOutboxEvents, notifyOutbox, sumLevelsBySku, type NewOutboxEvent } from '../store/outbox-repo.js'
import { lockProductsInOrder } from '../store/product-repo.js'
import { compareLevelKeys, levelKeyOf, lockLevelsInOrder, writeLevelCounts, type LevelCountWrite, type LevelToLock } from '../store/stock-repo.js'
import { listWarehouses } from '../store/warehouse-repo.js'
import type { RequestContext, ServiceDeps } from './deps.js'
import { runIdempotent, type Replayable } from './idempotency.js'
import { countItemOutcomes } from './movement-metrics.js'
import { claimFor } from './stock.js'
import { assertBulkItemsAllowed } from './warehouse-access.js'

export const MAX_BULK_ITEMS = 10_000

export interface BulkSyncInput {
  /** Items as sent; each is validated on its own so one bad item cannot sink the batch. */
  readonly items: ReadonlyArray<unknown>
  readonly source: string
  readonly referenceId: string | null
  readonly observedAt?: number | undefined
}

export type BulkItemOutcome =
  | { readonly index: number; readonly sku: string; readonly warehouseId: number; readonly status: 'applied' | 'stale' | 'unchanged'; readonly previous: number; readonly current: number; readonly movementId: number | null }
  | { readonly index: number; readonly sku: string | null; readonly warehouseId: number | null; readonly status: 'rejected'; readonly code: ErrorCode; readonly detail: string }

/** The counts partition the items: applied + unchanged + stale + rejected = items.length. */
export interface BulkSyncResult {
  /** Counts that changed on hand. */
  readonly applied: number
  /** Counts equal to on hand: recorded in the ledger as `unchanged`, nothing else happens. */
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

/** The counts of a bulk sync's answer, from its per-item outcomes (one request or a job's chunks). */
export function resultOf(items: ReadonlyArray<BulkItemOutcome>): BulkSyncResult {
  let applied = 0
  let stale = 0
  let unchanged = 0
  let rejected = 0
  for (const o of items) {
    if (o.status === 'rejected') rejected++
    else if (o.status === 'stale') stale++
    else if (o.status === 'unchanged') unchanged++
    else applied++
  }
  return { applied, stale, unchanged, rejected, items }
}

function validateItem(raw: unknown, index: number): ValidItem | BulkItemOutcome {
  const at = `/items/${index}`
  const rejected = (code: ErrorCode, detail: string, sku: string | null = null, warehouseId: number | null = null): BulkItemOutcome => ({ index, sku, warehouseId, status: 'rejected', code, detail })
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return rejected('validation_failed', `${at}: must be an object`)
  const o = raw as Record<string, unknown>
  let unknown: string | null = null
  for (const k of Object.keys(o)) {
    if (k !== 'sku' && k !== 'warehouse_id' && k !== 'quantity') {
      unknown = k
      break
    }
  }
  const sku = typeof o.sku === 'string' ? o.sku.slice(0, 100) : null
  const wh = typeof o.warehouse_id === 'number' && Number.isSafeInteger(o.warehouse_id) && o.warehouse_id > 0 ? o.warehouse_id : null
  if (unknown !== null) return rejected('validation_failed', `${at}: unknown field ${JSON.stringify(unknown.slice(0, 40))}`, sku, wh)
  try {
    const validSku = parseSku(o.sku, `${at}/sku`)
    if (wh === null) return rejected('validation_failed', `${at}/warehouse_id: must be a positive whole number`, validSku, null)
    // Negative only for a SKU that allows backorders: checked once the products are read.
    const count = parseSignedCount(o.quantity, `${at}/quantity`)
    return { index, sku: validSku, warehouseId: wh, count }
  } catch (e) {
    if (e instanceof ValidationError) return rejected('validation_failed', e.message, sku, wh)
    throw e
  }
}


/**
 * The `stock.changed` event of every applied item, written with the batch (transactional
 * outbox), exactly as service/stock-events.ts writes one per single movement, but set-based:
 * one version bump for all SKUs, one multi-row event insert, one delivery upsert, one NOTIFY.
 * `changes` come in lock order, so each SKU's events get consecutive versions and rising
 * sequence numbers, and totals follow the batch's own running sum.
 */
async function recordStockChangedBatch(
  deps: ServiceDeps,
  ex: Executor,
  changes: ReadonlyArray<{ readonly entry: LedgerEntry; readonly level: StockLevel; readonly product: Product }>,
  baseTotals: ReadonlyMap<string, { onHand: number; reserved: number; available: number }>,
  now: number,
): Promise<void> {
  if (changes.length === 0) return
  const caps = deps.store.caps
  const counts = new Map<string, number>()
  for (const c of changes) counts.set(c.product.sku, (counts.get(c.product.sku) ?? 0) + 1)
  const lastVersion = await bumpSkuVersions(ex, caps, counts)
  const nextVersion = new Map([...counts].map(([sku, n]) => [sku, (lastVersion.get(sku) ?? n) - n + 1]))
  const running = new Map([...baseTotals].map(([sku, t]) => [sku, { ...t }]))
  const events: NewOutboxEvent[] = changes.map(({ entry, level, product }) => {
    const version = nextVersion.get(product.sku)!
    nextVersion.set(product.sku, version + 1)
    const totals = running.get(product.sku) ?? { onHand: 0, reserved: 0, available: 0 }
    totals.onHand += entry.onHandAfter - entry.onHandBefore
    totals.reserved += entry.reservedAfter - entry.reservedBefore
    totals.available += sellableOf(level) - sellableOf({ onHand: entry.onHandBefore, reserved: entry.reservedBefore, safetyStock: level.safetyStock })
    running.set(product.sku, totals)
    const data = stockChangedData(product, entry, level, version, totals)
    return { id: deps.ids.next('evt'), type: 'stock.changed', sku: product.sku, warehouseId: entry.warehouseId, skuVersion: version, data, createdAt: now }
  })
  const seqs = await insertOutboxEvents(ex, caps, events)
  const slots = new Map<string, { targetId: string; sku: string; eventSeq: number }>()
  for (const [i, e] of events.entries()) {
    for (const targetId of await deps.events.targetsFor(ex, e, now)) {
      const k = `${targetId}\u0000${e.sku}`
      const seq = seqs[i]!
      if ((slots.get(k)?.eventSeq ?? -1) < seq) slots.set(k, { targetId, sku: e.sku, eventSeq: seq })
    }
  }
  await enqueueDeliverySlots(ex, caps, [...slots.values()], now)
  if (slots.size > 0) deps.events.expect('deliveries')
  await notifyOutbox(ex, caps, deps.store.nodeId)
}

type AppliedOutcome = Extract<BulkItemOutcome, { status: 'applied' | 'stale' | 'unchanged' }>

/** Set absolute counts (`change_type` sync) for up to 10,000 (SKU, warehouse) pairs in one transaction. */
export async function bulkSync(deps: ServiceDeps, input: BulkSyncInput, ctx: RequestContext): Promise<Replayable<BulkSyncResult>> {
  if (input.items.length > MAX_BULK_ITEMS) {
    throw new ValidationError([{ pointer: '/items', message: `must hold at most ${MAX_BULK_ITEMS} items` }])
  }
  assertBulkItemsAllowed(ctx, input.items) // security (#5): the credential's warehouse restriction
  const done = await runIdempotent(deps, claimFor(ctx, 'stock.bulk-sync', input, null), (trx) => writeBulkCounts(deps, trx, input, ctx))
  // After the commit (#15): every count a bulk sync, a CSV count import, a pull or a job applied.
  if (!done.replayed) countItemOutcomes(done.value.items, () => 'sync')
  return done
}

/**
 * The writing half of a bulk sync, inside the caller's transaction (a bulk sync's own, or a
 * provider delivery's, #14): validate, lock, write levels, ledger and outbox set-based.
 */
export async function writeBulkCounts(deps: ServiceDeps, trx: Transaction<Database>, input: BulkSyncInput, ctx: RequestContext): Promise<BulkSyncResult> {
  const caps = deps.store.caps
  const now = deps.clock.now()
  const observedAt = input.observedAt ?? now
  const outcomes: BulkItemOutcome[] = new Array(input.items.length)
  const valid: ValidItem[] = []
  input.items.forEach((raw, i) => {
    const v = validateItem(raw, i)
    if ('status' in v) outcomes[i] = v
    else valid.push(v)
  })
  // Products first, then levels, each in (sku, warehouse_id) order: see the module comment.
  const products = new Map((await lockProductsInOrder(trx, caps, valid.map((v) => v.sku))).map((p) => [p.sku, p]))
  const warehouseIds = new Set((await listWarehouses(trx)).map((w) => w.id))
  const writable: ValidItem[] = []
  for (const item of valid) {
    const product = products.get(item.sku)
    const negative = product ? negativeCountRefused(item.count, item.sku, product.allowsBackorders) : null
    if (!product) {
      outcomes[item.index] = { index: item.index, sku: item.sku, warehouseId: item.warehouseId, status: 'rejected', code: 'sku_not_found', detail: `No product is registered with SKU ${item.sku}` }
    } else if (negative !== null) {
      outcomes[item.index] = { index: item.index, sku: item.sku, warehouseId: item.warehouseId, status: 'rejected', code: 'validation_failed', detail: `/items/${item.index}/quantity: ${negative}` }
    } else if (!warehouseIds.has(item.warehouseId)) {
      outcomes[item.index] = { index: item.index, sku: item.sku, warehouseId: item.warehouseId, status: 'rejected', code: 'warehouse_not_found', detail: `No warehouse has id ${item.warehouseId}` }
    } else {
      writable.push(item)
    }
  }
  // Stable: several counts for one level keep their request order, and the last one wins.
  writable.sort((a, b) => compareLevelKeys(a, b) || a.index - b.index)
  const toLock: LevelToLock[] = []
  for (const item of writable) {
    const last = toLock[toLock.length - 1]
    if (!last || compareLevelKeys(last, item) !== 0) toLock.push({ sku: item.sku, warehouseId: item.warehouseId, defaults: products.get(item.sku)! })
  }
  const levels = await lockLevelsInOrder(trx, caps, toLock, now)

  // What every SKU's levels add up to before this batch: the base of its events' totals.
  const baseTotals = await sumLevelsBySku(trx, caps, [...new Set(toLock.map((l) => l.sku))])
  // Ledger rows with a slot for the id the insert gives them, so their events need no copy.
  const entries: Array<NewLedgerEntry & { id: number }> = []
  const entryOutcome: number[] = []
  const changed: Array<{ readonly entry: number; readonly level: StockLevel }> = []
  const writes = new Map<string, LevelCountWrite>()
  for (const item of writable) {
    const product = products.get(item.sku)!
    const k = levelKeyOf(item)
    const level = levels.get(k)!
    const outcome = applyMovement(level, { kind: 'sync', count: item.count, observedAt }, { allowsBackorders: product.allowsBackorders })
    let after: StockLevel = level
    if (outcome.status === 'unchanged') {
      // Recorded as a count (the stale rule's clock moves), the version and figures stay.
      after = { ...level, lastCountedAt: Math.max(level.lastCountedAt ?? observedAt, observedAt) }
      const first = writes.get(k)
      writes.set(k, { sku: item.sku, warehouseId: item.warehouseId, onHand: after.onHand, fromVersion: first?.fromVersion ?? level.version, toVersion: after.version, lastCountedAt: after.lastCountedAt })
      levels.set(k, after)
    } else if (outcome.status === 'applied') {
      after = { ...level, onHand: outcome.after.onHand, version: level.version + 1, lastCountedAt: Math.max(level.lastCountedAt ?? observedAt, observedAt), updatedAt: now }
      const first = writes.get(k)
      writes.set(k, { sku: item.sku, warehouseId: item.warehouseId, onHand: after.onHand, fromVersion: first?.fromVersion ?? level.version, toVersion: after.version, lastCountedAt: after.lastCountedAt })
      levels.set(k, after)
      changed.push({ entry: entries.length, level: after })
    }
    entries.push({
      id: 0,
      sku: item.sku,
      productId: product.productId,
      warehouseId: item.warehouseId,
      changeType: 'sync',
      status: outcome.status,
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
    entryOutcome.push(item.index)
  }
  // Every level is locked (or the database has a single writer), so no guard can fail here;
  // if one ever does, refuse the whole batch rather than write a ledger the levels disagree with.
  const written = await writeLevelCounts(trx, caps, [...writes.values()], now)
  if (written !== writes.size) {
    throw new DomainError('version_conflict', `${writes.size - written} of the levels in this batch changed while it was written; retry`, {})
  }
  const ids = await appendLedgerEntries(trx, caps, entries)
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!
    e.id = ids[i]!
    const at = entryOutcome[i]!
    outcomes[at] = { index: at, sku: e.sku, warehouseId: e.warehouseId, status: e.status as AppliedOutcome['status'], previous: e.onHandBefore, current: e.onHandAfter, movementId: e.id }
  }
  await recordStockChangedBatch(
    deps,
    trx,
    changed.map((c) => ({ entry: entries[c.entry]!, level: c.level, product: products.get(c.level.sku)! })),
    baseTotals,
    now,
  )
  return resultOf(outcomes)
}
