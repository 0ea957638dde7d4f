/** @module store/db: open the database named by a URL, with the right driver and settings. */
import fs from 'node:fs'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, SqliteDialect, PostgresDialect, type SqliteDatabase, type Transaction } from 'kysely'
import pg from 'pg'
import type { Database } from './schema.js'
import { POSTGRES_CAPS, SQLITE_CAPS, type DialectCaps } from './dialect.js'

export type Executor = Kysely<Database> | Transaction<Database>

export interface Store {
  readonly db: Kysely<Database>
  readonly caps: DialectCaps
  /** Where the data lives, with any password removed: safe to log. */
  readonly location: string
  close(): Promise<void>
}

export type DatabaseTarget = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string }

/** `postgres://…` / `postgresql://…`, `sqlite:PATH`, `sqlite::memory:`, or a plain file path. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url }
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', path: url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new Error(`Unsupported database URL scheme in "${url.split('://')[0]}://…"`)
  return { kind: 'sqlite', path: url }
}

export interface PostgresOptions {
  readonly poolSize?: number
  readonly statementTimeoutMs?: number
}

export function openStore(url: string, options: PostgresOptions = {}): Store {
  const target = parseDatabaseUrl(url)
  return target.kind === 'sqlite' ? openSqlite(target.path) : openPostgres(target.url, options)
}

function openSqlite(file: string): Store {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
  const sqlite = new SQLite(file)
  sqlite.pragma('journal_mode = WAL')
  // NORMAL in WAL mode is durable against process crashes; only a power loss can drop the last
  // commits. FULL would fsync on every commit and cap writes at the disk's fsync rate.
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) })
  return { db, caps: SQLITE_CAPS, location: `sqlite:${file}`, close: () => db.destroy() }
}

/** Distinct SQL texts to keep prepared; IN-lists of many lengths would otherwise grow it without end. */
const STATEMENT_CACHE_SIZE = 500

/**
 * Kysely's SQLite driver prepares every statement anew, which profiling showed as about a quarter
 * of the CPU of a stock write. The same SQL text always compiles to the same statement, and
 * Kysely runs one query at a time on the connection, so reusing prepared statements is safe.
 */
function cachingStatements(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>()
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let stmt = cache.get(text)
      if (stmt) {
        // Refresh its place so the least recently used statement is the one dropped.
        cache.delete(text)
      } else {
        stmt = sqlite.prepare(text)
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string)
      }
      cache.set(text, stmt)
      return stmt
    },
  }
}

function openPostgres(url: string, options: PostgresOptions): Store {
  // BIGINT (int8) arrives as a string by default; our bigints are epoch-ms and ids, all far below 2^53.
  pg.types.setTypeParser(20, (v) => Number(v))
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  })
  // An idle client losing its connection (server restart, failover) must not crash the process;
  // the pool discards it and the next query connects afresh.
  pool.on('error', () => {})
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  const safe = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
  return { db, caps: POSTGRES_CAPS, location: safe, close: () => db.destroy() }
}
