/**
 * @module store/migrations/0006: the first admin key's secret kept until its first use (so a
 * start that is interrupted, or output that scrolled away, never loses it), and the units a
 * WooCommerce order line has put back into stock through restocking refunds.
 */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _caps: DialectCaps): Promise<void> {
  // Sealed like signing secrets (KEY_ENCRYPTION_KEY); the row is deleted when the key is first used.
  await db.schema
    .createTable('pending_first_key')
    .addColumn('key_id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('sealed_secret', 'varchar(300)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  // Cumulative `_restock_refunded_items` of the line already recorded as returns.
  await db.schema.alterTable('woo_order_line').addColumn('refund_restocked', 'integer', (c) => c.notNull().defaultTo(0)).execute()
}
