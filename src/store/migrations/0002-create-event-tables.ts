/** @module store/migrations/0002: the transactional outbox, subscriptions, deliveries, dead letters and jobs. */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, caps: DialectCaps): Promise<void> {
  const autoId = caps.autoIdType
  const pk = (c: any) => (caps.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()) // eslint-disable-line @typescript-eslint/no-explicit-any

  // A per-SKU counter bumped by every movement of the SKU in any warehouse: the event version.
  await db.schema.alterTable('product').addColumn('stock_version', 'integer', (c) => c.notNull().defaultTo(0)).execute()

  await db.schema
    .createTable('outbox_event')
    .addColumn('seq', autoId, pk)
    .addColumn('id', 'varchar(40)', (c) => c.notNull().unique())
    .addColumn('type', 'varchar(40)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('warehouse_id', 'integer', (c) => c.notNull())
    .addColumn('sku_version', 'integer', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    // PostgreSQL: the writing transaction's id. Readers of the sequence skip past nothing: they
    // only take events whose transaction is older than every transaction still running.
    .addColumn('tx_id', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('outbox_event_sku_idx').on('outbox_event').columns(['sku', 'seq']).execute()
  await db.schema.createIndex('outbox_event_created_idx').on('outbox_event').column('created_at').execute()
  // Live streams on PostgreSQL walk events in (transaction, sequence) order.
  await db.schema.createIndex('outbox_event_tx_idx').on('outbox_event').columns(['tx_id', 'seq']).execute()

  await db.schema
    .createTable('subscription')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('url', 'varchar(2000)', (c) => c.notNull())
    .addColumn('secret', 'varchar(100)', (c) => c.notNull())
    .addColumn('events', 'varchar(500)', (c) => c.notNull())
    .addColumn('skus', 'text')
    .addColumn('warehouses', 'text')
    .addColumn('is_active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()

  // One pending delivery per (target, SKU): a newer event replaces the one waiting (coalescing),
  // so a target never receives an older figure after a newer one.
  await db.schema
    .createTable('delivery')
    .addColumn('target_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('event_seq', 'bigint', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('locked_by', 'varchar(60)')
    .addColumn('locked_until', 'bigint')
    .addColumn('last_error', 'varchar(500)')
    .addColumn('last_status', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('delivery_pk', ['target_id', 'sku'])
    .execute()
  await db.schema.createIndex('delivery_due_idx').on('delivery').columns(['next_attempt_at']).execute()

  await db.schema
    .createTable('delivery_attempt')
    .addColumn('id', autoId, pk)
    .addColumn('target_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('event_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('outcome', 'varchar(10)', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('error', 'varchar(500)')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('attempted_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('delivery_attempt_target_idx').on('delivery_attempt').columns(['target_id', 'id']).execute()
  await db.schema.createIndex('delivery_attempt_time_idx').on('delivery_attempt').column('attempted_at').execute()

  await db.schema
    .createTable('dead_letter')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('target_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('event_seq', 'bigint', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('last_error', 'varchar(500)')
    .addColumn('last_status', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('replayed_at', 'bigint')
    .execute()
  await db.schema.createIndex('dead_letter_target_idx').on('dead_letter').columns(['target_id', 'created_at']).execute()

  await db.schema
    .createTable('job')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('type', 'varchar(40)', (c) => c.notNull())
    .addColumn('status', 'varchar(12)', (c) => c.notNull())
    .addColumn('input', 'text', (c) => c.notNull())
    .addColumn('actor', 'varchar(100)', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('result', 'text')
    .addColumn('error', 'varchar(500)')
    .addColumn('locked_by', 'varchar(60)')
    .addColumn('locked_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('job_status_idx').on('job').columns(['status', 'created_at']).execute()
}
