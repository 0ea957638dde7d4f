/**
 * @module connectors/woocommerce/orders: what an order's state means for the hub's stock.
 *
 * Deliveries are late, coalesced, duplicated and reordered, and their body is the order as it is
 * at delivery time. So the hub acts on the state it sees, per line, exactly once per state:
 *   pending                          → a reservation (with expiry) across the store's warehouses
 *   processing / on-hold / completed → a sale (committing the reservation when there is one)
 *   cancelled / failed               → release the reservation, or restock what is still sold
 *   refunded                         → release a reservation; a line that took stock stays sold
 * Refunds: WooCommerce's restocking refunds put units back in its own stock and count them on the
 * line (`_restock_refunded_items`, cumulative); the hub returns the growth of that count, once,
 * to the warehouses the sale took the units from. A refund without restock moves nothing.
 * Edits: a sold (or reserved) line whose quantity changed moves the difference only.
 * Each line's record (store, order, line) holds the phase reached; a body in an earlier phase, or
 * older than the last one applied, changes nothing. A cancelled order that comes back to
 * processing later (newer modification date) is sold again.
 */
import { allocateByPriority, type AllocationCandidate } from '../../domain/allocation.js'
import { DomainError } from '../../domain/errors.js'
import type { Product } from '../../domain/product.js'
import type { Reservation } from '../../domain/reservation.js'
import { availableOf } from '../../domain/stock-level.js'
import type { ServiceDeps } from '../../service/deps.js'
import { lockProduct, writeDelta, type MovementMeta, type WriteTarget } from '../../service/level-writer.js'
import { countMovements } from '../../service/movement-metrics.js'
import { inTransaction } from '../../service/transaction.js'
import { findProduct } from '../../store/product-repo.js'
import { closeReservation, findReservation, insertReservation } from '../../store/reservation-repo.js'
import { findLevelsBySkus } from '../../store/stock-repo.js'
import { listWarehouses } from '../../store/warehouse-repo.js'
import * as repo from '../../store/woo-repo.js'
import type { LinePhase, OrderLineRecord, WooStore } from '../../store/woo-repo.js'

type Target = 'reserved' | 'sold' | 'closed'

const TARGET_OF_STATUS: Readonly<Record<string, Target>> = {
  pending: 'reserved',
  processing: 'sold',
  'on-hold': 'sold',
  completed: 'sold',
  cancelled: 'closed',
  refunded: 'closed',
  failed: 'closed',
}

const RANK: Readonly<Record<LinePhase, number>> = { none: 0, reserved: 1, sold: 2, released: 3, restocked: 3, closed: 3 }
const TARGET_RANK: Readonly<Record<Target, number>> = { reserved: 1, sold: 2, closed: 3 }

export interface OrderBody {
  readonly id: number
  readonly status: string
  readonly date_modified_gmt?: string | null
  readonly line_items?: ReadonlyArray<OrderLine>
}

export interface OrderLine {
  readonly id: number
  readonly product_id: number
  readonly variation_id: number
  readonly quantity: number
  readonly sku?: string | null
  readonly meta_data?: ReadonlyArray<{ key?: unknown; value?: unknown } | null> | null
}

export function isOrderBody(x: unknown): x is OrderBody {
  const o = x as Partial<OrderBody> | null
  return typeof o === 'object' && o !== null && Number.isSafeInteger(o.id) && typeof o.status === 'string' && (o.line_items === undefined || Array.isArray(o.line_items))
}

export interface LineOutcome {
  readonly lineId: number
  readonly sku: string | null
  readonly action: string
}

/** The change types an order line's transaction wrote, by its write target (one per attempt): counted once it committed (#15). */
const movedBy = new WeakMap<WriteTarget, string[]>()

async function writeCounted(...args: Parameters<typeof writeDelta>): ReturnType<typeof writeDelta> {
  const written = await writeDelta(...args)
  movedBy.get(args[0])?.push(args[4].changeType)
  return written
}

