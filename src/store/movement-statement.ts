/**
 * @module store/movement-statement: a relative movement (sale, restock) on PostgreSQL as ONE
 * data-modifying statement: product lock, level UPDATE under every rule, the SKU's version and
 * totals, the ledger row, the outbox row and the delivery slots (other nodes are woken after the
 * commit: store.announceEvents).
 *
 * The transactional path (service/level-writer) costs seven round trips per movement (BEGIN,
 * product lock, level UPDATE, ledger INSERT, version + totals, outbox INSERT, COMMIT); this is one,
 * run as a named prepared statement so PostgreSQL parses and plans it once per connection (the
 * column lists are explicit: a prepared `SELECT *` breaks when another node's migration adds a
 * column).
 *
 * Why a snapshot check: a statement in READ COMMITTED reads with the snapshot taken when it
 * started. Had it waited for the product lock, another writer of the SKU committed meanwhile, and a
 * level that writer created would be invisible here (locking reads see the newest version of rows
 * the snapshot has, never rows it lacks), so the event's totals could miss it. The statement
 * therefore takes the product lock with SKIP LOCKED and writes only when the locked row's
 * stock_version equals the one its snapshot holds: nobody moved the SKU between snapshot and lock.
 * Every writer that creates a level with stock bumps stock_version in the same transaction. When
 * the product is locked by someone else, or was moved since the snapshot, nothing is written and
 * the caller runs the same statement again inside a transaction that first waits for the product
 * lock (its snapshot is then taken under the lock): three round trips, still fewer than seven.
 */
import type { StockLevel } from '../domain/stock-level.js'
import type { Store } from './db.js'
import { toLevel, type LevelRow } from './stock-repo.js'

const LEVEL_COLS = 'sku, warehouse_id, on_hand, reserved, safety_stock, low_stock_threshold, version, last_counted_at, updated_at'
const LEDGER_COLS =
  'sku, product_id, warehouse_id, change_type, status, quantity, on_hand_before, on_hand_after, reserved_before, reserved_after, level_version, source, reference_id, reservation_id, actor, notes, observed_at, created_at'
const OUT = (alias: string, prefix: string) =>
  LEVEL_COLS.split(', ')
    .map((c) => `${alias}.${c} AS ${prefix}${c}`)
    .join(', ')

/**
 * Parameters: $1 sku, $2 warehouse id, $3 on-hand delta, $4 units that must be available (NULL for
 * a restock; a product that allows backorders skips the rule), $5 expected on hand, $6 expected
 * version (NULL: no compare-and-set), $7 now, $8 the level bound (MAX_QUANTITY), $9 change type,
 * $10 quantity, $11 source, $12 reference id, $13 actor, $14 notes, $15 event id, $16 delivery
 * target ids, $17 the SKU as a JSON string.
 *
 * The event body is concatenated in the exact shape and key order JSON.stringify gives
 * service/stock-events stockChangedData, so an event reads the same whichever path wrote it.
 * Totals: every other level of the SKU as locked (its newest figures), plus the moved level after
 * the move; available sums each warehouse's max(0, available) (domain/stock-level sellableOf).
 */
