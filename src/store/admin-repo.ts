/**
 * @module store/admin-repo: the admin UI's own queries (#16): sessions, the stock browser's keyset
 * pages, and the overview's counts. Everything the UI changes goes through the ordinary services.
 */
import { sql } from 'kysely'
import type { Executor } from './db.js'

// ---- sessions ---------------------------------------------------------------------------------

export interface AdminSessionRow {
  readonly keyId: string
  readonly csrfToken: string
  readonly createdAt: number
  readonly lastSeenAt: number
  readonly expiresAt: number
}

export async function insertAdminSession(ex: Executor, idHash: string, s: AdminSessionRow): Promise<void> {
  await ex
    .insertInto('admin_session')
    .values({ id_hash: idHash, key_id: s.keyId, csrf_token: s.csrfToken, created_at: s.createdAt, last_seen_at: s.lastSeenAt, expires_at: s.expiresAt })
    .execute()
}

export async function findAdminSession(ex: Executor, idHash: string): Promise<AdminSessionRow | undefined> {
  const r = await ex.selectFrom('admin_session').selectAll().where('id_hash', '=', idHash).executeTakeFirst()
  if (!r) return undefined
  return { keyId: r.key_id, csrfToken: r.csrf_token, createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at), expiresAt: Number(r.expires_at) }
}

export async function touchAdminSession(ex: Executor, idHash: string, now: number): Promise<void> {
  await ex.updateTable('admin_session').set({ last_seen_at: now }).where('id_hash', '=', idHash).execute()
}

export async function deleteAdminSession(ex: Executor, idHash: string): Promise<void> {
  await ex.deleteFrom('admin_session').where('id_hash', '=', idHash).execute()
}

/** Sessions past their absolute expiry or idle longer than `idleMs`. */
export async function pruneAdminSessions(ex: Executor, now: number, idleMs: number): Promise<number> {
  const r = await ex
    .deleteFrom('admin_session')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - idleMs)]))
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}

// ---- stock browser ----------------------------------------------------------------------------

export interface LevelBrowseFilter {
  /** SKU prefix (also tried upper-cased) or a fragment of the product name. */
  readonly query?: string | undefined
  readonly warehouseId?: number | undefined
  readonly state?: 'low' | 'out' | 'backorders' | undefined
  readonly descending: boolean
  /** Keyset: rows strictly after (ascending) or before (descending) this level. */
  readonly after?: { readonly sku: string; readonly warehouseId: number } | undefined
  readonly limit: number
}

export interface BrowsedLevel {
  readonly sku: string
  readonly name: string | null
  readonly warehouseId: number
  readonly onHand: number
  readonly reserved: number
  readonly safetyStock: number
  readonly lowStockThreshold: number
  readonly allowsBackorders: boolean
  readonly version: number
}

// The largest code point SQLite and PostgreSQL (UTF-8, C or ICU collations) both sort after any
// SKU character: `sku >= p AND sku < p || U+FFFF` is an index range on the primary key.
const PREFIX_END = '\uffff'

/**
 * One page of levels in (sku, warehouse) order, walking the primary key: the cost is the page
 * plus the rows a filter skips, never an OFFSET, so page 20,000 costs what page 1 costs.
 */
export async function browseLevels(ex: Executor, f: LevelBrowseFilter): Promise<BrowsedLevel[]> {
  const q = f.query?.trim()
  // A query names SKUs by prefix when any SKU starts with it (an index probe); otherwise it is a
  // fragment of the product name, matched against products (one per SKU, not one per level).
  const prefixes = q ? [...new Set([q, q.toUpperCase()])] : []
  if (!q || (await anySkuStartsWith(ex, prefixes))) return levelPage(ex, f, q ? { prefixes } : {})
  // By name: SKUs in paging order, a batch at a time, until the page is full or names run out
  // (a level filter may keep few of a batch's levels).
  const out: BrowsedLevel[] = []
  let after = f.after
  for (;;) {
    const skus = await skusByName(ex, q, f.descending, after?.sku, NAME_BATCH)
    if (skus.length === 0) break
    out.push(...(await levelPage(ex, { ...f, after, limit: f.limit - out.length }, { skus })))
    if (out.length >= f.limit || skus.length < NAME_BATCH) break
    // Past every level of the batch's last SKU.
    after = { sku: skus[skus.length - 1]!, warehouseId: f.descending ? -1 : 2_147_483_647 } // an int4 on PostgreSQL
  }
  return out
}