/** Apply an order body to the hub, line by line, each line in its own transaction. */
export async function processOrder(deps: ServiceDeps, store: WooStore, order: OrderBody): Promise<LineOutcome[]> {
  const statusTarget = TARGET_OF_STATUS[order.status]
  const out: LineOutcome[] = []
  if (!statusTarget) return [{ lineId: 0, sku: null, action: `status ${order.status} moves no stock` }]
  const modified = order.date_modified_gmt ?? ''
  for (const line of order.line_items ?? []) {
    const quantity = Math.trunc(Number(line.quantity))
    if (!Number.isSafeInteger(line.id) || !(quantity > 0)) {
      out.push({ lineId: Number(line.id) || 0, sku: null, action: 'skipped: no quantity' })
      continue
    }
    const sku = await hubSkuOf(deps, store, line)
    if (!sku) {
      out.push({ lineId: line.id, sku: line.sku ?? null, action: 'skipped: SKU unknown to the hub' })
      continue
    }
    const refunds = refundMeta(line)
    let moved: string[] = []
    const action = await inTransaction(deps, async (trx) => {
      moved = []
      const now = deps.clock.now()
      const rec = await repo.lockOrderLine(trx, deps.store.caps, { storeId: store.id, orderId: order.id, lineId: line.id, sku, quantity }, now)
      if (rec.modifiedGmt && modified && modified < rec.modifiedGmt) return `stale (${order.status} at ${modified}; already applied ${rec.orderStatus} at ${rec.modifiedGmt})`
      // A refund does not close what it leaves sold: a line that took stock stays sold, and only
      // what its restocking refunds put back (below) returns. Otherwise refunded closes as before.
      const target: Target = order.status === 'refunded' && (rec.phase === 'sold' || refunds.tookStock) ? 'sold' : statusTarget
      const cur = RANK[rec.phase]
      const want = TARGET_RANK[target]
      const newer = modified !== '' && modified > rec.modifiedGmt
      const reopen = target === 'sold' && cur === 3 && newer
      const stepPhase = want > cur || reopen
      // After the phase step the line is sold (or reserved); an edited quantity or a grown refund
      // restock moves the difference only.
      const endsSold = stepPhase ? target === 'sold' : rec.phase === 'sold'
      const endsReserved = stepPhase ? target === 'reserved' : rec.phase === 'reserved'
      const edited = !stepPhase && (endsSold || endsReserved) && quantity !== rec.quantity
      const returned = Math.min(quantity, Math.max(rec.refundRestocked, refunds.restocked))
      const refundGrew = endsSold && returned > rec.refundRestocked && !(stepPhase && reopen)
      if (!stepPhase && !edited && !refundGrew) {
        if (newer) await repo.saveOrderLine(trx, { ...rec, orderStatus: order.status, modifiedGmt: modified }, now)
        return `unchanged (${rec.phase})`
      }
      const product = await lockProduct(trx, deps.store.caps, rec.sku)
      const t: WriteTarget = { ex: trx, caps: deps.store.caps, now, deps }
      movedBy.set(t, moved)
      const meta = (changeType: MovementMeta['changeType'], reservationId: string | null = null, why = order.status): MovementMeta => ({
        changeType,
        source: `woocommerce:${store.name}`.slice(0, 100),
        referenceId: `${order.id}:${line.id}`,
        reservationId,
        actor: `system:woocommerce:${store.id}`,
        notes: `order ${order.id} line ${line.id} ${why}`,
      })
      const next: { -readonly [K in keyof OrderLineRecord]: OrderLineRecord[K] } = { ...rec, quantity, orderStatus: order.status, modifiedGmt: modified || rec.modifiedGmt }
      const actions: string[] = []
      if (stepPhase && target === 'reserved') {
        const r = await reserve(deps, t, store, product, quantity, order, line.id, meta)
        Object.assign(next, { phase: 'reserved', reservationId: r?.id ?? null })
        actions.push(r ? `reserved ${quantity} (${r.id})` : `not reserved: ${quantity} exceed what is available`)
      } else if (stepPhase && target === 'sold') {
        let committed = false
        if (rec.phase === 'reserved' && rec.reservationId) committed = await commitOrRelease(t, rec.reservationId, product, meta)
        const committedReservation = committed ? await findReservation(trx, rec.reservationId!) : undefined
        if (committedReservation && committedReservation.quantity === quantity) {
          Object.assign(next, { phase: 'sold', allocation: committedReservation.lines.map((l) => ({ warehouseId: l.warehouseId, quantity: l.quantity })) })
          actions.push(`sold ${quantity} (committed ${rec.reservationId})`)
        } else {
          const already = committedReservation ? committedReservation.lines.map((l) => ({ warehouseId: l.warehouseId, quantity: l.quantity })) : []
          const extra = quantity - sum(already)
          const sale = extra > 0 ? await sell(deps, t, store, product, extra, meta) : { lines: [], oversold: 0 }
          const back = extra < 0 ? await putBack(t, product, already, -extra, meta('restock', null, `${order.status}: quantity ${rec.quantity} → ${quantity}`)) : already
          Object.assign(next, { phase: 'sold', allocation: mergeAllocation(back, sale.lines), oversold: sale.oversold })
          actions.push(`sold ${quantity}${committedReservation ? ` (committed ${rec.reservationId}, reserved ${committedReservation.quantity})` : ''}${sale.oversold ? ` (${sale.oversold} beyond available: backordered)` : ''}`)
          if (sale.oversold) deps.log.warn({ store: store.name, order: order.id, sku: rec.sku, oversold: sale.oversold }, 'WooCommerce order sold more than the hub had available')
        }
        // A reopened line is sold whole again; returns recorded before stay recorded.
        if (reopen) next.refundRestocked = Math.max(rec.refundRestocked, returned)
      } else if (stepPhase && rec.phase === 'reserved') {
        if (rec.reservationId) await releaseIfActive(t, rec.reservationId, product, meta)
        Object.assign(next, { phase: 'released' })
        actions.push(`released ${rec.quantity}`)
      } else if (stepPhase && rec.phase === 'sold') {
        // What is still taken: the sale less what restocking refunds already put back.
        for (const l of rec.allocation ?? []) if (l.quantity > 0) await writeCounted(t, product, l.warehouseId, { kind: 'restock', quantity: l.quantity }, meta('restock'))
        Object.assign(next, { phase: 'restocked', allocation: [] })
        actions.push(`restocked ${sum(rec.allocation ?? [])}`)
      } else if (stepPhase) {
        Object.assign(next, { phase: 'closed' })
        actions.push(`closed (${order.status}) before any stock moved`)
      } else if (edited && endsReserved) {
        // A pending order's line edited: hold the new quantity instead of the old.
        if (rec.reservationId) await releaseIfActive(t, rec.reservationId, product, meta)
        const r = await reserve(deps, t, store, product, quantity, order, line.id, meta)
        Object.assign(next, { reservationId: r?.id ?? null })
        actions.push(r ? `reservation ${rec.quantity} → ${quantity} (${r.id})` : `not reserved: ${quantity} exceed what is available`)
      } else if (edited) {
        // A sold line edited (WooCommerce moves its own stock by the difference): sell the extra
        // units, or put the removed ones back where the sale took them.
        const allocation = rec.allocation ?? []
        const why = `${order.status}: quantity ${rec.quantity} → ${quantity}`
        if (quantity > rec.quantity) {
          const sale = await sell(deps, t, store, product, quantity - rec.quantity, (c, r) => meta(c, r ?? null, why))
          Object.assign(next, { allocation: mergeAllocation(allocation, sale.lines), oversold: rec.oversold + sale.oversold })
          actions.push(`sold ${quantity - rec.quantity} more (quantity ${rec.quantity} → ${quantity})`)
        } else {
          Object.assign(next, { allocation: await putBack(t, product, allocation, rec.quantity - quantity, meta('restock', null, why)) })
          actions.push(`restocked ${rec.quantity - quantity} (quantity ${rec.quantity} → ${quantity})`)
        }
      }
      if (refundGrew && next.phase === 'sold') {
        // `_restock_refunded_items` is cumulative: only its growth since the last body is new.
        const units = returned - rec.refundRestocked
        next.allocation = await putBack(t, product, next.allocation ?? [], units, meta('restock', null, `refund restocked ${units} (${returned} of ${quantity} returned)`))
        next.refundRestocked = returned
        actions.push(`returned ${units} (refund restock, ${returned} of ${quantity} so far)`)
      }
      await repo.saveOrderLine(trx, next, now)
      // Entering processing/on-hold/completed, cancelled, an edit or a restocking refund:
      // WooCommerce moves its own stock, so what we last pushed is no longer what it shows and
      // the push this movement triggers must go out.
      if (next.phase !== 'reserved') await repo.forgetPushed(trx, store.id, [rec.sku])
      return actions.join('; ')
    })
    for (const changeType of moved) countMovements(changeType, 'applied')
    out.push({ lineId: line.id, sku, action })
  }
  deps.events.notify()
  return out
}

