/**
 * Several nodes starting at once against one empty PostgreSQL database (#4): Kysely's Migrator
 * takes a session advisory lock (pg_advisory_lock) around the whole run, so exactly one node
 * migrates and the others wait, then find nothing left to do.
 */
import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/db.js'
import { migrateToLatest } from '../../src/store/migrate.js'
import { DATABASES } from '../support/databases.js'
import { adminSession, createEmptyPgDatabase, databaseOf, waitUntil, type EmptyDatabase } from '../support/pg-admin.js'

const pgDb = DATABASES.find((d) => d.name === 'postgres')

// Kysely's PostgresAdapter lock id (kysely/dist/esm/dialect/postgres/postgres-adapter.js).
const KYSELY_MIGRATION_LOCK_ID = '3853314791062309107'

describe.skipIf(!pgDb || pgDb.skipReason !== null)('postgres: migrations with several nodes starting at once', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {})
  })

  async function nodes(db: EmptyDatabase, n: number): Promise<Store[]> {
    // One store per node: separate pools, separate sessions, as separate processes would have.
    const stores = Array.from({ length: n }, () => openStore(db.url, { poolSize: 2 }))
    cleanup.push(() => Promise.all(stores.map((s) => s.close())))
    return stores
  }

  it('migrates exactly once when eight nodes start together; every node succeeds', async () => {
    const db = await createEmptyPgDatabase()
    cleanup.push(() => db.drop())
    const stores = await nodes(db, 8)
    const reports = await Promise.all(stores.map((s) => migrateToLatest(s.db, s.caps)))
    const applied = reports.map((r) => r.applied.length)
    const migrated = reports.filter((r) => r.applied.length > 0)
    expect(migrated).toHaveLength(1)
    expect(applied.filter((n) => n === 0)).toHaveLength(7)
    const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(stores[0]!.db)
    expect(rows.rows.map((r) => r.name)).toEqual(migrated[0]!.applied)
    expect(new Set(rows.rows.map((r) => r.name)).size).toBe(rows.rows.length)
    // The schema is there once and usable from every node.
    for (const s of stores) expect(Number((await sql<{ n: string }>`select count(*) as n from stock_level`.execute(s.db)).rows[0]!.n)).toBe(0)
    // A later start finds nothing to do.
    expect((await migrateToLatest(stores[3]!.db, stores[3]!.caps)).applied).toEqual([])
  })

  it('waits on the advisory lock while another node holds it, then migrates', async () => {
    const db = await createEmptyPgDatabase()
    cleanup.push(() => db.drop())
    const [store] = await nodes(db, 1)
    const holder = await adminSession(db.url)
    cleanup.push(() => holder.end())
    await holder.query(`select pg_advisory_lock(${KYSELY_MIGRATION_LOCK_ID})`)

    const migrating = migrateToLatest(store!.db, store!.caps)
    // The node's session is now queued behind the holder on exactly that advisory lock.
    await waitUntil('the migrating node to wait on the advisory lock', async () => {
      const r = await holder.query(
        `select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and not l.granted and a.datname = $1 and a.pid <> pg_backend_pid()`,
        [databaseOf(db.url)],
      )
      return (r.rows[0] as { n: number }).n === 1
    })
    const before = await holder.query(`select count(*)::int as n from kysely_migration`)
    expect((before.rows[0] as { n: number }).n).toBe(0)

    await holder.query(`select pg_advisory_unlock(${KYSELY_MIGRATION_LOCK_ID})`)
    const report = await migrating
    expect(report.applied.length).toBeGreaterThan(0)
    const after = await holder.query(`select count(*)::int as n from kysely_migration`)
    expect((after.rows[0] as { n: number }).n).toBe(report.applied.length)
  })

  it('waits longer than the statement timeout for another node, and leaves the timeout in place afterwards', async () => {
    const db = await createEmptyPgDatabase()
    cleanup.push(() => db.drop())
    const store = openStore(db.url, { poolSize: 1, statementTimeoutMs: 200 })
    cleanup.push(() => store.close())
    const holder = await adminSession(db.url)
    cleanup.push(() => holder.end())
    await holder.query(`select pg_advisory_lock(${KYSELY_MIGRATION_LOCK_ID})`)
    const migrating = migrateToLatest(store.db, store.caps)
    // Wait until the server reports the node has been waiting for the lock for well over 200 ms.
    await waitUntil('the migrating node to wait past its statement timeout', async () => {
      const r = await holder.query(
        `select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and not l.granted and a.datname = $1 and now() - a.query_start > interval '1 second'`,
        [databaseOf(db.url)],
      )
      return (r.rows[0] as { n: number }).n === 1
    })
    await holder.query(`select pg_advisory_unlock(${KYSELY_MIGRATION_LOCK_ID})`)
    expect((await migrating).applied.length).toBeGreaterThan(0)
    // The pooled connection the migration used is back to the configured timeout.
    expect((await sql<{ statement_timeout: string }>`show statement_timeout`.execute(store.db)).rows[0]!.statement_timeout).toBe('200ms')
  })
})
