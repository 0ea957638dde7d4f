/**
 * @module bench/lib/raw-pg: the ceiling without HTTP on PostgreSQL, with the `pg` driver directly:
 * N clients, each looping BEGIN; conditional UPDATE … RETURNING; ledger INSERT … RETURNING id;
 * COMMIT (named prepared statements, so parsing is paid once per connection).
 */
import pg from 'pg'
import { skuAt } from './api.js'
import { eventId, eventPayload } from './raw-sqlite.js'

const LEVEL_COLS = 'sku, warehouse_id, on_hand, reserved, safety_stock, low_stock_threshold, version, last_counted_at, updated_at'
const LEDGER_COLS =
  'sku, product_id, warehouse_id, change_type, status, quantity, on_hand_before, on_hand_after, reserved_before, reserved_after, level_version, source, reference_id, reservation_id, actor, notes, observed_at, created_at'

/** A client whose connection errors (e.g. the database being dropped under it) never crash the bench. */
export function newClient(url: string): pg.Client {
  const c = new pg.Client({ connectionString: url })
  c.on('error', () => {})
  return c
}

export interface PgAdmin {
  readonly url: string
  drop(): Promise<void>
}

/** Is PostgreSQL reachable at all? Returns the reason when it is not. */
export async function pgUnavailable(adminUrl: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 })
  c.on('error', () => {})
  try {
    await c.connect()
    await c.query('select 1')
    return null
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  } finally {
    await c.end().catch(() => {})
  }
}