type Allocation = ReadonlyArray<{ warehouseId: number; quantity: number }>

const sum = (a: Allocation) => a.reduce((n, l) => n + l.quantity, 0)

function mergeAllocation(a: Allocation, b: Allocation): Array<{ warehouseId: number; quantity: number }> {
  const m = new Map<number, number>()
  for (const l of [...a, ...b]) m.set(l.warehouseId, (m.get(l.warehouseId) ?? 0) + l.quantity)
  return [...m].filter(([, q]) => q > 0).map(([warehouseId, quantity]) => ({ warehouseId, quantity })).sort((x, y) => x.warehouseId - y.warehouseId)
}

/**
 * Put `units` back into the warehouses the sale took them from, the last-allocated first (the
 * lowest priority warehouse gave the last units). Returns what stays allocated. Units beyond the
 * allocation (a line the hub never allocated, e.g. a legacy record) go to the first warehouse.
 */
async function putBack(t: WriteTarget, product: Product, allocation: Allocation, units: number, meta: MovementMeta): Promise<Array<{ warehouseId: number; quantity: number }>> {
  const left = allocation.map((l) => ({ ...l }))
  let rest = units
  for (let i = left.length - 1; i >= 0 && rest > 0; i--) {
    const l = left[i]!
    const q = Math.min(l.quantity, rest)
    if (q <= 0) continue
    await writeCounted(t, product, l.warehouseId, { kind: 'restock', quantity: q }, meta)
    l.quantity -= q
    rest -= q
  }
  if (rest > 0 && left[0]) await writeCounted(t, product, left[0].warehouseId, { kind: 'restock', quantity: rest }, meta)
  return left.filter((l) => l.quantity > 0)
}

