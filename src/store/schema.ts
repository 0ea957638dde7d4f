/** @module store/schema: the database as Kysely sees it. Times are epoch milliseconds; flags are 0/1. */
import type { ColumnType, Generated } from 'kysely'

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
}

export interface Database {
  warehouse: WarehouseTable
  product: ProductTable
  stock_level: StockLevelTable
  ledger_entry: LedgerEntryTable
  reservation: ReservationTable
  reservation_line: ReservationLineTable
  idempotency_record: IdempotencyRecordTable
  api_key: ApiKeyTable
}
