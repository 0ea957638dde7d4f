/** @module store/pull-schema: warehouse pull sources and their runs as Kysely sees them (migration 0012). */
import type { ColumnType } from 'kysely'

type BigIntColumn = ColumnType<number | string, number, number>
type NullableBigInt = ColumnType<number | string | null, number | null, number | null>

export interface WarehousePullTable {
  warehouse_id: number
  url: string
  auth_kind: string
  auth_name: string | null
  auth_secret: string | null
  mapping: string | null
  pagination: string
  interval_seconds: number | null
  cron: string | null
  timeout_ms: number
  enabled: number
  health: string
  health_reason: string | null
  failures: number
  next_run_at: NullableBigInt
  locked_by: string | null
  locked_until: NullableBigInt
  last_run_at: NullableBigInt
  created_at: BigIntColumn
  updated_at: BigIntColumn
}

export interface PullRunTable {
  id: string
  warehouse_id: number
  trigger: string
  dry_run: number
  status: string
  pages: number
  fetched: number
  applied: number
  unchanged: number
  stale: number
  rejected: number
  observed_at: NullableBigInt
  error: string | null
  report: string | null
  started_at: BigIntColumn
  finished_at: NullableBigInt
}

export interface PullTables {
  warehouse_pull: WarehousePullTable
  pull_run: PullRunTable
}
