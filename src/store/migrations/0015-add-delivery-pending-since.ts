/**
 * @module store/migrations/0015: when the first change a delivery slot took while its SKU was in
 * flight was written. Completing the delivery used to make the slot due "now", so a change that
 * came during a slow store's request waited that request out and then a whole batching window
 * more (#17: at 60 changes/s, p99 3.4–4.3 s). The window now counts from this time.
 */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _caps: DialectCaps): Promise<void> {
  await db.schema.alterTable('delivery').addColumn('pending_since', 'bigint').execute()
}
