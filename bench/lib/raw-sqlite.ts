/**
 * @module bench/lib/raw-sqlite: the ceiling without HTTP. The bench database file, opened with
 * better-sqlite3 directly (same pragmas as the service), running the same statements as the
 * service's movement (conditional UPDATE … RETURNING + ledger INSERT … RETURNING id, one
 * transaction) with prepared statements reused, on one thread.
 */
import SQLite from 'better-sqlite3'
import { skuAt } from './api.js'

const LEVEL_COLS = 'sku, warehouse_id, on_hand, reserved, safety_stock, low_stock_threshold, version, last_counted_at, updated_at'
const LEDGER_COLS =
  'sku, product_id, warehouse_id, change_type, status, quantity, on_hand_before, on_hand_after, reserved_before, reserved_after, level_version, source, reference_id, reservation_id, actor, notes, observed_at, created_at'

interface LevelRow {
  sku: string
  warehouse_id: number
  on_hand: number
  reserved: number
  version: number
  last_counted_at: number | null
}

export function openRaw(file: string): SQLite.Database {
  const db = new SQLite(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  db.pragma('cache_size = -32768')
  return db
}

let eventSeq = 0
/** A payload the size of the service's stock.changed event. */
export function eventPayload(sku: string, warehouseId: number, version: number, onHand: number, reserved: number, now: number): string {
  const f = { on_hand: onHand, reserved, available: onHand - reserved }
  return JSON.stringify({ sku, product_id: 1, parent_id: null, warehouse_id: warehouseId, movement_id: now, change_type: 'sale', version, level_version: version, before: f, after: f, totals: f })
}
export const eventId = () => `evt_raw_${process.pid}_${Date.now().toString(36)}_${(eventSeq++).toString(36)}`

const OUTBOX_INSERT = 'INSERT INTO outbox_event (id, type, sku, warehouse_id, sku_version, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'

/**
 * Movements per second: random SKUs among `skuCount`, half sales of 1, half restocks of 1. With
 * `withOutbox`, each transaction also appends its outbox row (the service's transactional outbox).
 */
export function rawSqliteMovements(file: string, skuPrefix: string, skuCount: number, warehouseId: number, seconds: number, withOutbox = false): { perSec: number; count: number } {
  const db = openRaw(file)
  try {
    const sale = db.prepare(
      `UPDATE stock_level SET on_hand = on_hand + ?, reserved = reserved + 0, version = version + 1, updated_at = ? WHERE sku = ? AND warehouse_id = ? AND on_hand - reserved - safety_stock >= ? RETURNING ${LEVEL_COLS}`,
    )
    const restock = db.prepare(`UPDATE stock_level SET on_hand = on_hand + ?, reserved = reserved + 0, version = version + 1, updated_at = ? WHERE sku = ? AND warehouse_id = ? RETURNING ${LEVEL_COLS}`)
    const ledger = db.prepare(`INSERT INTO ledger_entry (${LEDGER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
    const outbox = withOutbox ? db.prepare(OUTBOX_INSERT) : null
    const move = db.transaction((sku: string, isSale: boolean, now: number) => {
      const after = (isSale ? sale.get(-1, now, sku, warehouseId, 1) : restock.get(1, now, sku, warehouseId)) as LevelRow | undefined
      if (!after) throw new Error(`raw movement on ${sku} matched no level`)
      const q = isSale ? -1 : 1
      ledger.get(sku, 1, warehouseId, isSale ? 'sale' : 'restock', 'applied', 1, after.on_hand - q, after.on_hand, after.reserved, after.reserved, after.version, 'bench', null, null, 'raw', null, null, now)
      outbox?.run(eventId(), 'stock.changed', sku, warehouseId, after.version, eventPayload(sku, warehouseId, after.version, after.on_hand, after.reserved, now), now)
    })
    let count = 0
    const started = performance.now()
    const until = started + seconds * 1000
    let now = started
    while (now < until) {
      for (let i = 0; i < 200; i++) {
        move.immediate(skuAt(skuPrefix, 1 + Math.floor(Math.random() * skuCount)), Math.random() < 0.5, Date.now())
        count++
      }
      now = performance.now()
    }
    return { perSec: count / ((now - started) / 1000), count }
  } finally {
    db.close()
  }
}

/**
 * The raw cost of a bulk sync: per batch, one transaction that reads the levels (chunks of 500,
 * like the service), sets each on hand under compare-and-set on its version and appends its
 * ledger row, all with prepared statements. Returns seconds for all batches.
 */
export function rawSqliteBulk(file: string, batches: ReadonlyArray<ReadonlyArray<{ sku: string; warehouse_id: number; quantity: number }>>, withOutbox = false): number {
  const db = openRaw(file)
  try {
    const set = db.prepare(`UPDATE stock_level SET on_hand = ?, version = ?, last_counted_at = ?, updated_at = ? WHERE sku = ? AND warehouse_id = ? AND version = ? RETURNING ${LEVEL_COLS}`)
    const ledger = db.prepare(`INSERT INTO ledger_entry (${LEDGER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const outbox = withOutbox ? db.prepare(OUTBOX_INSERT) : null
    const selects = new Map<string, SQLite.Statement>()
    const select = (nSku: number, nWh: number) => {
      const k = `${nSku}/${nWh}`
      let s = selects.get(k)
      if (!s) {
        s = db.prepare(`SELECT ${LEVEL_COLS} FROM stock_level WHERE sku IN (${Array(nSku).fill('?').join(',')}) AND warehouse_id IN (${Array(nWh).fill('?').join(',')})`)
        selects.set(k, s)
      }
      return s
    }
    const run = db.transaction((items: ReadonlyArray<{ sku: string; warehouse_id: number; quantity: number }>) => {
      const now = Date.now()
      const levels = new Map<string, LevelRow>()
      for (let i = 0; i < items.length; i += 500) {
        const chunk = items.slice(i, i + 500)
        const skus = [...new Set(chunk.map((c) => c.sku))]
        const whs = [...new Set(chunk.map((c) => c.warehouse_id))]
        for (const r of select(skus.length, whs.length).all(...skus, ...whs) as LevelRow[]) levels.set(`${r.warehouse_id}\u0000${r.sku}`, r)
      }
      for (const it of items) {
        const before = levels.get(`${it.warehouse_id}\u0000${it.sku}`)
        if (!before) throw new Error(`raw bulk: no level ${it.sku}@${it.warehouse_id}`)
        const after = set.get(it.quantity, before.version + 1, now, now, it.sku, it.warehouse_id, before.version) as LevelRow | undefined
        if (!after) throw new Error(`raw bulk: level ${it.sku}@${it.warehouse_id} moved`)
        ledger.run(it.sku, 1, it.warehouse_id, 'sync', 'applied', it.quantity, before.on_hand, after.on_hand, before.reserved, after.reserved, after.version, 'bench', null, null, 'raw', null, now, now)
        outbox?.run(eventId(), 'stock.changed', it.sku, it.warehouse_id, after.version, eventPayload(it.sku, it.warehouse_id, after.version, after.on_hand, after.reserved, now), now)
      }
    })
    const started = performance.now()
    for (const b of batches) run.immediate(b) // the write lock first: the server may still be writing (alert evaluation), and a read-then-write transaction would fail with SQLITE_BUSY
    return (performance.now() - started) / 1000
  } finally {
    db.close()
  }
}
