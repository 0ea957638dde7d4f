/** @module store/migrations/0004: WooCommerce stores, SKU mappings, received webhooks, order lines, drift, reconciliation runs. */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, caps: DialectCaps): Promise<void> {
  const autoId = caps.autoIdType
  const pk = (c: any) => (caps.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()) // eslint-disable-line @typescript-eslint/no-explicit-any

  await db.schema
    .createTable('woo_store')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(100)', (c) => c.notNull().unique())
    .addColumn('base_url', 'varchar(2000)', (c) => c.notNull())
    .addColumn('consumer_key', 'varchar(200)', (c) => c.notNull())
    .addColumn('consumer_secret', 'varchar(500)', (c) => c.notNull())
    // JSON array of warehouse ids whose stock the store sells.
    .addColumn('warehouses', 'text', (c) => c.notNull())
    .addColumn('buffer', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('mode', 'varchar(20)', (c) => c.notNull())
    .addColumn('concurrency', 'integer', (c) => c.notNull().defaultTo(4))
    .addColumn('hold_minutes', 'integer', (c) => c.notNull().defaultTo(60))
    .addColumn('ca_file', 'varchar(1000)')
    .addColumn('webhook_secret', 'varchar(200)')
    .addColumn('callback_url', 'varchar(2000)')
    .addColumn('health', 'varchar(20)', (c) => c.notNull().defaultTo('unknown'))
    .addColumn('health_reason', 'varchar(500)')
    .addColumn('health_changed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()

  // SKU → store product (simple) or (parent, variation); what we last pushed tells our echoes apart.
  await db.schema
    .createTable('woo_mapping')
    .addColumn('store_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('product_id', 'bigint', (c) => c.notNull())
    .addColumn('parent_id', 'bigint')
    .addColumn('last_pushed', 'integer')
    .addColumn('pushing', 'integer')
    .addColumn('pushed_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('woo_mapping_pk', ['store_id', 'sku'])
    .execute()
  await db.schema.createIndex('woo_mapping_product_idx').on('woo_mapping').columns(['store_id', 'product_id']).execute()

  // SKUs the operator should look at: unknown in the store, duplicated there, or only in the store.
  await db.schema
    .createTable('woo_mapping_problem')
    .addColumn('store_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('kind', 'varchar(20)', (c) => c.notNull())
    .addColumn('detail', 'varchar(500)')
    .addColumn('seen_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('woo_mapping_problem_pk', ['store_id', 'sku'])
    .execute()

  // Every signed delivery, stored before we answer; processed from this queue.
  await db.schema
    .createTable('woo_webhook_delivery')
    .addColumn('id', autoId, pk)
    .addColumn('store_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('topic', 'varchar(60)', (c) => c.notNull())
    .addColumn('webhook_id', 'varchar(20)')
    .addColumn('delivery_id', 'varchar(64)')
    .addColumn('resource_id', 'bigint')
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(12)', (c) => c.notNull())
    .addColumn('not_before', 'bigint', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'bigint')
    .addColumn('result', 'varchar(500)')
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('processed_at', 'bigint')
    .execute()
  await db.schema.createIndex('woo_webhook_delivery_due_idx').on('woo_webhook_delivery').columns(['status', 'not_before']).execute()
  await db.schema.createIndex('woo_webhook_delivery_store_idx').on('woo_webhook_delivery').columns(['store_id', 'id']).execute()

  // What the hub did for each order line: the idempotency record of (store, order, line, state).
  await db.schema
    .createTable('woo_order_line')
    .addColumn('store_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('order_id', 'bigint', (c) => c.notNull())
    .addColumn('line_id', 'bigint', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addColumn('phase', 'varchar(12)', (c) => c.notNull())
    .addColumn('order_status', 'varchar(30)', (c) => c.notNull())
    .addColumn('modified_gmt', 'varchar(30)', (c) => c.notNull())
    .addColumn('reservation_id', 'varchar(40)')
    .addColumn('allocation', 'text')
    .addColumn('oversold', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('woo_order_line_pk', ['store_id', 'order_id', 'line_id'])
    .execute()

  await db.schema
    .createTable('woo_drift')
    .addColumn('id', autoId, pk)
    .addColumn('store_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('store_figure', 'integer')
    .addColumn('hub_figure', 'integer', (c) => c.notNull())
    .addColumn('source', 'varchar(20)', (c) => c.notNull())
    .addColumn('run_id', 'varchar(40)')
    .addColumn('detected_at', 'bigint', (c) => c.notNull())
    .addColumn('repaired_at', 'bigint')
    .execute()
  await db.schema.createIndex('woo_drift_store_idx').on('woo_drift').columns(['store_id', 'id']).execute()

  await db.schema
    .createTable('woo_reconcile_run')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('store_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(12)', (c) => c.notNull())
    .addColumn('checked', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('drift', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('repaired', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('webhooks_reenabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'varchar(500)')
    .addColumn('report', 'text')
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute()
  await db.schema.createIndex('woo_reconcile_run_store_idx').on('woo_reconcile_run').columns(['store_id', 'started_at']).execute()
}
