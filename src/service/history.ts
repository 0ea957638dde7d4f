/** @module service/history: the ledger, newest first, filtered and paged by cursor. */
import { DomainError, invalid } from '../domain/errors.js'
import { productIdExists } from '../store/product-repo.js'
import type { LedgerEntry } from '../domain/ledger.js'
import { listLedgerEntries, type LedgerFilter } from '../store/ledger-repo.js'
import type { ServiceDeps } from './deps.js'

export const DEFAULT_HISTORY_LIMIT = 50
export const MAX_HISTORY_LIMIT = 500

export type HistoryQuery = Omit<LedgerFilter, 'beforeId' | 'limit'> & { readonly cursor?: string | undefined; readonly limit?: number | undefined }

export interface HistoryPage {
  readonly entries: ReadonlyArray<LedgerEntry>
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  readonly nextCursor: string | null
}

// The cursor is opaque to callers (base64url of the last id seen) so its form may change later.
function encodeCursor(id: number): string {
  return Buffer.from(`l:${id}`).toString('base64url')
}

function decodeCursor(cursor: string): number {
  const m = /^l:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!m) throw invalid('/cursor', 'is not a cursor this service issued')
  return Number(m[1])
}

export async function getHistory(deps: ServiceDeps, q: HistoryQuery): Promise<HistoryPage> {
  const limit = q.limit ?? DEFAULT_HISTORY_LIMIT
  const beforeId = q.cursor === undefined ? undefined : decodeCursor(q.cursor)
  // One extra row tells whether another page exists without a count query.
  const rows = await listLedgerEntries(deps.store.db, { ...q, beforeId, limit: limit + 1 })
  const entries = rows.slice(0, limit)
  const last = entries[entries.length - 1]
  return { entries, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null }
}

/** History of a product and, for a variable product, of every variation under it. */
export async function getProductHistory(deps: ServiceDeps, productId: number, q: HistoryQuery): Promise<HistoryPage> {
  if (!(await productIdExists(deps.store.db, productId))) {
    throw new DomainError('product_not_found', `No product has product id ${productId}`, { product_id: productId })
  }
  return getHistory(deps, { ...q, productId })
}
