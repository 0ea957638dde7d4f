/** @module domain/events: what the outside world is told about stock, and who wants to hear it. */

export const EVENT_TYPES = Object.freeze(['stock.changed'] as const)
export type EventType = (typeof EVENT_TYPES)[number]

export interface Figures {
  readonly on_hand: number
  readonly reserved: number
  readonly available: number
}

/** The body of a `stock.changed` event: absolute figures, never deltas, so replays are harmless. */
export interface StockChangedData {
  readonly sku: string
  readonly product_id: number
  readonly parent_id: number | null
  readonly warehouse_id: number
  readonly movement_id: number
  readonly change_type: string
  /** Grows with every movement of this SKU in any warehouse; consumers drop anything older. */
  readonly version: number
  readonly level_version: number
  readonly before: Figures
  readonly after: Figures
  /** Across every warehouse holding the SKU, after this movement. */
  readonly totals: Figures
}

export interface OutboxEvent {
  readonly seq: number
  readonly id: string
  readonly type: EventType
  readonly sku: string
  readonly warehouseId: number
  readonly skuVersion: number
  readonly data: StockChangedData
  readonly createdAt: number
}

/** The JSON every consumer (webhook, SSE) receives. */
export function eventEnvelope(e: OutboxEvent) {
  return { id: e.id, type: e.type, sequence: e.seq, created_at: new Date(e.createdAt).toISOString(), data: e.data }
}

export interface EventFilter {
  readonly events: ReadonlyArray<EventType>
  /** null: every SKU. */
  readonly skus: ReadonlyArray<string> | null
  /** null: every warehouse. */
  readonly warehouses: ReadonlyArray<number> | null
}

export function matchesFilter(f: EventFilter, e: { readonly type: string; readonly sku: string; readonly warehouseId: number }): boolean {
  return (f.events as ReadonlyArray<string>).includes(e.type) && (f.skus === null || f.skus.includes(e.sku)) && (f.warehouses === null || f.warehouses.includes(e.warehouseId))
}
