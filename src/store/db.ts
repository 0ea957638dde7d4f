/** @module store/db: open the database named by a URL, with the right driver and settings. */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { ConnectionOptions } from 'node:tls'
import SQLite from 'better-sqlite3'
import { Kysely, SqliteDialect, PostgresDialect, type SqliteDatabase, type Transaction } from 'kysely'
import pg from 'pg'
import type { Database } from './schema.js'
import { POSTGRES_CAPS, SQLITE_CAPS, type DialectCaps } from './dialect.js'
import { startCheckpointer } from './sqlite-checkpointer.js'
import { GroupCommitter } from './group-commit.js'
import { runDirectlyOn } from './compiled.js'
import { OUTBOX_CHANNEL, takeWakeAfterCommit } from './outbox-repo.js'

export type Executor = Kysely<Database> | Transaction<Database>

export interface Store {
  readonly db: Kysely<Database>
  readonly caps: DialectCaps
  /** Where the data lives, with any password removed: safe to log. */
  readonly location: string
  /**
   * This process's name in cross-node notifications: its commits already woke it in-process, so
   * the listener skips notifications that carry it (each one would cost a round of claim queries).
   */
  readonly nodeId: string
  /**
   * Run `work` in a write transaction. PostgreSQL: a transaction of its own. SQLite: a share of a
   * group commit (store/group-commit.ts), answered once that transaction has committed.
   */
  transact<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T>
  /** PostgreSQL: the pool's connections right now (no query); absent on SQLite. For metrics (#15). */
  readonly poolStats?: () => { total: number; idle: number; waiting: number }
  /**
   * PostgreSQL: run one statement on its own (autocommit) as a named prepared statement, parsed
   * and planned once per connection. Kysely sends every query unnamed; the movement statement
   * (store/movement-statement.ts) is long enough that parsing it each time shows. Absent on SQLite.
   */
  readonly queryPrepared?: (name: string, text: string, values: ReadonlyArray<unknown>) => Promise<unknown[]>
  /**
   * PostgreSQL: events were committed outside transact() (store/movement-statement.ts): wake the
   * other nodes (one coalesced NOTIFY, see outbox-repo wakeAfterCommit). Absent on SQLite.
   */
  readonly announceEvents?: () => void
  /**
   * PostgreSQL: one transaction on one connection, its first statement sent with BEGIN in one
   * round trip (simple protocol, so `opening` carries no parameters: quote values with
   * `quoteLiteral`), then prepared statements, then COMMIT. Rolled back if any of them throws.
   * Returns the rows of each prepared statement. Absent on SQLite.
   */
  readonly transactPrepared?: (opening: string, statements: ReadonlyArray<PreparedStatement>) => Promise<unknown[][]>
  /** PostgreSQL: a value quoted as an SQL literal for `transactPrepared`'s opening statement. */
  readonly quoteLiteral?: (value: string) => string
  /** SQLite: what has been written, for caches of what was read (see WriteWatch). Absent on PostgreSQL. */
  readonly writeWatch?: WriteWatch
  /**
   * SQLite: the count of API key changes that can refuse a key (migration 0014's triggers count
   * them for every connection to the file), read now; null when it cannot be read (not migrated
   * yet). Caches of verified keys compare it before trusting what they hold. Absent on PostgreSQL,
   * where the same changes are notified instead (store/listen.ts).
   */
  readonly apiKeyRevision?: () => number | null
  close(): Promise<void>
}

/** The tables a stock read depends on; a write to `warehouse` may change any answer. */
export type WatchedTable = 'product' | 'stock_level' | 'warehouse'

/**
 * SQLite: enough to know, without reading the data, whether it may have changed since it was read.
 *
 * Writes through this connection (the service's only writing connection: HTTP, jobs, the admin UI
 * all share it) are reported row by row by temporary triggers, which live on this connection only
 * (other processes never see them). A commit by any other connection (the CLI, a second server on
 * the same file) moves `data_version` instead, which says only that something changed.
 *
 * Absent on PostgreSQL: another node's commit reaches this one only later, by NOTIFY, so nothing
 * read there can be given again without risking a figure older than a write already answered.
 */
export interface WriteWatch {
  /** `PRAGMA data_version`: moves when another connection has committed. Null when it cannot be read now. */
  foreignVersion(): number | null
  /** True while this connection has a transaction open (what it reads then may be rolled back). */
  inTransaction(): boolean
  /**
   * Call `onWrite` for every row written through this connection to a watched table, with the
   * row's SKU (before and after, for an update), or null for a warehouse. Called inside the
   * writing statement, before its transaction commits, and also for writes later rolled back.
   * False when the triggers cannot be made (tables not yet migrated): nothing is watched then.
   */
  watch(onWrite: (table: WatchedTable, sku: string | null) => void): boolean
}

