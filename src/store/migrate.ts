/** @module store/migrate: bring a database's schema up to date. Forward only. */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import type { Database } from './schema.js'
import type { DialectCaps } from './dialect.js'
import * as m0001 from './migrations/0001-create-core-tables.js'
import * as m0002 from './migrations/0002-create-event-tables.js'
import * as m0003 from './migrations/0003-add-key-security.js'
import * as m0004 from './migrations/0004-create-woocommerce-tables.js'
import * as m0005 from './migrations/0005-add-list-indexes.js'
import * as m0006 from './migrations/0006-first-key-and-refunds.js'
import * as m0007 from './migrations/0007-create-provider-tables.js'
import * as m0008 from './migrations/0008-create-alert-tables.js'
import * as m0009 from './migrations/0009-add-store-push-status.js'
import * as m0011 from './migrations/0011-create-admin-sessions.js'
import * as m0012 from './migrations/0012-create-supply-pull-tables.js'
import * as m0013 from './migrations/0013-set-write-fillfactor.js'
import * as m0014 from './migrations/0014-signal-api-key-changes.js'
import * as m0015 from './migrations/0015-add-delivery-pending-since.js'

// A static map, not a directory glob, so a bundled or compiled build still carries every migration.
const MIGRATIONS = {
  '0001-create-core-tables': m0001,
  '0002-create-event-tables': m0002,
  '0003-add-key-security': m0003,
  '0004-create-woocommerce-tables': m0004,
  '0005-add-list-indexes': m0005,
  '0006-first-key-and-refunds': m0006,
  '0007-create-provider-tables': m0007,
  '0008-create-alert-tables': m0008,
  '0009-add-store-push-status': m0009,
  '0011-create-admin-sessions': m0011,
  '0012-create-supply-pull-tables': m0012,
  '0013-set-write-fillfactor': m0013,
  '0014-signal-api-key-changes': m0014,
  '0015-add-delivery-pending-since': m0015,
} as const

function providerFor(caps: DialectCaps): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {}
      for (const [name, mod] of Object.entries(MIGRATIONS)) out[name] = { up: (db) => mod.up(db, caps) }
      return out
    },
  }
}

export interface MigrationReport {
  readonly applied: ReadonlyArray<string>
}

/**
 * Apply every pending migration. Kysely's Migrator holds a session advisory lock on PostgreSQL
 * (pg_advisory_lock) for the whole run and reads what is applied only once it has the lock, so
 * nodes starting together migrate once: one applies, the others wait and find nothing to do.
 * SQLite serialises the run through its write lock.
 *
 * The run gets one connection with the statement timeout lifted: a node waiting for another's
 * migration, or a long migration itself, would otherwise be cancelled after the 30 s meant for
 * requests. The timeout is restored before the connection goes back to the pool.
 */
export async function migrateToLatest(db: Kysely<Database>, caps: DialectCaps): Promise<MigrationReport> {
  return db.connection().execute(async (conn) => {
    if (caps.statementTimeouts) await sql`set statement_timeout = 0`.execute(conn)
    try {
      const migrator = new Migrator({ db: conn, provider: providerFor(caps) })
      const { error, results } = await migrator.migrateToLatest()
      if (error) throw new Error('Database migration failed', { cause: error })
      return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) }
    } finally {
      if (caps.statementTimeouts) await sql`reset statement_timeout`.execute(conn)
    }
  })
}

/** Migrations this build knows that the database has not applied (readiness, #15). */
export async function pendingMigrations(db: Kysely<Database>): Promise<string[]> {
  const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(db)
  const applied = new Set(rows.rows.map((r) => r.name))
  return Object.keys(MIGRATIONS).filter((n) => !applied.has(n))
}
