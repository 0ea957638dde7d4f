/**
 * PostgreSQL administration for tests that need more than a migrated database: an empty one (to
 * race migrations), an admin session (to hold locks, terminate backends, watch pg_stat_activity),
 * and waiting for a condition the server reports.
 */
import pg from 'pg'
import { PG_ADMIN_URL } from './databases.js'

let counter = 0

export interface EmptyDatabase {
  readonly name: string
  readonly url: string
  drop(): Promise<void>
}

/** A new, empty PostgreSQL database (no migrations run). */
export async function createEmptyPgDatabase(prefix = 'sb_empty'): Promise<EmptyDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`
  await withAdmin((c) => c.query(`create database ${name}`))
  const u = new URL(PG_ADMIN_URL)
  u.pathname = `/${name}`
  return { name, url: u.toString(), drop: () => withAdmin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined) }
}

export async function withAdmin<T>(work: (c: pg.Client) => Promise<T>, url = PG_ADMIN_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'sb-test-admin' })
  await c.connect()
  try {
    return await work(c)
  } finally {
    await c.end()
  }
}

/** An open admin session on one database (close it yourself). */
export async function adminSession(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: 'sb-test-admin' })
  await c.connect()
  return c
}

/** The database name of a PostgreSQL URL. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1))
}

/**
 * Resolve once `probe` returns a truthy value: for conditions only the server can report (a
 * backend waiting on a lock, a session gone). Polls briefly; fails after `timeoutMs`.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