const WATCH_TRIGGERS = ['product', 'stock_level']
  .flatMap((t) => [
    `create temp trigger if not exists sb_watch_${t}_i after insert on main.${t} begin select sb_written('${t}', new.sku); end`,
    `create temp trigger if not exists sb_watch_${t}_u after update on main.${t} begin select sb_written('${t}', old.sku); select sb_written('${t}', new.sku) where new.sku is not old.sku; end`,
    `create temp trigger if not exists sb_watch_${t}_d after delete on main.${t} begin select sb_written('${t}', old.sku); end`,
  ])
  .concat(['insert', 'update', 'delete'].map((op) => `create temp trigger if not exists sb_watch_warehouse_${op[0]} after ${op} on main.warehouse begin select sb_written('warehouse', null); end`))

function watchWrites(sqlite: SQLite.Database): WriteWatch {
  const dataVersion = sqlite.prepare('select data_version from pragma_data_version').pluck()
  const watchers = new Set<(table: WatchedTable, sku: string | null) => void>()
  let installed = false
  return {
    foreignVersion() {
      try {
        return dataVersion.get() as number
      } catch {
        return null
      }
    },
    inTransaction: () => sqlite.inTransaction,
    watch(onWrite) {
      if (!installed) {
        try {
          sqlite.function('sb_written', { deterministic: false }, (table: unknown, sku: unknown) => {
            // Watchers guard themselves (a cache that fails to take note drops all it holds); a
            // failing one must still not fail the write it hears of.
            for (const w of watchers) {
              try {
                w(table as WatchedTable, sku === null ? null : String(sku))
              } catch {
                // see above
              }
            }
            return null
          })
          sqlite.transaction(() => {
            for (const t of WATCH_TRIGGERS) sqlite.exec(t)
          })()
          installed = true
        } catch {
          return false
        }
      }
      watchers.add(onWrite)
      return true
    },
  }
}

export interface PreparedStatement {
  readonly name: string
  readonly text: string
  readonly values: ReadonlyArray<unknown>
}

export type DatabaseTarget = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string }

/** `postgres://…` / `postgresql://…`, `sqlite:PATH`, `sqlite::memory:`, or a plain file path. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url }
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', path: url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new Error(`Unsupported database URL scheme in "${url.split('://')[0]}://…"`)
  return { kind: 'sqlite', path: url }
}

export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const
/**
 * libpq's sslmode, minus `allow` and `prefer`: node-postgres cannot fall back from TLS to plain
 * text, so those would silently mean something else. `require` encrypts without checking the
 * certificate (as libpq does, unless a root certificate is given: then it checks the chain, as
 * verify-ca); `verify-ca` checks the chain; `verify-full` checks the chain and the host name.
 */
export type SslMode = (typeof SSL_MODES)[number]

export interface PostgresOptions {
  /** Connections per process. Default 8: on 2 cores throughput stopped growing past ~8. */
  readonly poolSize?: number
  /** Server-side statement_timeout; 0 or absent: none. A timed-out statement answers 503. */
  readonly statementTimeoutMs?: number
  /**
   * How long a query waits for a connection (a new one, or a free one of a busy pool) before it
   * fails, and so answers 503 instead of hanging while the database is unreachable. Default 5 s.
   */
  readonly connectTimeoutMs?: number
  /** Overrides the URL's `sslmode`. Absent both: disable (node-postgres' default). */
  readonly sslMode?: SslMode
  /** A PEM file of the certificate authorities to trust; overrides the URL's `sslrootcert`. */
  readonly sslRootCertFile?: string
  /** Shown in pg_stat_activity, so operators can tell the service's sessions apart. */
  readonly applicationName?: string
}

export interface SqliteOptions {
  /** Checkpoint the WAL on a worker thread instead of inside commits (store/sqlite-checkpointer.ts). The server turns it on. */
  readonly backgroundCheckpoints?: boolean
}

export function openStore(url: string, options: PostgresOptions & SqliteOptions = {}): Store {
  const target = parseDatabaseUrl(url)
  return target.kind === 'sqlite' ? openSqlite(target.path, options) : openPostgres(target.url, options)
}

