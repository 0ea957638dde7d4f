/**
 * @module domain/alerts: when a stock figure crossing its low-stock threshold becomes an alert.
 *
 * A watched figure (one warehouse level, or a SKU's total over every warehouse) is in one of
 * three states. An alert is raised only when the state changes in a way someone must hear about:
 *   ok  → low   low_stock       (available ≤ threshold, > 0)
 *   any → out   out_of_stock    (available ≤ 0; from low it escalates, from out it stays quiet)
 *   low/out → ok back_in_stock  (available > threshold + hysteresis)
 * While low or out, nothing repeats: the figure re-arms only once it has recovered above the
 * threshold plus the hysteresis margin. A figure between the threshold and that margin keeps
 * its state, so stock bouncing around the threshold does not flap.
 */

export const STOCK_ALERT_KINDS = Object.freeze(['low_stock', 'out_of_stock', 'back_in_stock'] as const)
export const OPERATIONAL_ALERT_KINDS = Object.freeze(['store_unhealthy', 'dead_letters', 'outbox_lag', 'warehouse_pull_failing', 'provider_mapping_failures', 'store_unreachable'] as const)
export const ALERT_KINDS = Object.freeze([...STOCK_ALERT_KINDS, ...OPERATIONAL_ALERT_KINDS] as const)
export type StockAlertKind = (typeof STOCK_ALERT_KINDS)[number]
export type OperationalAlertKind = (typeof OPERATIONAL_ALERT_KINDS)[number]
export type AlertKind = (typeof ALERT_KINDS)[number]

export const ALERT_SCOPES = Object.freeze(['level', 'total', 'operational'] as const)
export type AlertScope = (typeof ALERT_SCOPES)[number]

export type WatchState = 'ok' | 'low' | 'out'

export interface Crossing {
  readonly next: WatchState
  /** The alert to raise, if the change is one to tell. */
  readonly raise: StockAlertKind | null
}

/** The state a figure is in, judged on its own (no history): for a figure seen the first time. */
export function stateOf(available: number, threshold: number): WatchState {
  if (available <= 0) return 'out'
  if (available <= threshold) return 'low'
  return 'ok'
}

/** The step from `prev` given the figure now. Pure: the evaluator stores `next` with the alert in one transaction. */
export function crossingOf(prev: WatchState, available: number, threshold: number, hysteresis: number): Crossing {
  if (available <= 0) return { next: 'out', raise: prev === 'out' ? null : 'out_of_stock' }
  if (available <= threshold) return prev === 'ok' ? { next: 'low', raise: 'low_stock' } : { next: prev, raise: null }
  if (prev === 'ok') return { next: 'ok', raise: null }
  // Above the threshold but inside the margin: still low (or out) until it clears the margin.
  if (available <= threshold + Math.max(0, hysteresis)) return { next: prev, raise: null }
  return { next: 'ok', raise: 'back_in_stock' }
}

/** The key a watched figure's state lives under. Warehouse 0 never exists, so totals cannot collide. */
export function levelKey(sku: string, warehouseId: number): string {
  return `level:${warehouseId}:${sku}`
}
export function totalKey(sku: string): string {
  return `total:${sku}`
}
export function operationalKey(kind: OperationalAlertKind, subject: string): string {
  return `op:${kind}:${subject}`
}