/**
 * What WooCommerce says a line's refunds did to stock: `_restock_refunded_items`, the units its
 * restocking refunds put back so far (cumulative), and whether the line took stock at all
 * (`_reduced_stock` set, or a restock that implies it).
 */
function refundMeta(line: OrderLine): { restocked: number; tookStock: boolean } {
  let restocked = 0
  let reduced = false
  for (const m of line.meta_data ?? []) {
    if (m?.key === '_restock_refunded_items') {
      const n = Math.trunc(Number(m.value))
      if (Number.isSafeInteger(n) && n > 0) restocked = n
    } else if (m?.key === '_reduced_stock' && m.value !== '' && m.value !== null && m.value !== undefined) reduced = true
  }
  return { restocked, tookStock: reduced || restocked > 0 }
}

/** The hub SKU of a line: through the store's mapping of its product id, else its SKU when the hub knows it. */
async function hubSkuOf(deps: ServiceDeps, store: WooStore, line: { product_id: number; variation_id: number; sku?: string | null }): Promise<string | null> {
  const storeId = Number(line.variation_id) || Number(line.product_id)
  if (storeId) {
    const m = await repo.findMappingByProductId(deps.store.db, store.id, storeId)
    if (m) return m.sku
  }
  if (typeof line.sku === 'string' && line.sku !== '') {
    const p = await findProduct(deps.store.db, line.sku)
    if (p) return p.sku
  }
  return null
}

/** The store's active warehouses with this SKU's available units, for allocation by priority. */
async function candidatesFor(t: WriteTarget, store: WooStore, sku: string): Promise<AllocationCandidate[]> {
  const [levels, warehouses] = await Promise.all([findLevelsBySkus(t.ex, [sku]), listWarehouses(t.ex)])
  return warehouses
    .filter((w) => w.isActive && store.warehouses.includes(w.id))
    .map((w) => {
      const level = levels.find((l) => l.warehouseId === w.id)
      return { warehouseId: w.id, warehouseCode: w.code, priority: w.priority, available: level ? availableOf(level) : 0 }
    })
}