const NAME_BATCH = 100

async function levelPage(ex: Executor, f: LevelBrowseFilter, match: { prefixes?: ReadonlyArray<string>; skus?: ReadonlyArray<string> }): Promise<BrowsedLevel[]> {
  const available = sql<number>`(stock_level.on_hand - stock_level.reserved - stock_level.safety_stock)`
  const rows = await ex
    .selectFrom('stock_level')
    .innerJoin('product', 'product.sku', 'stock_level.sku')
    .select([
      'stock_level.sku',
      'product.name',
      'stock_level.warehouse_id',
      'stock_level.on_hand',
      'stock_level.reserved',
      'stock_level.safety_stock',
      'stock_level.low_stock_threshold',
      'stock_level.version',
      'product.allows_backorders',
    ])
    .$if(match.prefixes !== undefined, (qb) =>
      qb.where((eb) => eb.or((match.prefixes as string[]).map((p) => eb.and([eb('stock_level.sku', '>=', p), eb('stock_level.sku', '<', p + PREFIX_END)])))),
    )
    .$if(match.skus !== undefined, (qb) => qb.where('stock_level.sku', 'in', match.skus as string[]))
    .$if(f.warehouseId !== undefined, (qb) => qb.where('stock_level.warehouse_id', '=', f.warehouseId as number))
    .$if(f.state === 'low', (qb) => qb.where(sql<boolean>`${available} > 0 and ${available} <= stock_level.low_stock_threshold`))
    .$if(f.state === 'out', (qb) => qb.where(sql<boolean>`${available} <= 0`))
    .$if(f.state === 'backorders', (qb) => qb.where('product.allows_backorders', '=', 1))
    .$if(f.after !== undefined, (qb) => {
      const a = f.after as { sku: string; warehouseId: number }
      // Written as a range on sku plus a tie-break, so both databases walk the index from the cursor.
      return f.descending
        ? qb.where('stock_level.sku', '<=', a.sku).where((eb) => eb.or([eb('stock_level.sku', '<', a.sku), eb('stock_level.warehouse_id', '<', a.warehouseId)]))
        : qb.where('stock_level.sku', '>=', a.sku).where((eb) => eb.or([eb('stock_level.sku', '>', a.sku), eb('stock_level.warehouse_id', '>', a.warehouseId)]))
    })
    .orderBy('stock_level.sku', f.descending ? 'desc' : 'asc')
    .orderBy('stock_level.warehouse_id', f.descending ? 'desc' : 'asc')
    .limit(f.limit)
    .execute()
  return rows.map((r) => ({
    sku: r.sku,
    name: r.name,
    warehouseId: Number(r.warehouse_id),
    onHand: Number(r.on_hand),
    reserved: Number(r.reserved),
    safetyStock: Number(r.safety_stock),
    lowStockThreshold: Number(r.low_stock_threshold),
    allowsBackorders: Number(r.allows_backorders) === 1,
    version: Number(r.version),
  }))
}

async function anySkuStartsWith(ex: Executor, prefixes: ReadonlyArray<string>): Promise<boolean> {
  for (const p of prefixes) {
    const hit = await ex.selectFrom('product').select('sku').where('sku', '>=', p).where('sku', '<', p + PREFIX_END).limit(1).executeTakeFirst()
    if (hit) return true
  }
  return false
}

/** Up to `limit` SKUs, in paging order from `afterSku` (inclusive), whose product name holds the fragment. */
async function skusByName(ex: Executor, q: string, descending: boolean, afterSku: string | undefined, limit: number): Promise<string[]> {
  const rows = await ex
    .selectFrom('product')
    .select('sku')
    .where(sql<boolean>`lower(name) like ${`%${escapeLike(q.toLowerCase())}%`}`)
    .$if(afterSku !== undefined, (qb) => qb.where('sku', descending ? '<=' : '>=', afterSku as string))
    .orderBy('sku', descending ? 'desc' : 'asc')
    .limit(limit)
    .execute()
  return rows.map((r) => r.sku)
}

