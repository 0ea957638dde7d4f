/**
 * @module store/batch: many rows as one derived table, the building block of every set-based
 * statement (bulk sync's level writes, ledger and event inserts, ordered row locks).
 *
 * PostgreSQL takes the whole batch as ONE json parameter expanded by json_to_recordset: 10,000
 * rows cost one round trip and one parse, with no parameter limit. (Binding JS arrays for
 * unnest was the first try; pg's array-literal encoder escapes strings character by character
 * and took ~200 ms for 10,000 event payloads that JSON.stringify turns out in ~5 ms.)
 * SQLite gets a VALUES list, chunked under its bound-parameter limit: parsing it is cheap for an
 * in-process database, and it avoids a json_extract per field.
 */
import { sql, type AliasedRawBuilder } from 'kysely'
import type { DialectCaps } from './dialect.js'

export type BatchColumnType = 'varchar' | 'text' | 'integer' | 'bigint'

/** The columns of a batch row, in order, with their SQL types. */
export type BatchColumns<R> = ReadonlyArray<readonly [keyof R & string, BatchColumnType]>

/** Split rows into the batches one statement can carry. */
export function batchesOf<R>(caps: DialectCaps, rows: ReadonlyArray<R>, columnsPerRow: number): ReadonlyArray<ReadonlyArray<R>> {
  if (rows.length === 0) return []
  if (caps.jsonRowsets) return [rows]
  const size = Math.max(1, Math.floor(caps.maxParams / columnsPerRow))
  const out: R[][] = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}

/**
 * Rows (at most one batch of batchesOf) as the derived table `alias(columns…)`, for
 * `selectFrom`, `updateTable(…).from` and `insertInto(…).expression(selectFrom(…))`.
 * Row objects carry the column names as keys; other keys are ignored.
 */
export function rowsTable<R extends object, A extends string>(caps: DialectCaps, rows: ReadonlyArray<R>, columns: BatchColumns<R>, alias: A): AliasedRawBuilder<R, A> {
  if (rows.length === 0) throw new Error('rowsTable needs at least one row')
  if (caps.jsonRowsets) {
    const picked = rows.map((r) => Object.fromEntries(columns.map(([c]) => [c, (r as Record<string, unknown>)[c] ?? null])))
    const definition = columns.map(([c, type]) => `"${c}" ${type}`).join(', ')
    return sql<R>`json_to_recordset(${JSON.stringify(picked)}::json)`.as<A>(sql.raw(`"${alias}"(${definition})`))
  }
  const names = sql.join(columns.map(([c], i) => sql`${sql.ref(`column${i + 1}`)} as ${sql.ref(c)}`))
  const values = sql.join(rows.map((r) => sql`(${sql.join(columns.map(([c]) => (r as Record<string, unknown>)[c] ?? null))})`))
  return sql<R>`(select ${names} from (values ${values}))`.as<A>(alias)
}