async function reserve(deps: ServiceDeps, t: WriteTarget, store: WooStore, product: Product, quantity: number, order: OrderBody, lineId: number, meta: (c: MovementMeta['changeType'], r?: string | null) => MovementMeta): Promise<Reservation | null> {
  const candidates = await candidatesFor(t, store, product.sku)
  let lines
  try {
    lines = [...allocateByPriority(product.sku, quantity, candidates, product.allowsBackorders).lines].sort((a, b) => a.warehouseId - b.warehouseId)
  } catch (e) {
    if (e instanceof DomainError && e.code === 'insufficient_stock') return null
    throw e
  }
  if (lines.length === 0) return null
  const id = deps.ids.next('res')
  for (const l of lines) await writeCounted(t, product, l.warehouseId, { kind: 'reserve', quantity: l.quantity }, meta('reserve', id))
  const r: Reservation = {
    id,
    sku: product.sku,
    quantity,
    lines,
    status: 'active',
    expiresAt: t.now + store.holdMinutes * 60_000,
    referenceId: `wc:${store.name}:${order.id}:${lineId}`.slice(0, 255),
    source: `woocommerce:${store.name}`.slice(0, 100),
    actor: `system:woocommerce:${store.id}`,
    createdAt: t.now,
    updatedAt: t.now,
  }
  await insertReservation(t.ex, r, `WooCommerce order ${order.id} (pending)`)
  return r
}

/** Commit an active, unexpired reservation; an expired one is released instead. True when committed. */
async function commitOrRelease(t: WriteTarget, reservationId: string, product: Product, meta: (c: MovementMeta['changeType'], r?: string | null) => MovementMeta): Promise<boolean> {
  const r = await findReservation(t.ex, reservationId)
  if (!r || r.status !== 'active') return false
  if (r.expiresAt <= t.now) {
    await releaseIfActive(t, reservationId, product, meta, 'expired')
    return false
  }
  if (!(await closeReservation(t.ex, reservationId, 'committed', t.now))) return false
  for (const l of r.lines) await writeCounted(t, product, l.warehouseId, { kind: 'commit', quantity: l.quantity }, meta('commit', reservationId))
  return true
}

async function releaseIfActive(t: WriteTarget, reservationId: string, product: Product, meta: (c: MovementMeta['changeType'], r?: string | null) => MovementMeta, status: 'released' | 'expired' = 'released'): Promise<void> {
  const r = await findReservation(t.ex, reservationId)
  if (!r || r.status !== 'active') return
  if (!(await closeReservation(t.ex, reservationId, status, t.now))) return
  for (const l of r.lines) await writeCounted(t, product, l.warehouseId, { kind: 'release', quantity: l.quantity }, meta('release', reservationId))
}

/**
 * A sale across the store's warehouses by priority. The order already happened in the store, so
 * units beyond what is available are still recorded (as a backorder on the first warehouse,
 * on hand going negative) and reported, never dropped: the hub's figure then tells the store 0.
 */
async function sell(deps: ServiceDeps, t: WriteTarget, store: WooStore, product: Product, quantity: number, meta: (c: MovementMeta['changeType'], r?: string | null) => MovementMeta): Promise<{ lines: Array<{ warehouseId: number; quantity: number }>; oversold: number }> {
  const candidates = await candidatesFor(t, store, product.sku)
  if (candidates.length === 0) {
    const fallback = store.warehouses[0]
    if (fallback === undefined) throw new Error(`Store ${store.name} sells from no warehouse`)
    candidates.push({ warehouseId: fallback, warehouseCode: String(fallback), priority: 0, available: 0 })
  }
  const { lines } = allocateByPriority(product.sku, quantity, candidates, true)
  const total = candidates.reduce((s, c) => s + Math.max(0, c.available), 0)
  const oversold = Math.max(0, quantity - total)
  const sorted = [...lines].sort((a, b) => a.warehouseId - b.warehouseId)
  for (const l of sorted) {
    // The part beyond available goes through as a backorder whatever the SKU's own setting.
    const lenient = oversold > 0 ? { ...product, allowsBackorders: true } : product
    await writeCounted(t, lenient, l.warehouseId, { kind: 'sale', quantity: l.quantity }, meta('sale'))
  }
  void deps
  return { lines: sorted.map((l) => ({ warehouseId: l.warehouseId, quantity: l.quantity })), oversold }
}
