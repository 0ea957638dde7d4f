/**
 * @module store/batch: many rows as one derived table, the building block of every set-based
 * statement (bulk sync's level writes, ledger and event inserts, ordered row locks).
 *
 * PostgreSQL: the whole batch travels as ONE JSON parameter, expanded by json_to_recordset.
 * 10,000 rows cost one round trip and one parse, with no bound-parameter limit to chunk under.
 * SQLite: the bulk writer's statements bind the rows as VALUES chunks (runValuesChunks below,
 * where dialect caps say `batchValues`); rowsTable there still expands jsonb_each, for any other
 * caller. Measured against the alternatives on 10,000 rows:
 * - PostgreSQL, binding JS arrays for unnest(): pg's array-literal encoder escapes strings
 *   character by character (~200 ms for 10,000 event payloads that JSON.stringify turns out in
 *   ~5 ms); inserts took 600–1000 ms against 300–400 ms for json_to_recordset.
 * - SQLite, a VALUES list chunked under its 32,766-parameter limit, built with Kysely: the guarded
 *   level UPDATE took 100–170 ms against 55–90 ms through json_each, and building 60,000 bound
 *   values in Kysely cost more JavaScript than one JSON.stringify. Written as SQL text with the
 *   values bound as they are (runValuesChunks), VALUES chunks beat jsonb_each: see below.
 * - SQLite, json_each against jsonb_each(jsonb(?)): json_each hands each row out as JSON text,
 *   which every `value ->> 'column'` parses again (18 times a row for the ledger); as JSONB the
 *   lookups walk the binary form. 10,000 ledger rows: 280–370 ms → 160–260 ms in isolation; in
 *   the bulk-sync bench the ledger INSERT went from 344 to 162 ms and the outbox INSERT from 218
 *   to 146 ms per 10,000 rows.
 */
import { CompiledQuery, sql, type AliasedRawBuilder } from 'kysely'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'

export type BatchColumnType = 'varchar' | 'text' | 'integer' | 'bigint'

/** The columns of a batch row, in order, with their SQL types. */
export type BatchColumns<R> = ReadonlyArray<readonly [keyof R & string, BatchColumnType]>

/**
 * Rows as the derived table `alias(columns…)`, for `selectFrom`, `updateTable(…).from` and
 * `insertInto(…).expression(selectFrom(…))`. Row objects carry the column names as keys (other
 * keys are ignored; a missing or undefined one reads as NULL). `rows` must not be empty.
 */
export function rowsTable<R extends object, A extends string>(caps: DialectCaps, rows: ReadonlyArray<R>, columns: BatchColumns<R>, alias: A): AliasedRawBuilder<R, A> {
  if (rows.length === 0) throw new Error('rowsTable needs at least one row')
  const json = JSON.stringify(rows)
  if (caps.jsonRowset === 'json_to_recordset') {
    const definition = columns.map(([c, type]) => `"${c}" ${type}`).join(', ')
    return sql<R>`json_to_recordset(${json}::json)`.as<A>(sql.raw(`"${alias}"(${definition})`))
  }
  const fields = sql.join(columns.map(([c]) => sql`value ->> ${sql.lit(c)} as ${sql.ref(c)}`))
  return sql<R>`(select ${fields} from jsonb_each(jsonb(${json})))`.as<A>(alias)
}

/**
 * SQLite: rows as bound parameters, `(?, ?, …), (?, ?, …)` lists in chunks. On SQLite there is no
 * round trip to save, and what the JSON rowset costs there is SQLite's own work: `jsonb()` parses
 * the batch, then every `value ->> 'column'` walks it once per column. A VALUES list binds each
 * value once. Measured in one transaction on 10,000 rows (CPU, 2-core machine, better-sqlite3
 * directly): ledger INSERT 110–216 ms through jsonb_each, 52–58 ms as VALUES chunks of 256 rows;
 * outbox INSERT (with the event payload, which inside the JSON batch is a string escaped and
 * parsed again) 191–220 ms against 69–83 ms. The statements are written as SQL text here, not
 * built with Kysely: building tens of thousands of value nodes is what made an earlier VALUES
 * form lose to the JSON rowset.
 *
 * Chunks have a power-of-two number of rows (at most CHUNK_PARAMS parameters), the rest split by
 * powers of two too, so a statement has a handful of shapes that stay prepared (store/db.ts).
 */
const CHUNK_PARAMS = 8192
const MAX_CHUNK_ROWS = 1024

const placeholderCache = new Map<string, string>()

/** `(?, ?), (?, ?)` for `rows` rows of `width` values; `row` is one row's SQL when not all plain placeholders. */
function valuesList(width: number, rows: number, row?: string): string {
  const key = `${width}:${rows}:${row ?? ''}`
  let s = placeholderCache.get(key)
  if (s === undefined) {
    const one = row ?? `(${Array.from({ length: width }, () => '?').join(', ')})`
    s = Array.from({ length: rows }, () => one).join(', ')
    placeholderCache.set(key, s)
  }
  return s
}

/** A statement over rows bound as VALUES chunks; its text is built once per chunk shape. */
export interface ValuesStatement {
  /** Values per row (the number of `?` in `row`). */
  readonly width: number
  /** One row's SQL in the VALUES list; default `(?, ?, …)` of `width` placeholders. */
  readonly row: string | undefined
  /** The statement around the VALUES list. */
  readonly sql: (values: string) => string
  readonly texts: Map<number, string>
}

export function valuesStatement(width: number, text: (values: string) => string, row?: string): ValuesStatement {
  return { width, row, sql: text, texts: new Map() }
}

/**
 * Run `st` over `count` rows, chunk by chunk: `bind(i, out)` appends row i's `width` values, after
 * `leading` (parameters before the VALUES list in the text, the same for every chunk). Returns the
 * rows of every chunk, chunks in order, and how many rows the chunks changed.
 */
export async function runValuesChunks<R>(ex: Executor, st: ValuesStatement, count: number, bind: (i: number, out: unknown[]) => void, leading: ReadonlyArray<unknown> = []): Promise<{ rows: R[]; changed: number }> {
  let max = 1
  while (max * 2 <= MAX_CHUNK_ROWS && max * 2 * st.width <= CHUNK_PARAMS) max *= 2
  const rows: R[] = []
  let changed = 0
  for (let i = 0; i < count; ) {
    let n = max
    while (n > count - i) n >>= 1
    let text = st.texts.get(n)
    if (text === undefined) st.texts.set(n, (text = st.sql(valuesList(st.width, n, st.row))))
    const params: unknown[] = [...leading]
    for (let j = i; j < i + n; j++) bind(j, params)
    const res = await ex.executeQuery<R>(CompiledQuery.raw(text, params))
    for (const r of res.rows) rows.push(r)
    changed += Number(res.numAffectedRows ?? 0)
    i += n
  }
  return { rows, changed }
}
