/** @module store/woo-schema: the WooCommerce connector's tables as Kysely sees them (migration 0004). */
import type { ColumnType, Generated } from 'kysely'

type BigIntColumn = ColumnType<number | string, number, number>
type NullableBigInt = ColumnType<number | string | null, number | null, number | null>

export interface WooStoreTable {
  id: string
  name: string
  base_url: string
  consumer_key: string
  consumer_secret: string
  warehouses: string
  buffer: number
  mode: string
  concurrency: number
  hold_minutes: number
  ca_file: string | null
  webhook_secret: string | null
  callback_url: string | null
  health: string
  health_reason: string | null
  health_changed_at: NullableBigInt
  /** JSON of the delivery pacer's figures (sync/pacing.ts) with `at`; null before the first push. */
  push_status: string | null
  unreachable_since: NullableBigInt
  created_at: BigIntColumn
  updated_at: BigIntColumn
}

export interface WooMappingTable {
  store_id: string
  sku: string
  product_id: BigIntColumn
  parent_id: NullableBigInt
  last_pushed: number | null
  pushing: number | null
  pushed_at: NullableBigInt
  updated_at: BigIntColumn
}

export interface WooMappingProblemTable {
  store_id: string
  sku: string
  kind: string
  detail: string | null
  seen_at: BigIntColumn
}

export interface WooWebhookDeliveryTable {
  id: Generated<number | string>
  store_id: string
  topic: string
  webhook_id: string | null
  delivery_id: string | null
  resource_id: NullableBigInt
  body: string
  status: string
  not_before: BigIntColumn
  attempts: number
  locked_until: NullableBigInt
  result: string | null
  received_at: BigIntColumn
  processed_at: NullableBigInt
}

export interface WooOrderLineTable {
  store_id: string
  order_id: BigIntColumn
  line_id: BigIntColumn
  sku: string
  quantity: number
  phase: string
  order_status: string
  modified_gmt: string
  reservation_id: string | null
  allocation: string | null
  oversold: number
  /** Units returned to stock by restocking refunds, as recorded so far (migration 0006). */
  refund_restocked: Generated<number>
  updated_at: BigIntColumn
}

export interface WooDriftTable {
  id: Generated<number | string>
  store_id: string
  sku: string
  store_figure: number | null
  hub_figure: number
  source: string
  run_id: string | null
  detected_at: BigIntColumn
  repaired_at: NullableBigInt
}

export interface WooReconcileRunTable {
  id: string
  store_id: string
  dry_run: number
  status: string
  checked: number
  drift: number
  repaired: number
  webhooks_reenabled: number
  error: string | null
  report: string | null
  started_at: BigIntColumn
  finished_at: NullableBigInt
}

export interface WooTables {
  woo_store: WooStoreTable
  woo_mapping: WooMappingTable
  woo_mapping_problem: WooMappingProblemTable
  woo_webhook_delivery: WooWebhookDeliveryTable
  woo_order_line: WooOrderLineTable
  woo_drift: WooDriftTable
  woo_reconcile_run: WooReconcileRunTable
}