/** Create a fresh database (sb_bench_<pid>_<tag>) and return its URL, with a way to drop it. */
export async function createDatabase(adminUrl: string, tag: string): Promise<PgAdmin> {
  const name = `sb_bench_${process.pid}_${tag}`
  const admin = newClient(adminUrl)
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`)
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const u = new URL(adminUrl)
  u.pathname = `/${name}`
  return {
    url: u.toString(),
    async drop() {
      const c = newClient(adminUrl)
      await c.connect()
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c.end()
      }
    },
  }
}

/**
 * One movement as ONE statement (a data-modifying CTE, its own transaction): the product row
 * locked first (as the service's writers do, so two movements of one SKU cannot deadlock), then the
 * SKU's levels FOR UPDATE: the statement's snapshot predates any wait for those locks, and only a
 * locking read returns the rows as they are now, so the event's totals come from them (the moved
 * level at its new figure). Then the conditional level UPDATE, the ledger row, the SKU's version
 * bump and the outbox row
 * with the same event body the service writes. $5 is the units a sale needs available (NULL for a
 * restock). No NOTIFY: it would wake the idle service's worker during the raw run.
 */
const MOVEMENT_CTE = `
WITH p AS (SELECT product_id, parent_id FROM product WHERE sku = $3 FOR UPDATE),
levels AS (SELECT warehouse_id, on_hand, reserved, safety_stock FROM stock_level WHERE sku = $3 AND EXISTS (SELECT 1 FROM p) FOR UPDATE),
lvl AS (UPDATE stock_level SET on_hand = on_hand + $1, version = version + 1, updated_at = $2
        WHERE sku = $3 AND warehouse_id = $4 AND EXISTS (SELECT 1 FROM levels)
          AND ($5::int IS NULL OR on_hand - reserved - safety_stock >= $5)
        RETURNING on_hand, reserved, safety_stock, version),
prod AS (UPDATE product SET stock_version = stock_version + 1 WHERE sku = $3 AND EXISTS (SELECT 1 FROM lvl)
         RETURNING stock_version),
tot AS (SELECT COALESCE(SUM(on_hand), 0) AS on_hand, COALESCE(SUM(reserved), 0) AS reserved, COALESCE(SUM(safety_stock), 0) AS safety FROM levels WHERE warehouse_id <> $4),
led AS (INSERT INTO ledger_entry (${LEDGER_COLS})
        SELECT $3, p.product_id, $4, $6, 'applied', $7, lvl.on_hand - $1, lvl.on_hand, lvl.reserved, lvl.reserved, lvl.version, 'bench', NULL, NULL, 'raw', NULL, NULL, $2
        FROM p, lvl RETURNING id)
INSERT INTO outbox_event (id, type, sku, warehouse_id, sku_version, payload, tx_id, created_at)
SELECT $8, 'stock.changed', $3, $4, prod.stock_version,
  json_build_object('sku', $3::text, 'product_id', p.product_id, 'parent_id', p.parent_id, 'warehouse_id', $4::int, 'movement_id', led.id,
    'change_type', $6::text, 'version', prod.stock_version, 'level_version', lvl.version,
    'before', json_build_object('on_hand', lvl.on_hand - $1, 'reserved', lvl.reserved, 'available', lvl.on_hand - $1 - lvl.reserved - lvl.safety_stock),
    'after', json_build_object('on_hand', lvl.on_hand, 'reserved', lvl.reserved, 'available', lvl.on_hand - lvl.reserved - lvl.safety_stock),
    'totals', json_build_object('on_hand', tot.on_hand + lvl.on_hand, 'reserved', tot.reserved + lvl.reserved,
      'available', tot.on_hand + lvl.on_hand - tot.reserved - lvl.reserved - tot.safety - lvl.safety_stock))::text,
  pg_current_xact_id()::text::bigint, $2
FROM p, lvl, prod, tot, led
RETURNING seq`

/**
 * Movements per second and their p99 latency (ms). `form`: 'cte' sends each movement as one
 * statement (MOVEMENT_CTE: what PostgreSQL can do for the service's work); 'steps' as
 * BEGIN; UPDATE; INSERT ledger; [INSERT outbox]; COMMIT (five round trips).
 */
export async function rawPgMovements(url: string, clients: number, skuPrefix: string, skuCount: number, warehouseId: number, seconds: number, withOutbox = false, form: 'cte' | 'steps' = 'cte'): Promise<{ perSec: number; count: number; p99: number }> {
  // Connect them all before starting; on any failure, close those that did connect.
  const made = Array.from({ length: clients }, () => newClient(url))
  const connected = await Promise.allSettled(made.map((c) => c.connect()))
  const failed = connected.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) {
    await Promise.all(made.map((c) => c.end().catch(() => {})))
    throw failed.reason
  }
  const conns = made
  try {
    let count = 0
    const latencies: number[] = []
    const started = performance.now()
    const until = started + seconds * 1000
    await Promise.all(
      conns.map(async (c) => {
        while (performance.now() < until) {
          const t0 = performance.now()
          const sku = skuAt(skuPrefix, 1 + Math.floor(Math.random() * skuCount))
          const isSale = Math.random() < 0.5
          const now = Date.now()
          if (form === 'cte') {
            const res = await c.query({ name: 'raw_movement_cte', text: MOVEMENT_CTE, values: [isSale ? -1 : 1, now, sku, warehouseId, isSale ? 1 : null, isSale ? 'sale' : 'restock', 1, eventId()] })
            if (res.rowCount !== 1) throw new Error(`raw pg movement on ${sku} matched no level`)
            latencies.push(performance.now() - t0)
            count++
            continue
          }
          await c.query('BEGIN')
          const res = isSale
            ? await c.query({
                name: 'raw_sale',
                text: `UPDATE stock_level SET on_hand = on_hand + $1, reserved = reserved + 0, version = version + 1, updated_at = $2 WHERE sku = $3 AND warehouse_id = $4 AND on_hand - reserved - safety_stock >= $5 RETURNING ${LEVEL_COLS}`,
                values: [-1, now, sku, warehouseId, 1],
              })
            : await c.query({
                name: 'raw_restock',
                text: `UPDATE stock_level SET on_hand = on_hand + $1, reserved = reserved + 0, version = version + 1, updated_at = $2 WHERE sku = $3 AND warehouse_id = $4 RETURNING ${LEVEL_COLS}`,
                values: [1, now, sku, warehouseId],
              })
          const after = res.rows[0] as { on_hand: number; reserved: number; version: number } | undefined
          if (!after) throw new Error(`raw pg movement on ${sku} matched no level`)
          const q = isSale ? -1 : 1
          await c.query({
            name: 'raw_ledger',
            text: `INSERT INTO ledger_entry (${LEDGER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id`,
            values: [sku, 1, warehouseId, isSale ? 'sale' : 'restock', 'applied', 1, after.on_hand - q, after.on_hand, after.reserved, after.reserved, after.version, 'bench', null, null, 'raw', null, null, now],
          })
          if (withOutbox) {
            await c.query({
              name: 'raw_outbox',
              text: 'INSERT INTO outbox_event (id, type, sku, warehouse_id, sku_version, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
              values: [eventId(), 'stock.changed', sku, warehouseId, after.version, eventPayload(sku, warehouseId, after.version, after.on_hand, after.reserved, now), now],
            })
          }
          await c.query('COMMIT')
          latencies.push(performance.now() - t0)
          count++
        }
      }),
    )
    latencies.sort((a, b) => a - b)
    const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0
    return { perSec: count / ((performance.now() - started) / 1000), count, p99: Math.round(p99 * 100) / 100 }
  } finally {
    await Promise.all(conns.map((c) => c.end().catch(() => {})))
  }
}

/**
 * The raw cost of a bulk sync on PostgreSQL, set-based: per batch one transaction with one
 * statement that reads the levels, sets every on hand (the UPDATE takes the row locks) and appends
 * every ledger row (unnest arrays → UPDATE … FROM → INSERT … SELECT). Returns seconds for all batches.
 */
export async function rawPgBulk(url: string, batches: ReadonlyArray<ReadonlyArray<{ sku: string; warehouse_id: number; quantity: number }>>, withOutbox = false): Promise<number> {
  const c = newClient(url)
  await c.connect()
  try {
    const started = performance.now()
    for (const b of batches) {
      const now = Date.now()
      await c.query('BEGIN')
      const r = await c.query(
        `WITH v AS (SELECT * FROM unnest($1::text[], $2::int[], $3::int[]) AS v(sku, warehouse_id, quantity)),
              old AS (SELECT s.sku, s.warehouse_id, s.on_hand, s.reserved, s.version FROM stock_level s JOIN v USING (sku, warehouse_id)),
              upd AS (UPDATE stock_level s SET on_hand = v.quantity, version = s.version + 1, last_counted_at = $4, updated_at = $4
                      FROM v WHERE s.sku = v.sku AND s.warehouse_id = v.warehouse_id RETURNING s.sku, s.warehouse_id, s.on_hand, s.reserved, s.version)
         INSERT INTO ledger_entry (${LEDGER_COLS})
         SELECT upd.sku, 1, upd.warehouse_id, 'sync', 'applied', upd.on_hand, old.on_hand, upd.on_hand, old.reserved, upd.reserved, upd.version, 'bench', NULL, NULL, 'raw', NULL, $4, $4
         FROM upd JOIN old USING (sku, warehouse_id)`,
        [b.map((i) => i.sku), b.map((i) => i.warehouse_id), b.map((i) => i.quantity), now],
      )
      if (r.rowCount !== b.length) throw new Error(`raw pg bulk wrote ${r.rowCount} of ${b.length} rows`)
      if (withOutbox) {
        await c.query(
          `INSERT INTO outbox_event (id, type, sku, warehouse_id, sku_version, payload, created_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::bigint[])`,
          [b.map(() => eventId()), b.map(() => 'stock.changed'), b.map((i) => i.sku), b.map((i) => i.warehouse_id), b.map(() => 1), b.map((i) => eventPayload(i.sku, i.warehouse_id, 1, i.quantity, 0, now)), b.map(() => now)],
        )
      }
      await c.query('COMMIT')
    }
    return (performance.now() - started) / 1000
  } finally {
    await c.end()
  }
}
