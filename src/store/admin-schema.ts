/** @module store/admin-schema: the admin UI's tables (#16), kept apart from the core schema. */
import type { ColumnType } from 'kysely'

type BigIntColumn = ColumnType<number | string, number, number>

export interface AdminSessionTable {
  id_hash: string
  key_id: string
  csrf_token: string
  created_at: BigIntColumn
  last_seen_at: BigIntColumn
  expires_at: BigIntColumn
}

export interface AdminTables {
  admin_session: AdminSessionTable
}
