/** @module store/ledger-repo: the append-only ledger. There is no update or delete here, by design. */
import type { LedgerEntry, LedgerStatus } from '../domain/ledger.js'
import type { LedgerChangeType } from '../domain/movement.js'
import type { Executor } from './db.js'
import type { DialectCaps } from './dialect.js'
import { rowsTable, runValuesChunks, valuesStatement } from './batch.js'
import { compiledStatement, type Slot } from './compiled.js'

export type NewLedgerEntry = Omit<LedgerEntry, 'id'>

const LEDGER_COLUMNS = [
  ['sku', 'varchar'],
  ['product_id', 'bigint'],
  ['warehouse_id', 'integer'],
  ['change_type', 'varchar'],
  ['status', 'varchar'],
  ['quantity', 'integer'],
  ['on_hand_before', 'integer'],
  ['on_hand_after', 'integer'],
  ['reserved_before', 'integer'],
  ['reserved_after', 'integer'],
  ['level_version', 'integer'],
  ['source', 'varchar'],
  ['reference_id', 'varchar'],
  ['reservation_id', 'varchar'],
  ['actor', 'varchar'],
  ['notes', 'text'],
  ['observed_at', 'bigint'],
  ['created_at', 'bigint'],
] as const

function toRow(e: NewLedgerEntry) {
  return {
    sku: e.sku,
    product_id: e.productId,
    warehouse_id: e.warehouseId,
    change_type: e.changeType,
    status: e.status,
    quantity: e.quantity,
    on_hand_before: e.onHandBefore,
    on_hand_after: e.onHandAfter,
    reserved_before: e.reservedBefore,
    reserved_after: e.reservedAfter,
    level_version: e.levelVersion,
    source: e.source,
    reference_id: e.referenceId,
    reservation_id: e.reservationId,
    actor: e.actor,
    notes: e.notes,
    observed_at: e.observedAt,
    created_at: e.createdAt,
  }
}

type LedgerColumn = (typeof LEDGER_COLUMNS)[number][0]

const APPEND = compiledStatement((ex, v: Slot<LedgerColumn>) =>
  ex
    .insertInto('ledger_entry')
    .values(Object.fromEntries(LEDGER_COLUMNS.map(([c]) => [c, v(c)])) as unknown as ReturnType<typeof toRow>)
    .returning('id'),
)

export async function appendLedgerEntry(ex: Executor, e: NewLedgerEntry): Promise<number> {
  const [row] = await APPEND.run(ex, toRow(e), undefined)
  if (!row) throw new Error('The ledger insert returned no id')
  return Number(row.id)
}

/** SQLite: the ledger rows as VALUES chunks (store/batch.ts), columns in LEDGER_COLUMNS order. */
const APPEND_VALUES = valuesStatement(LEDGER_COLUMNS.length, (values) => `insert into ledger_entry (${LEDGER_COLUMNS.map(([c]) => `"${c}"`).join(', ')}) values ${values} returning id`)

/**
 * Insert many entries in one statement (store/batch.ts: the rows as one JSON parameter). Ids come back in the order of
 * `entries`: ids are drawn in insertion order, so sorting the returned ids restores it whatever
 * order RETURNING reports them in.
 */
export async function appendLedgerEntries(ex: Executor, caps: DialectCaps, entries: ReadonlyArray<NewLedgerEntry>): Promise<number[]> {
  if (entries.length === 0) return []
  if (caps.batchValues) {
    const { rows } = await runValuesChunks<{ id: number }>(ex, APPEND_VALUES, entries.length, (i, out) => {
      const e = entries[i]!
      out.push(e.sku, e.productId, e.warehouseId, e.changeType, e.status, e.quantity, e.onHandBefore, e.onHandAfter, e.reservedBefore, e.reservedAfter, e.levelVersion, e.source, e.referenceId ?? null, e.reservationId ?? null, e.actor, e.notes ?? null, e.observedAt ?? null, e.createdAt)
    })
    // Chunks run in order and each draws its ids in insertion order: sorted, they follow `entries`.
    return rows.map((r) => Number(r.id)).sort((a, b) => a - b)
  }
  const rows = await ex
    .insertInto('ledger_entry')
    .columns(LEDGER_COLUMNS.map(([c]) => c))
    .expression(ex.selectFrom(rowsTable(caps, entries.map(toRow), LEDGER_COLUMNS, 'e')).select(LEDGER_COLUMNS.map(([c]) => `e.${c}` as const)))
    .returning('id')
    .execute()
  const ids = rows.map((r) => Number(r.id))
  return ids.sort((a, b) => a - b)
}

