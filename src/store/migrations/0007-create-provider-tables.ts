/** @module store/migrations/0007: inbound providers (signature rule + JSONata mapping), their SKU aliases, and held items. */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, caps: DialectCaps): Promise<void> {
  const pk = (c: any) => (caps.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()) // eslint-disable-line @typescript-eslint/no-explicit-any

  // A provider as an admin defines it; the secret is sealed with KEY_ENCRYPTION_KEY when set.
  await db.schema
    .createTable('provider')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('secret', 'varchar(1000)', (c) => c.notNull())
    .addColumn('header', 'varchar(100)', (c) => c.notNull())
    .addColumn('encoding', 'varchar(10)', (c) => c.notNull())
    .addColumn('prefix', 'varchar(20)', (c) => c.notNull())
    // JSON array of warehouse ids the provider may move stock in; null: all.
    .addColumn('warehouses', 'text')
    .addColumn('mapping', 'text', (c) => c.notNull())
    .addColumn('preset', 'varchar(40)')
    .addColumn('unknown_sku', 'varchar(10)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()

  // The provider's name for a SKU → ours (how an admin resolves held items).
  await db.schema
    .createTable('provider_sku_alias')
    .addColumn('provider', 'varchar(64)', (c) => c.notNull())
    .addColumn('external_sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('provider_sku_alias_pk', ['provider', 'external_sku'])
    .execute()

  // Items of an unknown SKU under the `hold` policy, in arrival order (seq), until resolved.
  await db.schema
    .createTable('held_item')
    .addColumn('seq', caps.autoIdType, pk)
    .addColumn('id', 'varchar(40)', (c) => c.notNull().unique())
    .addColumn('provider', 'varchar(64)', (c) => c.notNull())
    .addColumn('external_sku', 'varchar(100)', (c) => c.notNull())
    .addColumn('event_id', 'varchar(200)', (c) => c.notNull())
    .addColumn('item_index', 'integer', (c) => c.notNull())
    // The validated movement as JSON (warehouse resolved to an id).
    .addColumn('movement', 'text', (c) => c.notNull())
    // held, applied, refused, discarded
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('outcome', 'text')
    .addColumn('held_at', 'bigint', (c) => c.notNull())
    .addColumn('resolved_at', 'bigint')
    .execute()
  await db.schema.createIndex('held_item_provider_idx').on('held_item').columns(['provider', 'status', 'external_sku', 'seq']).execute()
}
