/**
 * @module connectors/csv/codec: CSV as spreadsheets write it, read and written as streams (the
 * `csv-parse` package). Reading accepts a UTF-8 BOM, `,` or `;` separators (whichever the header
 * line uses), CRLF or LF, and quoted fields; each record comes with the line it starts on, so
 * errors point at it. Writing escapes cells a spreadsheet would run as a formula (leading `=`,
 * `+`, `-`, `@`, tab, CR) with a leading `'`, as OWASP recommends; reading takes that `'` off
 * again, so an export imports back unchanged.
 *
 * Lines are written by `csvLine`, not csv-stringify: the exports write millions of rows, and
 * csv-stringify allocates several objects per cell (a cast context, tuples, an options copy),
 * which doubled an export's CPU and kept its heap high (connectors/csv/exports.ts has the
 * numbers). Its rules are few (RFC 4180 quoting) and codec.test.ts reads every kind of cell back
 * through csv-parse.
 */
import { parse } from 'csv-parse'

export class CsvError extends Error {
  readonly line: number | null
  constructor(message: string, line: number | null = null, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CsvError'
    this.line = line
  }
}

export class CsvTooLargeError extends Error {
  readonly limit: number
  constructor(limit: number) {
    super(`The file is larger than ${limit} bytes`)
    this.name = 'CsvTooLargeError'
    this.limit = limit
  }
}

export interface CsvRecord {
  /** The line the record starts on (the header is line 1). */
  readonly line: number
  /** Cells by lower-cased header name; a short row lacks the missing ones. */
  readonly fields: Readonly<Record<string, string>>
  /** The row had more cells than the header. */
  readonly extraCells: boolean
}

export interface ReadOptions {
  readonly maxBytes: number
  /** Columns that must be in the header. */
  readonly required: ReadonlyArray<string>
  /** Columns the reader knows; any other is refused (a typo would otherwise be silently ignored). */
  readonly known: ReadonlyArray<string>
  /** A further check of the header; a message refuses the file. */
  readonly checkHeader?: ((header: ReadonlyArray<string>) => string | null) | undefined
}

const FORMULA = /^[=+\-@\t\r]/

/** A cell as written by our exports back to its value. */
export function unescapeCell(v: string): string {
  return v.length > 1 && v[0] === "'" && FORMULA.test(v.slice(1)) ? v.slice(1) : v
}

/** A text cell safe to open in a spreadsheet. Numbers are written as numbers (a negative count stays a number). */
export function escapeCell(v: string | number | null | undefined): string | number {
  if (v === null || v === undefined) return ''
  if (typeof v === 'number') return v
  return FORMULA.test(v) ? `'${v}` : v
}

/**
 * A cell a reader could misread unquoted: a separator of either kind we read (`,` or `;`), a
 * quote, a line break, or a space at either end (our reader trims unquoted cells).
 */