interface LedgerRow {
  id: number | string
  sku: string
  product_id: number | string
  warehouse_id: number
  change_type: string
  status: string
  quantity: number
  on_hand_before: number
  on_hand_after: number
  reserved_before: number
  reserved_after: number
  level_version: number
  source: string
  reference_id: string | null
  reservation_id: string | null
  actor: string
  notes: string | null
  observed_at: number | string | null
  created_at: number | string
}

function toEntry(r: LedgerRow): LedgerEntry {
  return {
    id: Number(r.id),
    sku: r.sku,
    productId: Number(r.product_id),
    warehouseId: Number(r.warehouse_id),
    changeType: r.change_type as LedgerChangeType,
    status: r.status as LedgerStatus,
    quantity: Number(r.quantity),
    onHandBefore: Number(r.on_hand_before),
    onHandAfter: Number(r.on_hand_after),
    reservedBefore: Number(r.reserved_before),
    reservedAfter: Number(r.reserved_after),
    levelVersion: Number(r.level_version),
    source: r.source,
    referenceId: r.reference_id,
    reservationId: r.reservation_id,
    actor: r.actor,
    notes: r.notes,
    observedAt: r.observed_at === null ? null : Number(r.observed_at),
    createdAt: Number(r.created_at),
  }
}

export interface LedgerFilter {
  readonly skus?: ReadonlyArray<string> | undefined
  /** Every SKU whose product id or parent id is this (a product and all its variations). */
  readonly productId?: number | undefined
  readonly warehouseId?: number | undefined
  readonly changeTypes?: ReadonlyArray<string> | undefined
  readonly from?: number | undefined
  readonly to?: number | undefined
  /** Return entries with an id below this (the cursor of the previous page). */
  readonly beforeId?: number | undefined
  readonly limit: number
}

/** Newest first. Paging by id keeps pages stable while new entries arrive. */
export async function listLedgerEntries(ex: Executor, f: LedgerFilter): Promise<LedgerEntry[]> {
  const rows = await ex
    .selectFrom('ledger_entry')
    .selectAll()
    .$if(f.skus !== undefined, (qb) => qb.where('sku', 'in', f.skus as string[]))
    .$if(f.productId !== undefined, (qb) =>
      qb.where('sku', 'in', (eb) =>
        eb
          .selectFrom('product')
          .select('sku')
          .where((w) => w.or([w('product_id', '=', f.productId as number), w('parent_id', '=', f.productId as number)])),
      ),
    )
    .$if(f.warehouseId !== undefined, (qb) => qb.where('warehouse_id', '=', f.warehouseId as number))
    .$if(f.changeTypes !== undefined, (qb) => qb.where('change_type', 'in', f.changeTypes as string[]))
    .$if(f.from !== undefined, (qb) => qb.where('created_at', '>=', f.from as number))
    .$if(f.to !== undefined, (qb) => qb.where('created_at', '<', f.to as number))
    .$if(f.beforeId !== undefined, (qb) => qb.where('id', '<', f.beforeId as number))
    .orderBy('id', 'desc')
    .limit(f.limit)
    .execute()
  return rows.map(toEntry)
}

/** Every entry of one level, oldest first: the input of a ledger replay. */
export async function listLevelEntries(ex: Executor, sku: string, warehouseId: number): Promise<LedgerEntry[]> {
  const rows = await ex.selectFrom('ledger_entry').selectAll().where('sku', '=', sku).where('warehouse_id', '=', warehouseId).orderBy('id').execute()
  return rows.map(toEntry)
}

export async function countLedgerEntries(ex: Executor): Promise<number> {
  const row = await ex.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()
  return Number(row.n)
}
