/** @module store/migrations/0008: stock and operational alerts, their channels, and the evaluator's place in the event stream (#15). */
import { sql, type Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _caps: DialectCaps): Promise<void> {
  // Where alert evaluation stands in the outbox: one row, locked by whichever node evaluates, so
  // each committed event is evaluated exactly once whatever the number of nodes.
  await db.schema
    .createTable('alert_cursor')
    .addColumn('name', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('tx_id', 'bigint', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  // Start after what is already there: history written before alerts existed raises nothing.
  await sql`insert into alert_cursor (name, tx_id, seq, updated_at)
            select 'stock', coalesce(max(tx_id), 0), coalesce(max(seq), 0), 0 from outbox_event`.execute(db)

  // What each watched figure last was (ok / low / out), so a crossing is seen once and re-arms only on recovery.
  await db.schema
    .createTable('alert_state')
    .addColumn('key', 'varchar(300)', (c) => c.primaryKey())
    .addColumn('state', 'varchar(10)', (c) => c.notNull())
    // The SKU's event version last evaluated for this figure: on PostgreSQL events arrive in
    // transaction order, which is not always commit order; an older figure never overrides a newer.
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('alert')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(40)', (c) => c.notNull())
    .addColumn('scope', 'varchar(12)', (c) => c.notNull())
    .addColumn('state_key', 'varchar(300)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)')
    .addColumn('warehouse_id', 'integer')
    .addColumn('subject', 'varchar(200)')
    .addColumn('status', 'varchar(12)', (c) => c.notNull())
    .addColumn('available', 'integer')
    .addColumn('threshold', 'integer')
    .addColumn('detail', 'varchar(2000)')
    .addColumn('source_event_id', 'varchar(40)')
    // The alert's own outbox event (null: no channel wanted it); digests list alerts by it.
    .addColumn('event_seq', 'bigint')
    .addColumn('raised_at', 'bigint', (c) => c.notNull())
    .addColumn('acknowledged_at', 'bigint')
    .addColumn('acknowledged_by', 'varchar(100)')
    .addColumn('closed_at', 'bigint')
    .execute()
  await db.schema.createIndex('alert_status_idx').on('alert').columns(['status', 'raised_at']).execute()
  await db.schema.createIndex('alert_state_key_idx').on('alert').columns(['state_key', 'status']).execute()
  await db.schema.createIndex('alert_event_seq_idx').on('alert').column('event_seq').execute()

  await db.schema
    .createTable('alert_channel')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(100)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(20)', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('mode', 'varchar(12)', (c) => c.notNull())
    .addColumn('digest_seconds', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('kinds', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('is_active', 'integer', (c) => c.notNull().defaultTo(1))
    // Digests: the last alert event already sent (the next digest lists what came after).
    .addColumn('digest_through_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
}
