/**
 * @module store/migrations/0005: indexes for the lists that page by key (#12): stock levels in
 * byte order of SKU (a prefix is then a range of one index), and reservations by SKU or reference.
 */
import { sql, type Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, caps: DialectCaps): Promise<void> {
  // SQLite's primary key (sku, warehouse_id) is already in byte order (BINARY). PostgreSQL's is in
  // the database's collation, which is not byte order in most locales: the list orders and ranges
  // by sku COLLATE "POSIX" (byte order, like "C"), so it gets an index in that order. Not "C":
  // writers lock levels ORDER BY sku COLLATE "C", and an index in exactly that order changed their
  // plans (a full index walk under FOR UPDATE) and slowed concurrent writers measurably; an index
  // under the twin collation serves only the list. Only inserts touch it: a movement changes no
  // indexed column, so PostgreSQL still updates levels in place (HOT).
  if (caps.name !== 'sqlite') {
    await sql`CREATE INDEX stock_level_sku_bytes_idx ON stock_level (sku COLLATE "POSIX", warehouse_id)`.execute(db)
  }
  await db.schema.createIndex('reservation_sku_idx').on('reservation').columns(['sku', 'id']).execute()
  await db.schema.createIndex('reservation_reference_idx').on('reservation').columns(['reference_id', 'id']).execute()
}