function escapeLike(s: string): string {
  // Both databases take the backslash as LIKE's escape only when told; the fragment is matched
  // literally by dropping the wildcards instead.
  return s.replace(/[%_\\]/g, '')
}

// ---- overview ---------------------------------------------------------------------------------

export interface StockCounts {
  readonly skus: number
  readonly levels: number
  readonly onHand: number
  readonly reserved: number
  readonly low: number
  readonly out: number
}

/** One pass over stock_level: the figures the overview shows. */
export async function countStock(ex: Executor): Promise<StockCounts> {
  const available = sql`(on_hand - reserved - safety_stock)`
  const r = await ex
    .selectFrom('stock_level')
    .select([
      sql<number | string>`count(*)`.as('levels'),
      sql<number | string | null>`sum(on_hand)`.as('on_hand'),
      sql<number | string | null>`sum(reserved)`.as('reserved'),
      sql<number | string>`sum(case when ${available} > 0 and ${available} <= low_stock_threshold then 1 else 0 end)`.as('low'),
      sql<number | string>`sum(case when ${available} <= 0 then 1 else 0 end)`.as('out'),
    ])
    .executeTakeFirstOrThrow()
  const p = await ex.selectFrom('product').select(sql<number | string>`count(*)`.as('n')).executeTakeFirstOrThrow()
  return { skus: Number(p.n), levels: Number(r.levels), onHand: Number(r.on_hand ?? 0), reserved: Number(r.reserved ?? 0), low: Number(r.low ?? 0), out: Number(r.out ?? 0) }
}

export interface OpenReservationLine {
  readonly id: string
  readonly warehouseId: number
  readonly quantity: number
  readonly expiresAt: number
  readonly referenceId: string | null
  readonly source: string
}

export async function listOpenReservations(ex: Executor, sku: string, limit: number): Promise<OpenReservationLine[]> {
  const rows = await ex
    .selectFrom('reservation')
    .innerJoin('reservation_line', 'reservation_line.reservation_id', 'reservation.id')
    .select(['reservation.id', 'reservation_line.warehouse_id', 'reservation_line.quantity', 'reservation.expires_at', 'reservation.reference_id', 'reservation.source'])
    .where('reservation.sku', '=', sku)
    .where('reservation.status', '=', 'active')
    .orderBy('reservation.expires_at')
    .limit(limit)
    .execute()
  return rows.map((r) => ({ id: r.id, warehouseId: Number(r.warehouse_id), quantity: Number(r.quantity), expiresAt: Number(r.expires_at), referenceId: r.reference_id, source: r.source }))
}

export interface OnHandPoint {
  readonly at: number
  readonly warehouseId: number
  readonly onHandBefore: number
  readonly onHandAfter: number
}

/** The newest `limit` movements of a SKU that changed on hand, oldest first: the chart's points. */
export async function listOnHandPoints(ex: Executor, sku: string, limit: number): Promise<OnHandPoint[]> {
  const rows = await ex
    .selectFrom('ledger_entry')
    .select(['id', 'created_at', 'warehouse_id', 'on_hand_before', 'on_hand_after'])
    .where('sku', '=', sku)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
  return rows.reverse().map((r) => ({ at: Number(r.created_at), warehouseId: Number(r.warehouse_id), onHandBefore: Number(r.on_hand_before), onHandAfter: Number(r.on_hand_after) }))
}

export interface InboundRow {
  readonly id: string
  readonly provider: string
  readonly eventType: string | null
  readonly status: string
  readonly outcome: string | null
  readonly bytes: number
  readonly receivedAt: number
}

/** Newest received provider webhooks of every provider (the body's size, not the body). */
export async function listRecentInbound(ex: Executor, provider: string | undefined, limit: number): Promise<InboundRow[]> {
  const rows = await ex
    .selectFrom('inbound_webhook')
    .select(['id', 'provider', 'event_type', 'status', 'outcome', 'received_at', sql<number>`length(body)`.as('bytes')])
    .$if(provider !== undefined, (qb) => qb.where('provider', '=', provider as string))
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute()
  return rows.map((r) => ({ id: r.id, provider: r.provider, eventType: r.event_type, status: r.status, outcome: r.outcome, bytes: Number(r.bytes), receivedAt: Number(r.received_at) }))
}
