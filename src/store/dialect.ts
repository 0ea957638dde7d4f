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
   * How a batch of rows bound as one JSON parameter becomes a table (store/batch.ts):
   * PostgreSQL's json_to_recordset with a column list, SQLite's json_each with ->> per column.
   */
  readonly jsonRowset: 'json_to_recordset' | 'json_each'
  /**
   * The bulk writer's batches go as bound VALUES lists in chunks (store/batch.ts runValuesChunks)
   * rather than one JSON parameter: on SQLite, where no round trip is saved, binding is cheaper.
   */
  readonly batchValues: boolean
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
  jsonRowset: 'json_each',
  batchValues: true,
  byteOrderCollation: 'binary',
  statementTimeouts: false,
})

export const POSTGRES_CAPS: DialectCaps = Object.freeze({
  name: 'postgres',
  autoIdType: 'bigserial',
  rowLocks: true,
  maxParams: 65_000,
  notify: true,
  jsonRowset: 'json_to_recordset',
  batchValues: false,
  byteOrderCollation: '"C"',
  statementTimeouts: true,
})