export const MOVEMENT_SQL = `
WITH snap AS (SELECT stock_version FROM product WHERE sku = $1::varchar),
p AS (SELECT product_id, parent_id, allows_backorders, stock_version FROM product WHERE sku = $1::varchar FOR UPDATE SKIP LOCKED),
ok AS (SELECT p.product_id, p.parent_id, p.allows_backorders FROM p JOIN snap ON snap.stock_version = p.stock_version),
levels AS (SELECT ${LEVEL_COLS} FROM stock_level WHERE sku = $1::varchar AND EXISTS (SELECT 1 FROM ok) FOR UPDATE),
lvl AS (
  UPDATE stock_level SET on_hand = on_hand + $3::int, version = version + 1, updated_at = $7::bigint
  WHERE sku = $1::varchar AND warehouse_id = $2::int
    AND EXISTS (SELECT 1 FROM levels WHERE levels.warehouse_id = $2::int)
    AND ($4::int IS NULL OR (SELECT allows_backorders <> 0 FROM ok) OR on_hand - reserved - safety_stock >= $4::int)
    AND on_hand + $3::int BETWEEN -$8::int AND $8::int
    AND ($5::int IS NULL OR on_hand = $5::int)
    AND ($6::int IS NULL OR version = $6::int)
  RETURNING ${LEVEL_COLS}),
prod AS (UPDATE product SET stock_version = stock_version + 1 WHERE sku = $1::varchar AND EXISTS (SELECT 1 FROM lvl) RETURNING stock_version),
tot AS (
  SELECT COALESCE(SUM(on_hand), 0) AS on_hand, COALESCE(SUM(reserved), 0) AS reserved,
         COALESCE(SUM(GREATEST(on_hand - reserved - safety_stock, 0)), 0) AS sellable
  FROM levels WHERE warehouse_id <> $2::int),
led AS (
  INSERT INTO ledger_entry (${LEDGER_COLS})
  SELECT $1::varchar, ok.product_id, $2::int, $9::varchar, 'applied', $10::int, lvl.on_hand - $3::int, lvl.on_hand, lvl.reserved, lvl.reserved, lvl.version,
         $11::varchar, $12::varchar, NULL, $13::varchar, $14::text, NULL, $7::bigint
  FROM ok, lvl
  RETURNING id),
ev AS (
  INSERT INTO outbox_event (id, type, sku, warehouse_id, sku_version, payload, tx_id, created_at)
  SELECT $15::varchar, 'stock.changed', $1::varchar, $2::int, prod.stock_version,
    '{"sku":' || $17::text || ',"product_id":' || ok.product_id || ',"parent_id":' || COALESCE(ok.parent_id::text, 'null')
      || ',"warehouse_id":' || $2::int || ',"movement_id":' || led.id || ',"change_type":' || to_json($9::text)::text
      || ',"version":' || prod.stock_version || ',"level_version":' || lvl.version
      || ',"before":{"on_hand":' || (lvl.on_hand - $3::int) || ',"reserved":' || lvl.reserved || ',"available":' || (lvl.on_hand - $3::int - lvl.reserved - lvl.safety_stock)
      || '},"after":{"on_hand":' || lvl.on_hand || ',"reserved":' || lvl.reserved || ',"available":' || (lvl.on_hand - lvl.reserved - lvl.safety_stock)
      || '},"totals":{"on_hand":' || (tot.on_hand + lvl.on_hand) || ',"reserved":' || (tot.reserved + lvl.reserved)
      || ',"available":' || (tot.sellable + GREATEST(lvl.on_hand - lvl.reserved - lvl.safety_stock, 0)) || '}}',
    pg_current_xact_id()::text::bigint, $7::bigint
  FROM ok, lvl, prod, tot, led
  RETURNING seq),
dl AS (
  INSERT INTO delivery (target_id, sku, event_seq, attempts, next_attempt_at, locked_by, locked_until, last_error, last_status, created_at)
  SELECT t.id, $1::varchar, ev.seq, 0, $7::bigint, NULL, NULL, NULL, NULL, $7::bigint FROM ev, unnest($16::varchar[]) AS t(id)
  ON CONFLICT (target_id, sku) DO UPDATE SET event_seq = excluded.event_seq, attempts = 0,
    pending_since = CASE WHEN delivery.locked_by IS NOT NULL AND delivery.pending_since IS NULL THEN excluded.created_at ELSE delivery.pending_since END
    WHERE delivery.event_seq < excluded.event_seq
  RETURNING 1)
SELECT EXISTS (SELECT 1 FROM snap) AS is_known, EXISTS (SELECT 1 FROM ok) AS is_locked, (SELECT allows_backorders <> 0 FROM ok) AS allows_backorders, (SELECT product_id FROM ok) AS product_id,
  ${OUT('cur', 'cur_')}, ${OUT('lvl', 'new_')},
  led.id AS movement_id, prod.stock_version AS sku_version, ev.seq AS seq, (SELECT count(*) FROM dl) AS deliveries
FROM (SELECT 1) AS one
LEFT JOIN levels AS cur ON cur.warehouse_id = $2::int
LEFT JOIN lvl ON true LEFT JOIN led ON true LEFT JOIN prod ON true LEFT JOIN ev ON true`

/** The name the statement is prepared under on each connection; change it whenever MOVEMENT_SQL changes. */
const STATEMENT_NAME = 'sb_movement_v2'

