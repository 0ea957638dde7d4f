/**
 * The database matrix: every integration and e2e suite runs once per entry.
 * STOCKBRIDGE_TEST_DATABASES=sqlite,postgres picks them (default: both). PostgreSQL is taken from
 * STOCKBRIDGE_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres). Without a reachable
 * server its half is skipped with a visible reason, except under CI=true, where that is a failure.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { openStore, type Store } from '../../src/store/db.js'
import { migrateToLatest } from '../../src/store/migrate.js'

export type TestDatabase = 'sqlite' | 'postgres'

const requested = (process.env.STOCKBRIDGE_TEST_DATABASES ?? 'sqlite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as TestDatabase[]

export const PG_ADMIN_URL = process.env.STOCKBRIDGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

async function probePostgres(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('select 1')
    return null
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  } finally {
    await client.end().catch(() => {})
  }
}

const pgProblem = requested.includes('postgres') ? await probePostgres() : null
if (pgProblem !== null) {
  if (process.env.CI === 'true') throw new Error(`CI requires PostgreSQL at ${PG_ADMIN_URL}, which is unreachable: ${pgProblem}`)
  console.warn(`[stockbridge tests] PostgreSQL suites SKIPPED: ${PG_ADMIN_URL} unreachable (${pgProblem})`)
}

/** The databases to run against, each with whether it is available here. */
export const DATABASES: ReadonlyArray<{ readonly name: TestDatabase; readonly skipReason: string | null }> = requested.map((name) => ({
  name,
  skipReason: name === 'postgres' && pgProblem !== null ? `PostgreSQL unreachable: ${pgProblem}` : null,
}))

export interface TestStore {
  readonly store: Store
  readonly url: string
  drop(): Promise<void>
}

let counter = 0

/** A fresh, migrated database: an SQLite file in a temp dir, or a new PostgreSQL database. */
export async function createTestStore(kind: TestDatabase): Promise<TestStore> {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-test-'))
    const url = `sqlite:${path.join(dir, 'stock.db')}`
    const store = openStore(url)
    await migrateToLatest(store.db, store.caps)
    return {
      store,
      url,
      async drop() {
        await store.close().catch(() => {})
        fs.rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const name = `sb_test_${process.pid}_${Date.now().toString(36)}_${counter++}`
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const u = new URL(PG_ADMIN_URL)
  u.pathname = `/${name}`
  const url = u.toString()
  const store = openStore(url, { poolSize: 16 })
  await migrateToLatest(store.db, store.caps)
  return {
    store,
    url,
    async drop() {
      await store.close().catch(() => {})
      const c = new pg.Client({ connectionString: PG_ADMIN_URL })
      await c.connect()
      await c.query(`drop database if exists ${name} with (force)`)
      await c.end()
    },
  }
}
