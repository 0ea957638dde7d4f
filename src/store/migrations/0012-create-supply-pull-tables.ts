/** @module store/migrations/0012: scheduled pulls from warehouse APIs (a source per warehouse) and their runs. */
import type { Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _caps: DialectCaps): Promise<void> {
  // One pull source per warehouse. The schedule is a lease on this row: a node claims a due source
  // by moving locked_until forward in one conditional UPDATE, so several nodes run each pull once.
  await db.schema
    .createTable('warehouse_pull')
    .addColumn('warehouse_id', 'integer', (c) => c.primaryKey())
    .addColumn('url', 'varchar(2000)', (c) => c.notNull())
    .addColumn('auth_kind', 'varchar(10)', (c) => c.notNull())
    // Basic auth's user name or the header's name; never secret.
    .addColumn('auth_name', 'varchar(200)')
    // The token, password or header value, sealed with KEY_ENCRYPTION_KEY when set.
    .addColumn('auth_secret', 'text')
    .addColumn('mapping', 'text')
    .addColumn('pagination', 'text', (c) => c.notNull())
    .addColumn('interval_seconds', 'integer')
    .addColumn('cron', 'varchar(200)')
    .addColumn('timeout_ms', 'integer', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('health', 'varchar(20)', (c) => c.notNull().defaultTo('unknown'))
    .addColumn('health_reason', 'varchar(500)')
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_run_at', 'bigint')
    .addColumn('locked_by', 'varchar(100)')
    .addColumn('locked_until', 'bigint')
    .addColumn('last_run_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('warehouse_pull_due_idx').on('warehouse_pull').columns(['enabled', 'next_run_at']).execute()

  await db.schema
    .createTable('pull_run')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('warehouse_id', 'integer', (c) => c.notNull())
    .addColumn('trigger', 'varchar(12)', (c) => c.notNull())
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(12)', (c) => c.notNull())
    .addColumn('pages', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('fetched', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('applied', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('unchanged', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('stale', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('rejected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('observed_at', 'bigint')
    .addColumn('error', 'varchar(1000)')
    .addColumn('report', 'text')
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute()
  await db.schema.createIndex('pull_run_warehouse_idx').on('pull_run').columns(['warehouse_id', 'started_at']).execute()
}