function openSqlite(file: string, options: SqliteOptions): Store {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
  const sqlite = new SQLite(file)
  sqlite.pragma('journal_mode = WAL')
  // NORMAL in WAL mode is durable against process crashes; only a power loss can drop the last
  // commits. FULL would fsync on every commit and cap writes at the disk's fsync rate.
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  // 32 MiB of page cache instead of SQLite's 2 MiB: a bulk count or import walks the level, ledger
  // and outbox indexes of 100,000 rows, and with the default most of those pages were read again
  // from the OS on every chunk (A/B, CSV import of 100,000 counts: 7.4–7.7 s → 5.7–7.8 s).
  sqlite.pragma('cache_size = -32768')
  const statements = cachingStatements(sqlite)
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) })
  const checkpointer = options.backgroundCheckpoints && file !== ':memory:' ? startCheckpointer(sqlite, file) : null
  const close = async () => {
    // The serving connection closes last: SQLite then checkpoints the whole WAL and removes it.
    await checkpointer?.stop()
    await db.destroy()
  }
  const bookkeeping = new Map<string, SQLite.Statement>()
  const group = new GroupCommitter(db, {
    direct: (text) => {
      let stmt = bookkeeping.get(text)
      if (!stmt) bookkeeping.set(text, (stmt = sqlite.prepare(text)))
      stmt.run()
    },
    // A unit's compiled statements run on the held connection as Kysely's driver would run them
    // (same cached statement, `all` for statements that return rows), without its executor.
    onHold: (conn) =>
      runDirectlyOn(conn, (text, parameters) => {
        const stmt = statements.prepare(text) as unknown as SQLite.Statement
        if (stmt.reader) return stmt.all(parameters) as unknown[]
        stmt.run(parameters)
        return []
      }),
  })
  return { db, caps: SQLITE_CAPS, location: `sqlite:${file}`, nodeId: randomUUID(), transact: (work) => group.run(work), writeWatch: watchWrites(sqlite), apiKeyRevision: readApiKeyRevision(sqlite), close }
}

/** A reader of `api_key_revision`, prepared on first use (the table exists once migrated). */
function readApiKeyRevision(sqlite: SQLite.Database): () => number | null {
  let stmt: SQLite.Statement | null = null
  return () => {
    try {
      stmt ??= sqlite.prepare('select revision from api_key_revision where id = 1').pluck()
      const v = stmt.get()
      return typeof v === 'number' ? v : null
    } catch {
      return null
    }
  }
}

/** Distinct SQL texts to keep prepared; IN-lists of many lengths would otherwise grow it without end. */
const STATEMENT_CACHE_SIZE = 500
/** The bulk writer's VALUES chunks (store/batch.ts) run to ~40 KB of text, in a few fixed shapes. */
const MAX_CACHED_STATEMENT_CHARS = 65_536

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
        // Longer texts are one-off statements: caching them would only pin them in memory.
        if (text.length > MAX_CACHED_STATEMENT_CHARS) return stmt
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string)
      }
      cache.set(text, stmt)
      return stmt
    },
  }
}

export interface PostgresConnection {
  /** The URL without its TLS parameters, which `ssl` now carries. */
  readonly connectionString: string
  readonly ssl: false | ConnectionOptions
}

const URL_SSL_PARAMS = ['sslmode', 'sslrootcert', 'ssl', 'uselibpqcompat'] as const

/**
 * TLS settings from the options and the URL (`?sslmode=…&sslrootcert=…`), with libpq's meaning.
 * The TLS parameters are taken out of the URL because node-postgres would otherwise apply its
 * own reading of them over ours (it treats `require` as `verify-full`).
 */
export function resolvePostgresConnection(url: string, options: Pick<PostgresOptions, 'sslMode' | 'sslRootCertFile'> = {}): PostgresConnection {
  const u = new URL(url)
  const urlMode = u.searchParams.get('sslmode') ?? (u.searchParams.get('ssl') === 'true' ? 'require' : null)
  const urlRootCert = u.searchParams.get('sslrootcert')
  for (const p of URL_SSL_PARAMS) u.searchParams.delete(p)
  const connectionString = u.toString()
  const raw = options.sslMode ?? urlMode ?? 'disable'
  const mode = raw === 'no-verify' ? 'require' : raw
  if (!(SSL_MODES as ReadonlyArray<string>).includes(mode)) {
    throw new Error(`Unsupported sslmode "${raw}": use one of ${SSL_MODES.join(', ')} (node-postgres cannot fall back between TLS and plain text, so allow and prefer are refused)`)
  }
  if (mode === 'disable') return { connectionString, ssl: false }
  const caFile = options.sslRootCertFile ?? urlRootCert ?? undefined
  const ca = caFile ? fs.readFileSync(caFile, 'utf8') : undefined
  const verifyChain = mode !== 'require' || ca !== undefined
  const ssl: ConnectionOptions = {
    rejectUnauthorized: verifyChain,
    ...(ca !== undefined ? { ca } : {}),
    // verify-ca (and require with a root certificate) trusts the chain but not the host name.
    ...(verifyChain && mode !== 'verify-full' ? { checkServerIdentity: () => undefined } : {}),
  }
  return { connectionString, ssl }
}

