/** @module store/provider-schema: inbound providers' tables as Kysely sees them (migration 0007). */
import type { ColumnType, Generated } from 'kysely'

type BigIntColumn = ColumnType<number | string, number, number>
type NullableBigInt = ColumnType<number | string | null, number | null, number | null>

export interface ProviderTable {
  name: string
  secret: string
  header: string
  encoding: string
  prefix: string
  warehouses: string | null
  mapping: string
  preset: string | null
  unknown_sku: string
  created_at: BigIntColumn
  updated_at: BigIntColumn
}

export interface ProviderSkuAliasTable {
  provider: string
  external_sku: string
  sku: string
  created_at: BigIntColumn
}

export interface HeldItemTable {
  seq: Generated<number | string>
  id: string
  provider: string
  external_sku: string
  event_id: string
  item_index: number
  movement: string
  status: string
  outcome: string | null
  held_at: BigIntColumn
  resolved_at: NullableBigInt
}

export interface ProviderTables {
  provider: ProviderTable
  provider_sku_alias: ProviderSkuAliasTable
  held_item: HeldItemTable
}
