/** @module store/migrations/0001: warehouses, products, stock levels, the ledger, reservations, idempotency, API keys. */
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import type { DialectCaps } from '../dialect.js'

const sqlRaw = (text: string) => sql.raw(text)

// Kysely<any> on purpose: a migration is frozen in time and must not follow later schema types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, caps: DialectCaps): Promise<void> {
  const autoId = caps.autoIdType

  await db.schema
    .createTable('warehouse')
    .addColumn('id', autoId, (c) => (caps.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('code', 'varchar(50)', (c) => c.notNull().unique())
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('location', 'varchar(500)')
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('is_active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()

  await db.schema
    .createTable('product')
    .addColumn('sku', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('product_id', 'bigint', (c) => c.notNull())
    .addColumn('parent_id', 'bigint')
    .addColumn('name', 'varchar(200)')
    .addColumn('allows_backorders', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('safety_stock', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('low_stock_threshold', 'integer', (c) => c.notNull().defaultTo(5))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('product_product_id_idx').on('product').column('product_id').execute()
  await db.schema.createIndex('product_parent_id_idx').on('product').column('parent_id').execute()

  await db.schema
    .createTable('stock_level')
    .addColumn('sku', 'varchar(100)', (c) => c.notNull().references('product.sku'))
    .addColumn('warehouse_id', 'integer', (c) => c.notNull().references('warehouse.id'))
    .addColumn('on_hand', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reserved', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('safety_stock', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('low_stock_threshold', 'integer', (c) => c.notNull().defaultTo(5))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_counted_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('stock_level_pk', ['sku', 'warehouse_id'])
    .addCheckConstraint('stock_level_reserved_ck', sqlRaw('reserved >= 0'))
    .execute()
  await db.schema.createIndex('stock_level_warehouse_idx').on('stock_level').column('warehouse_id').execute()

  await db.schema
    .createTable('ledger_entry')
    .addColumn('id', autoId, (c) => (caps.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('product_id', 'bigint', (c) => c.notNull())
    .addColumn('warehouse_id', 'integer', (c) => c.notNull())
    .addColumn('change_type', 'varchar(20)', (c) => c.notNull())
    .addColumn('status', 'varchar(10)', (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addColumn('on_hand_before', 'integer', (c) => c.notNull())
    .addColumn('on_hand_after', 'integer', (c) => c.notNull())
    .addColumn('reserved_before', 'integer', (c) => c.notNull())
    .addColumn('reserved_after', 'integer', (c) => c.notNull())
    .addColumn('level_version', 'integer', (c) => c.notNull())
    .addColumn('source', 'varchar(100)', (c) => c.notNull())
    .addColumn('reference_id', 'varchar(100)')
    .addColumn('reservation_id', 'varchar(40)')
    .addColumn('actor', 'varchar(100)', (c) => c.notNull())
    .addColumn('notes', 'text')
    .addColumn('observed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  // History is read newest-first per SKU (and per product through its SKUs); retention prunes by time.
  await db.schema.createIndex('ledger_entry_sku_idx').on('ledger_entry').columns(['sku', 'id']).execute()
  await db.schema.createIndex('ledger_entry_created_idx').on('ledger_entry').column('created_at').execute()

  await db.schema
    .createTable('reservation')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull().references('product.sku'))
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(10)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('reference_id', 'varchar(100)')
    .addColumn('source', 'varchar(100)', (c) => c.notNull())
    .addColumn('actor', 'varchar(100)', (c) => c.notNull())
    .addColumn('notes', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('reservation_due_idx').on('reservation').columns(['status', 'expires_at']).execute()

  await db.schema
    .createTable('reservation_line')
    .addColumn('reservation_id', 'varchar(40)', (c) => c.notNull().references('reservation.id'))
    .addColumn('warehouse_id', 'integer', (c) => c.notNull().references('warehouse.id'))
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('reservation_line_pk', ['reservation_id', 'warehouse_id'])
    .execute()

  await db.schema
    .createTable('idempotency_record')
    .addColumn('scope', 'varchar(200)', (c) => c.notNull())
    .addColumn('key', 'varchar(400)', (c) => c.notNull())
    .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('response', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_record_pk', ['scope', 'key'])
    .execute()
  await db.schema.createIndex('idempotency_record_created_idx').on('idempotency_record').column('created_at').execute()

  await db.schema
    .createTable('api_key')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('key_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('key_prefix', 'varchar(20)', (c) => c.notNull())
    .addColumn('scopes', 'varchar(100)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .execute()
}