export interface OneStatementMovement {
  readonly sku: string
  readonly warehouseId: number
  readonly onHandDelta: number
  /** Units that must stay available for the move (a sale); null for a restock. */
  readonly requireAvailable: number | null
  readonly expectedOnHand?: number | undefined
  readonly expectedVersion?: number | undefined
  readonly maxQuantity: number
  readonly changeType: string
  readonly quantity: number
  readonly source: string
  readonly referenceId: string | null
  readonly actor: string
  readonly notes: string | null
  readonly eventId: string
  readonly targetIds: ReadonlyArray<string>
  readonly now: number
}

export type OneStatementOutcome =
  /** Written: the level after, the ledger id, the SKU's event version and the outbox sequence. */
  | { readonly kind: 'applied'; readonly level: StockLevel; readonly productId: number; readonly movementId: number; readonly skuVersion: number; readonly seq: number }
  /** Nothing written: another writer holds the SKU or moved it since this statement's snapshot. */
  | { readonly kind: 'busy' }
  /** Nothing written: no such product, or no level in that warehouse yet (as far as the snapshot shows). */
  | { readonly kind: 'missing' }
  /** Nothing written: a rule refused it; `level` is the level as locked (what the rules were checked against). */
  | { readonly kind: 'refused'; readonly level: StockLevel; readonly allowsBackorders: boolean }

type Row = Record<string, unknown>

function levelFrom(r: Row, prefix: string): StockLevel | undefined {
  if (r[`${prefix}sku`] == null) return undefined
  const o: Record<string, unknown> = {}
  for (const c of LEVEL_COLS.split(', ')) o[c] = r[`${prefix}${c}`]
  return toLevel(o as unknown as LevelRow)
}

function valuesOf(m: OneStatementMovement): unknown[] {
  return [
    m.sku,
    m.warehouseId,
    m.onHandDelta,
    m.requireAvailable,
    m.expectedOnHand ?? null,
    m.expectedVersion ?? null,
    m.now,
    m.maxQuantity,
    m.changeType,
    m.quantity,
    m.source,
    m.referenceId,
    m.actor,
    m.notes,
    m.eventId,
    m.targetIds,
    JSON.stringify(m.sku),
  ]
}

function outcomeOf(r: Row | undefined): OneStatementOutcome {
  if (!r || !r.is_known) return { kind: 'missing' }
  if (!r.is_locked) return { kind: 'busy' }
  const after = levelFrom(r, 'new_')
  if (after) return { kind: 'applied', level: after, productId: Number(r.product_id), movementId: Number(r.movement_id), skuVersion: Number(r.sku_version), seq: Number(r.seq) }
  const current = levelFrom(r, 'cur_')
  return current ? { kind: 'refused', level: current, allowsBackorders: r.allows_backorders === true } : { kind: 'missing' }
}

/** The store can run the statement on its own (autocommit, prepared): PostgreSQL only. */
export function canMoveInOneStatement(store: Store): boolean {
  return store.queryPrepared !== undefined && store.transactPrepared !== undefined && store.quoteLiteral !== undefined
}

/** Run the movement as its own transaction (autocommit), prepared on the connection. */
export async function moveInOneStatement(store: Store, m: OneStatementMovement): Promise<OneStatementOutcome> {
  if (!store.queryPrepared) throw new Error('This store cannot run a movement as one statement')
  const rows = await store.queryPrepared(STATEMENT_NAME, MOVEMENT_SQL, valuesOf(m))
  return announced(store, outcomeOf(rows[0] as Row | undefined))
}

/**
 * The same statement in a transaction that first waits for the product's row lock (sent with BEGIN,
 * one round trip), so its snapshot postdates every earlier writer of the SKU and the outcome is
 * never 'busy': BEGIN + lock, the statement, COMMIT. For SKUs other writers hold.
 */
export async function moveUnderProductLock(store: Store, m: OneStatementMovement): Promise<OneStatementOutcome> {
  if (!store.transactPrepared || !store.quoteLiteral) throw new Error('This store cannot run a movement as one statement')
  const [rows] = await store.transactPrepared(`SELECT 1 FROM product WHERE sku = ${store.quoteLiteral(m.sku)} FOR UPDATE`, [{ name: STATEMENT_NAME, text: MOVEMENT_SQL, values: valuesOf(m) }])
  return announced(store, outcomeOf(rows?.[0] as Row | undefined))
}

/** A committed event wakes the other nodes (one coalesced NOTIFY: see outbox-repo wakeAfterCommit). */
function announced(store: Store, out: OneStatementOutcome): OneStatementOutcome {
  if (out.kind === 'applied') store.announceEvents?.()
  return out
}
