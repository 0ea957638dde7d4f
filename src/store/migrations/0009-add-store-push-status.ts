/**
 * @module store/migrations/0009: what steers pushing to a store (#17) and when it stopped
 * answering (#12.15), so `stores show` and alerts on any node can read them.
 */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _caps: DialectCaps): Promise<void> {
  // One column per ALTER: SQLite takes a single ADD COLUMN per statement.
  // JSON: the delivery pacer's figures (window, requests in flight, latency, backlog) and when.
  await db.schema.alterTable('woo_store').addColumn('push_status', 'text').execute()
  // Set while the store cannot be reached (connection refused, timeouts): since when.
  await db.schema.alterTable('woo_store').addColumn('unreachable_since', 'bigint').execute()
}
