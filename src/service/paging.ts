/**
 * @module service/paging: one way every list pages (#12): keyset cursors, `limit` items a page,
 * and the next page's cursor only when there is one. A cursor is opaque to callers (base64url of
 * the last key seen), so its form may change; it is checked against the shape its list expects
 * before any of it reaches a query.
 */
import { invalid } from '../domain/errors.js'

export const DEFAULT_PAGE_LIMIT = 100
export const MAX_PAGE_LIMIT = 1000

export interface Page<T> {
  readonly items: ReadonlyArray<T>
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null
}

/** A key part: a string or a safe integer. Lists say which, in order, with `shape`. */
export type KeyPart = string | number
export type KeyShape = ReadonlyArray<'string' | 'number'>

export function encodeCursor(key: ReadonlyArray<KeyPart>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

export function decodeCursor(cursor: string, shape: KeyShape, pointer = '/cursor'): KeyPart[] {
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    key = undefined
  }
  const fits =
    Array.isArray(key) &&
    key.length === shape.length &&
    key.every((k, i) => (shape[i] === 'number' ? Number.isSafeInteger(k) : typeof k === 'string' && k.length <= 200 && !/[\u0000-\u001f]/.test(k)))
  if (!fits) throw invalid(pointer, 'is not a cursor this service issued')
  return key as KeyPart[]
}

/**
 * Fetch one page: ask for one row more than `limit` (it tells whether another page exists without
 * a count), keep `limit`, and make the cursor from the last row kept.
 */
export async function pageOf<T>(limit: number, fetch: (take: number) => Promise<ReadonlyArray<T>>, keyOf: (row: T) => ReadonlyArray<KeyPart>): Promise<Page<T>> {
  const rows = await fetch(limit + 1)
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null }
}

/** What a paged list is asked: `cursor` from the previous page, at most `limit` items. */
export interface PageParams {
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
}