/** A Postgres URL with its password masked: safe to log. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
}

function openPostgres(url: string, options: PostgresOptions): Store {
  // BIGINT (int8) arrives as a string by default; our bigints are epoch-ms and ids, all far below 2^53.
  pg.types.setTypeParser(20, (v) => Number(v))
  const { connectionString, ssl } = resolvePostgresConnection(url, options)
  const statementTimeout = options.statementTimeoutMs ?? 0
  const pool = new pg.Pool({
    connectionString,
    ssl,
    max: options.poolSize ?? 8,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    // Notice a dead peer (a cut network, a failed-over server) on idle connections.
    keepAlive: true,
    application_name: options.applicationName ?? 'stockbridge',
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    // Our transactions never wait on anything but the database, so one left idle for a minute
    // belongs to a node that froze or lost its network: end it and free its row locks.
    idle_in_transaction_session_timeout: 60_000,
  })
  // A connection that dies (server restart, pg_terminate_backend, failover, a cut network) must
  // not crash the process. Idle in the pool, the pool reports it here and drops it. Checked out,
  // node-postgres emits 'error' on the client itself, which nobody else listens to (Kysely does
  // not), and an unhandled 'error' event would kill the process: the query in flight fails with
  // that error instead (answered 503), and the pool drops the client when it comes back.
  pool.on('error', () => {})
  pool.on('connect', (client) => client.on('error', () => {}))
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  const poolStats = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount })
  const queryPrepared = async (name: string, text: string, values: ReadonlyArray<unknown>) => (await pool.query({ name, text, values: [...values] })).rows as unknown[]
  const transactPrepared = async (opening: string, statements: ReadonlyArray<PreparedStatement>) => {
    const client = await pool.connect()
    let broken: Error | undefined
    try {
      await client.query(`BEGIN; ${opening}`)
      const out: unknown[][] = []
      for (const st of statements) out.push((await client.query({ name: st.name, text: st.text, values: [...st.values] })).rows as unknown[])
      await client.query('COMMIT')
      return out
    } catch (e) {
      // A connection that cannot even roll back is dropped from the pool, not handed out again.
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
      })
      throw e
    } finally {
      client.release(broken)
    }
  }
  const quoteLiteral = (value: string) => pg.escapeLiteral(value)
  const nodeId = randomUUID()
  const announceEvents = coalescedNotify(pool, nodeId)
  const transact = async <T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> => {
    let owesWake = false
    const out = await db.transaction().execute(async (trx) => {
      const r = await work(trx)
      owesWake = takeWakeAfterCommit(trx)
      return r
    })
    if (owesWake) announceEvents()
    return out
  }
  return {
    db,
    caps: POSTGRES_CAPS,
    location: redactDatabaseUrl(url),
    nodeId,
    transact,
    announceEvents,
    poolStats,
    queryPrepared,
    transactPrepared,
    quoteLiteral,
    close: () => db.destroy(),
  }
}

/**
 * One NOTIFY on the outbox channel (payload: this node) after commits that wrote events, never
 * more than one in flight: commits during a send are covered by one more send after it. Under a
 * stream of writes that is one NOTIFY per round trip at most, whatever the commit rate. A failed
 * send is dropped: listeners also poll, and the next commit sends again.
 */
function coalescedNotify(pool: pg.Pool, nodeId: string): () => void {
  let sending = false
  let again = false
  const send = async () => {
    sending = true
    try {
      do {
        again = false
        await pool.query({ name: 'sb_outbox_notify', text: 'SELECT pg_notify($1, $2)', values: [OUTBOX_CHANNEL, nodeId] }).catch(() => {})
      } while (again)
    } finally {
      sending = false
    }
  }
  return () => {
    if (sending) again = true
    else void send()
  }
}
