/**
 * @module store/migrations/0003: security (#5): API key restrictions (warehouses, expiry, required
 * signatures, rotation), the per-key signing secret, request nonces (replay protection shared by
 * every node), and the record of verified inbound provider webhooks.
 */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, caps: DialectCaps): Promise<void> {
  const autoId = caps.autoIdType
  const pk = (c: any) => (caps.name === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()) // eslint-disable-line @typescript-eslint/no-explicit-any

  // One column per ALTER: SQLite takes a single ADD COLUMN per statement.
  // Comma-separated warehouse ids the key may move stock in; NULL: all of them.
  await db.schema.alterTable('api_key').addColumn('warehouses', 'text').execute()
  await db.schema.alterTable('api_key').addColumn('expires_at', 'bigint').execute()
  await db.schema.alterTable('api_key').addColumn('require_signature', 'integer', (c) => c.notNull().defaultTo(0)).execute()
  // The HMAC secret for signed requests. The server must be able to recompute signatures, so it
  // cannot be hashed; it is sealed with AES-256-GCM when KEY_ENCRYPTION_KEY is configured.
  await db.schema.alterTable('api_key').addColumn('signing_secret', 'varchar(300)').execute()
  await db.schema.alterTable('api_key').addColumn('rotated_from', 'varchar(40)').execute()

  // A nonce is remembered until its request's timestamp could no longer be accepted.
  await db.schema
    .createTable('request_nonce')
    .addColumn('key_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('nonce', 'varchar(128)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('request_nonce_pk', ['key_id', 'nonce'])
    .execute()
  await db.schema.createIndex('request_nonce_expires_idx').on('request_nonce').column('expires_at').execute()

  await db.schema
    .createTable('inbound_webhook')
    .addColumn('seq', autoId, pk)
    .addColumn('id', 'varchar(40)', (c) => c.notNull().unique())
    .addColumn('provider', 'varchar(64)', (c) => c.notNull())
    .addColumn('event_type', 'varchar(100)')
    // processed: mapped to movements; accepted: verified and stored, mapping pending; rejected: verified but unusable.
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text')
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('inbound_webhook_provider_idx').on('inbound_webhook').columns(['provider', 'seq']).execute()
}