const NEEDS_QUOTES = /[",;\r\n]|^\s|\s$/

/** One cell as CSV text: formula-escaped (escapeCell), then quoted with inner quotes doubled where needed (RFC 4180). */
export function csvCell(v: string | number | null | undefined): string {
  const e = escapeCell(v)
  if (typeof e === 'number') return String(e)
  return NEEDS_QUOTES.test(e) ? `"${e.replaceAll('"', '""')}"` : e
}

/** One record: cells joined by `,`, ended by CRLF (what spreadsheets write). */
export function csvLine(cells: ReadonlyArray<string | number | null | undefined>): string {
  let line = ''
  for (let i = 0; i < cells.length; i++) line += i === 0 ? csvCell(cells[i]) : `,${csvCell(cells[i])}`
  return `${line}\r\n`
}

function pickDelimiter(head: string): ',' | ';' {
  const line = head.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? ''
  const count = (ch: string) => line.split(ch).length - 1
  return count(';') > count(',') ? ';' : ','
}

/**
 * Records of a CSV byte stream, one at a time, with a bounded total size. The header decides the
 * separator; unknown or missing columns are refused before any record is read.
 */
function lineBreaksIn(record: ReadonlyArray<string>): number {
  let n = 0
  for (const cell of record) for (let i = cell.indexOf('\n'); i !== -1; i = cell.indexOf('\n', i + 1)) n++
  return n
}

export async function* readCsv(source: AsyncIterable<Uint8Array | string>, o: ReadOptions): AsyncGenerator<CsvRecord> {
  let size = 0
  const it = source[Symbol.asyncIterator]()
  // Enough of the start to see the header line.
  const head: Buffer[] = []
  let headText = ''
  for (;;) {
    const r = await it.next()
    if (r.done) break
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value)
    size += b.length
    if (size > o.maxBytes) throw new CsvTooLargeError(o.maxBytes)
    head.push(b)
    headText = Buffer.concat(head).toString('utf8')
    if (headText.includes('\n') || headText.length > 64 * 1024) break
  }
  if (head.length === 0 || headText.replace(/^\uFEFF/, '').trim() === '') throw new CsvError('The file is empty; it needs a header row', 1)
  const firstBytes = Buffer.concat(head)
  if (firstBytes.includes(0)) throw new CsvError('The file is binary, not CSV text', 1)
  // Without `info`: csv-parse builds an info object per record (a spread of a dozen fields), which
  // was two thirds of reading a 100,000-row file (650 → 200 ms CPU). Lines are counted here instead:
  // a record spans one line plus the line breaks inside its quoted cells, and empty lines come
  // through as one empty cell, counted and skipped.
  const parser = parse({ bom: true, delimiter: pickDelimiter(headText), relax_column_count: true, skip_empty_lines: false, trim: true, max_record_size: 64 * 1024 })
  // Feed the parser from the source in the background, counting bytes; errors surface through the parser.
  const feed = (async () => {
    try {
      if (!parser.write(firstBytes)) await new Promise((r) => parser.once('drain', r))
      for (;;) {
        const r = await it.next()
        if (r.done) break
        const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value)
        size += b.length
        if (size > o.maxBytes) throw new CsvTooLargeError(o.maxBytes)
        if (b.includes(0)) throw new CsvError('The file is binary, not CSV text')
        if (!parser.write(b)) await new Promise((r) => parser.once('drain', r))
      }
      parser.end()
    } catch (e) {
      parser.destroy(e as Error)
    }
  })()
  let header: string[] | null = null
  /** The line the next record starts on. */
  let line = 1
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      const start = line
      line += 1 + lineBreaksIn(record)
      if (record.length === 1 && record[0] === '') continue // an empty line
      if (header === null) {
        header = record.map((h) => h.trim().toLowerCase())
        const dup = header.find((h, i) => header!.indexOf(h) !== i)
        if (dup) throw new CsvError(`The header names the column ${JSON.stringify(dup.slice(0, 40))} twice`, start)
        const unknown = header.filter((h) => !o.known.includes(h))
        if (unknown.length) throw new CsvError(`Unknown column ${JSON.stringify(unknown[0]!.slice(0, 40))}; known columns: ${o.known.join(', ')}`, start)
        const missing = o.required.filter((r) => !header!.includes(r))
        if (missing.length) throw new CsvError(`The header lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, start)
        const other = o.checkHeader?.(header) ?? null
        if (other !== null) throw new CsvError(other, start)
        continue
      }
      const fields: Record<string, string> = {}
      const n = Math.min(header.length, record.length)
      for (let i = 0; i < n; i++) fields[header[i]!] = unescapeCell(record[i]!)
      yield { line: start, fields, extraCells: record.length > header.length }
    }
  } catch (e) {
    if (e instanceof CsvError || e instanceof CsvTooLargeError) throw e
    const ce = e as { code?: string; lines?: number; message?: string }
    throw new CsvError(`The file is not valid CSV: ${(ce.message ?? String(e)).replace(/\s+/g, ' ').slice(0, 200)}`, typeof ce.lines === 'number' ? ce.lines : null, { cause: e })
  } finally {
    // Stopped early (a bad header, the consumer gave up): stop reading the source too.
    if (!parser.writableEnded) {
      parser.destroy()
      void it.return?.()
    }
    void feed.catch(() => {})
  }
  if (header === null) throw new CsvError('The file is empty; it needs a header row', 1)
}
