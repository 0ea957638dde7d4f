/**
 * @module store/migrations/0011: admin UI sessions (#16). Kept in the database, not in memory,
 * so any node behind a load balancer can serve the next page of a session another node opened.
 */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _caps: DialectCaps): Promise<void> {
  await db.schema
    .createTable('admin_session')
    // SHA-256 of the cookie's token: a leaked database does not hand out live sessions.
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('key_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('csrf_token', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('admin_session_expires_idx').on('admin_session').column('expires_at').execute()
  await db.schema.createIndex('admin_session_key_idx').on('admin_session').column('key_id').execute()
  // The stock browser filtered by warehouse walks one warehouse's levels in SKU order (keyset
  // paging) instead of sorting them: 390 ms → a few ms per page at 1,000,000 levels. Levels are
  // inserted once (first movement) and never change key, so writes barely pay for it.
  await db.schema.createIndex('stock_level_warehouse_sku_idx').on('stock_level').columns(['warehouse_id', 'sku']).execute()
}
