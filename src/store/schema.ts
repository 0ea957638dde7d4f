/** @module store/schema: the database as Kysely sees it. Times are epoch milliseconds; flags are 0/1. */
import type { ColumnType, Generated } from 'kysely'
import type { ProviderTables } from './provider-schema.js'
import type { WooTables } from './woo-schema.js'
import type { AdminTables } from './admin-schema.js'
import type { PullTables } from './pull-schema.js'

/** PostgreSQL returns BIGINT as a string; repositories convert with Number(). */
type BigIntColumn = ColumnType<number | string, number, number>
type NullableBigInt = ColumnType<number | string | null, number | null, number | null>

export interface WarehouseTable {
  id: Generated<number>
  code: string
  name: string
  location: string | null
  priority: number
  is_active: number
  created_at: BigIntColumn
  updated_at: BigIntColumn
}

export interface ProductTable {
  sku: string
  product_id: BigIntColumn
  parent_id: NullableBigInt
  name: string | null
  allows_backorders: number
  safety_stock: number
  low_stock_threshold: number
  stock_version: Generated<number>
  created_at: BigIntColumn
  updated_at: BigIntColumn
}

export interface StockLevelTable {
  sku: string
  warehouse_id: number
  on_hand: number
  reserved: number
  safety_stock: number
  low_stock_threshold: number
  version: number
  last_counted_at: NullableBigInt
  updated_at: BigIntColumn
}

export interface LedgerEntryTable {
  id: Generated<number | string>
  sku: string
  product_id: BigIntColumn
  warehouse_id: number
  change_type: string
  status: string
  quantity: number
  on_hand_before: number
  on_hand_after: number
  reserved_before: number
  reserved_after: number
  level_version: number
  source: string
  reference_id: string | null
  reservation_id: string | null
  actor: string
  notes: string | null
  observed_at: NullableBigInt
  created_at: BigIntColumn
}

export interface ReservationTable {
  id: string
  sku: string
  quantity: number
  status: string
  expires_at: BigIntColumn
  reference_id: string | null
  source: string
  actor: string
  notes: string | null
  created_at: BigIntColumn
  updated_at: BigIntColumn
}

export interface ReservationLineTable {
  reservation_id: string
  warehouse_id: number
  quantity: number
}

export interface IdempotencyRecordTable {
  scope: string
  key: string
  request_hash: string
  response: string
  created_at: BigIntColumn
}

export interface ApiKeyTable {
  id: string
  name: string
  key_hash: string
  key_prefix: string
  scopes: string
  created_at: BigIntColumn
  revoked_at: NullableBigInt
  last_used_at: NullableBigInt
  // 0003 (security #5)
  warehouses: string | null
  expires_at: NullableBigInt
  require_signature: ColumnType<number, number | undefined, number>
  signing_secret: string | null
  rotated_from: string | null
}

export interface RequestNonceTable {
  key_id: string
  nonce: string
  expires_at: BigIntColumn
}

export interface InboundWebhookTable {
  seq: Generated<number | string>
  id: string
  provider: string
  event_type: string | null
  status: string
  body: string
  outcome: string | null
  received_at: BigIntColumn
}

export interface OutboxEventTable {
  seq: Generated<number | string>
  id: string
  type: string
  sku: string
  warehouse_id: number
  sku_version: number
  payload: string
  tx_id: NullableBigInt
  created_at: BigIntColumn
}

export interface SubscriptionTable {
  id: string
  url: string
  secret: string
  events: string
  skus: string | null
  warehouses: string | null
  is_active: number
  created_at: BigIntColumn
}

export interface DeliveryTable {
  target_id: string
  sku: string
  event_seq: BigIntColumn
  attempts: number
  next_attempt_at: BigIntColumn
  locked_by: string | null
  locked_until: NullableBigInt
  last_error: string | null
  last_status: number | null
  created_at: BigIntColumn
  /** Set while the slot is claimed: when the first change that came meanwhile was written (0015). */
  pending_since: ColumnType<number | string | null, number | null | undefined, number | null>
}

export interface DeliveryAttemptTable {
  id: Generated<number | string>
  target_id: string
  event_id: string
  sku: string
  outcome: string
  status_code: number | null
  error: string | null
  duration_ms: number
  attempted_at: BigIntColumn
}

export interface DeadLetterTable {
  id: string
  target_id: string
  sku: string
  event_seq: BigIntColumn
  attempts: number
  last_error: string | null
  last_status: number | null
  created_at: BigIntColumn
  replayed_at: NullableBigInt
}

export interface JobTable {
  id: string
  type: string
  status: string
  input: string
  actor: string
  total: number
  done: number
  result: string | null
  error: string | null
  locked_by: string | null
  locked_until: NullableBigInt
  created_at: BigIntColumn
  updated_at: BigIntColumn
}

/** The first admin key's secret, sealed, until the key is first used (migration 0006). */
export interface PendingFirstKeyTable {
  key_id: string
  sealed_secret: string
  created_at: BigIntColumn
}

export interface AlertCursorTable {
  name: string
  tx_id: BigIntColumn
  seq: BigIntColumn
  updated_at: BigIntColumn
}

export interface AlertStateTable {
  key: string
  state: string
  version: Generated<number>
  updated_at: BigIntColumn
}

export interface AlertTable {
  id: string
  kind: string
  scope: string
  state_key: string
  sku: string | null
  warehouse_id: number | null
  subject: string | null
  status: string
  available: number | null
  threshold: number | null
  detail: string | null
  source_event_id: string | null
  event_seq: NullableBigInt
  raised_at: BigIntColumn
  acknowledged_at: NullableBigInt
  acknowledged_by: string | null
  closed_at: NullableBigInt
}

export interface AlertChannelTable {
  id: string
  name: string
  kind: string
  config: string
  mode: string
  digest_seconds: number
  kinds: string
  scopes: string
  is_active: number
  digest_through_seq: BigIntColumn
  created_at: BigIntColumn
}

export interface Database extends WooTables, AdminTables, ProviderTables, PullTables {
  alert_cursor: AlertCursorTable
  alert_state: AlertStateTable
  alert: AlertTable
  alert_channel: AlertChannelTable
  warehouse: WarehouseTable
  product: ProductTable
  stock_level: StockLevelTable
  ledger_entry: LedgerEntryTable
  reservation: ReservationTable
  reservation_line: ReservationLineTable
  idempotency_record: IdempotencyRecordTable
  api_key: ApiKeyTable
  request_nonce: RequestNonceTable
  inbound_webhook: InboundWebhookTable
  outbox_event: OutboxEventTable
  subscription: SubscriptionTable
  delivery: DeliveryTable
  delivery_attempt: DeliveryAttemptTable
  dead_letter: DeadLetterTable
  job: JobTable
  pending_first_key: PendingFirstKeyTable
}
