/** @module http/views: domain objects to wire JSON. Never a database row, never a field by accident. */
import type { z } from '@hono/zod-openapi'
import type { LedgerEntry } from '../domain/ledger.js'
import type { Product } from '../domain/product.js'
import type { Reservation } from '../domain/reservation.js'
import type { Warehouse } from '../domain/warehouse.js'
import type { BulkItemOutcome } from '../service/bulk-sync.js'
import type { LevelView, MovementResult, StockView } from '../service/stock.js'
import type { BulkItemSchema, EntrySchema, LevelSchema, MovementSchema, ProductSchema, ReservationSchema, StockSchema, WarehouseSchema } from './schemas.js'

/**
 * Epoch ms → ISO 8601, remembered: a batch read formats two instants per level (550 levels for 50
 * SKUs in 11 warehouses), and levels written by one bulk sync or one batch share their instants.
 */
const isoMemo = new Map<number, string>()
const iso = (ms: number) => {
  let s = isoMemo.get(ms)
  if (s === undefined) {
    s = new Date(ms).toISOString()
    if (isoMemo.size >= 4096) isoMemo.clear()
    isoMemo.set(ms, s)
  }
  return s
}
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms))

export function levelJson(l: LevelView): z.infer<typeof LevelSchema> {
  return {
    warehouse_id: l.warehouseId,
    warehouse_code: l.warehouseCode,
    is_warehouse_active: l.isWarehouseActive,
    on_hand: l.onHand,
    reserved: l.reserved,
    safety_stock: l.safetyStock,
    available: l.available,
    low_stock_threshold: l.lowStockThreshold,
    is_low_stock: l.isLowStock,
    version: l.version,
    last_counted_at: isoOrNull(l.lastCountedAt),
    updated_at: isoOrNull(l.updatedAt),
  }
}

export function stockJson(v: StockView, warehouseId?: number): z.infer<typeof StockSchema> {
  const base = {
    sku: v.product.sku,
    product_id: v.product.productId,
    parent_id: v.product.parentId,
    backorders: v.product.allowsBackorders,
    total_stock: v.totals.onHand,
    total_reserved: v.totals.reserved,
    total_available: v.totals.available,
    totals_scope: warehouseId === undefined ? ('all_warehouses' as const) : ('warehouse' as const),
    warehouse_ids: v.levels.map((l) => l.warehouseId).join(','),
    warehouse_id_list: v.levels.map((l) => l.warehouseId),
    warehouses: v.levels.map(levelJson),
  }
  const one = warehouseId === undefined ? undefined : v.levels[0]
  if (!one) return base
  // The seed's single-warehouse answer was its inventory_master row; keep those names.
  return {
    ...base,
    warehouse_id: one.warehouseId,
    current_stock: one.onHand,
    reserved_stock: one.reserved,
    available_stock: one.available,
    low_stock_threshold: one.lowStockThreshold,
    last_synced: isoOrNull(one.lastCountedAt ?? one.updatedAt),
  }
}

export function entryJson(e: LedgerEntry): z.infer<typeof EntrySchema> {
  return {
    id: e.id,
    sku: e.sku,
    product_id: e.productId,
    warehouse_id: e.warehouseId,
    change_type: e.changeType,
    status: e.status,
    quantity: e.quantity,
    delta: e.onHandAfter - e.onHandBefore,
    previous_stock: e.onHandBefore,
    new_stock: e.onHandAfter,
    reserved_before: e.reservedBefore,
    reserved_after: e.reservedAfter,
    version: e.levelVersion,
    source: e.source,
    reference_id: e.referenceId,
    reservation_id: e.reservationId,
    actor: e.actor,
    notes: e.notes,
    observed_at: isoOrNull(e.observedAt),
    created_at: iso(e.createdAt),
  }
}

export function movementJson(m: MovementResult): z.infer<typeof MovementSchema> {
  return { ...entryJson(m.entry), available: m.level.available, reserved: m.level.reserved, level: levelJson(m.level) }
}

export function bulkItemJson(o: BulkItemOutcome): z.infer<typeof BulkItemSchema> {
  if (o.status === 'rejected') return { index: o.index, sku: o.sku, warehouse_id: o.warehouseId, status: o.status, code: o.code, detail: o.detail }
  return { index: o.index, sku: o.sku, warehouse_id: o.warehouseId, status: o.status, previous_stock: o.previous, new_stock: o.current, movement_id: o.movementId }
}

export function reservationJson(r: Reservation, allocation?: ReadonlyArray<string>): z.infer<typeof ReservationSchema> {
  return {
    id: r.id,
    sku: r.sku,
    quantity: r.quantity,
    status: r.status,
    lines: r.lines.map((l) => ({ warehouse_id: l.warehouseId, quantity: l.quantity })),
    expires_at: iso(r.expiresAt),
    reference_id: r.referenceId,
    source: r.source,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    ...(allocation ? { allocation: [...allocation] } : {}),
  }
}

export function warehouseJson(w: Warehouse): z.infer<typeof WarehouseSchema> {
  return { id: w.id, code: w.code, name: w.name, location: w.location, priority: w.priority, active: w.isActive, created_at: iso(w.createdAt), updated_at: iso(w.updatedAt) }
}

export function productJson(p: Product): z.infer<typeof ProductSchema> {
  return {
    sku: p.sku,
    product_id: p.productId,
    parent_id: p.parentId,
    name: p.name,
    backorders: p.allowsBackorders,
    safety_stock: p.safetyStock,
    low_stock_threshold: p.lowStockThreshold,
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
  }
}
