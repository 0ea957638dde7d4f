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

/** Transactions per second and their p99 latency (ms); with `withOutbox`, each also appends its outbox row. */
export async function rawPgMovements(url: string, clients: number, skuPrefix: string, skuCount: number, warehouseId: number, seconds: number, withOutbox = false): Promise<{ perSec: number; count: number; p99: number }> {
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
