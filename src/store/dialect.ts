/**
 * @module store/dialect: what differs between the databases, in one capability object.
 * Queries consult these flags; no other module asks which database it runs on.
 */
export type DialectName = 'sqlite' | 'postgres'

export interface DialectCaps {
  readonly name: DialectName
  /** Column type of an auto-numbered 64-bit primary key. */
  readonly autoIdType: 'integer' | 'bigserial'
  /** Row locks exist (SELECT … FOR UPDATE); SQLite instead serialises every writer. */
  readonly rowLocks: boolean
  /** Most bound parameters one statement may carry (SQLite's default limit is 32,766). */
  readonly maxParams: number
  /** LISTEN/NOTIFY exists, so other nodes can be woken when events commit. */
  readonly notify: boolean
  /**
   * A whole batch of rows binds as one JSON parameter (json_to_recordset), so a statement over
   * 10,000 rows is one round trip with no parameter limit (PostgreSQL). Without it, set-based
   * statements take VALUES lists chunked under `maxParams` (see store/batch.ts).
   */
  readonly jsonRowsets: boolean
  /**
   * The collation that sorts text by bytes, which for our ASCII-only SKUs is also JavaScript's
   * string order. Lock ordering uses it, so the order the service sorts in and the order the
   * database locks in are the same whatever the database's default collation.
   */
  readonly byteOrderCollation: string
  /** Sessions have a statement_timeout that can be lifted for long work (migrations). */
  readonly statementTimeouts: boolean
}

export const SQLITE_CAPS: DialectCaps = Object.freeze({
  name: 'sqlite',
  autoIdType: 'integer',
  rowLocks: false,
  maxParams: 32_000,
  notify: false,
  jsonRowsets: false,
  byteOrderCollation: 'binary',
  statementTimeouts: false,
})

export const POSTGRES_CAPS: DialectCaps = Object.freeze({
  name: 'postgres',
  autoIdType: 'bigserial',
  rowLocks: true,
  maxParams: 65_000,
  notify: true,
  jsonRowsets: true,
  byteOrderCollation: '"C"',
  statementTimeouts: true,
})
