/**
 * What one process can reach on this machine for `POST /stock/update` without any framework: bare
 * `node:http` + better-sqlite3 on the bench's own database (the service's schema), running the
 * statements the service runs for one movement, prepared once: the product row, the conditional
 * level `UPDATE … RETURNING`, the ledger `INSERT … RETURNING id`, the SKU's version bump with its
 * totals (`UPDATE product … RETURNING (SELECT SUM …)`) and the outbox `INSERT`. It parses the JSON
 * body, checks the fields it uses, answers 200 with the movement or 409 when stock is short. No
 * authentication, no idempotency, no logging: a ceiling, not a service.
 *
 *   npx tsx bench/minimal-server.ts '{"file": "bench.db", "mode": "tx" | "group"}'
 *
 * mode "tx": one transaction per request. mode "group": the requests that arrive in one turn of the
 * event loop share one transaction (each under its own SAVEPOINT, a refused one rolled back alone),
 * and each is answered after that COMMIT, which is what the service's group commit does.
 */
import http from 'node:http'
import { MAX_QUANTITY } from '../src/domain/quantity.js'
import { eventId, openRaw } from './lib/raw-sqlite.js'

const spec = JSON.parse(process.argv[2] ?? '{}') as { file: string; mode: 'tx' | 'group' }
const db = openRaw(spec.file)

const LEVEL_COLS = 'sku, warehouse_id, on_hand, reserved, safety_stock, low_stock_threshold, version, last_counted_at, updated_at'
const LEDGER_COLS =
  'sku, product_id, warehouse_id, change_type, status, quantity, on_hand_before, on_hand_after, reserved_before, reserved_after, level_version, source, reference_id, reservation_id, actor, notes, observed_at, created_at'
const sum = (c: string) => `(SELECT COALESCE(SUM(stock_level.${c}), 0) FROM stock_level WHERE stock_level.sku = product.sku)`

const product = db.prepare('SELECT * FROM product WHERE sku = ?')
const sale = db.prepare(
  `UPDATE stock_level SET on_hand = on_hand + ?, reserved = reserved + 0, version = version + 1, updated_at = ? WHERE sku = ? AND warehouse_id = ? AND on_hand - reserved - safety_stock >= ? AND on_hand >= ? RETURNING ${LEVEL_COLS}`,
)
const restock = db.prepare(`UPDATE stock_level SET on_hand = on_hand + ?, reserved = reserved + 0, version = version + 1, updated_at = ? WHERE sku = ? AND warehouse_id = ? AND on_hand <= ? RETURNING ${LEVEL_COLS}`)
const ledger = db.prepare(`INSERT INTO ledger_entry (${LEDGER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
const bump = db.prepare(`UPDATE product SET stock_version = stock_version + 1 WHERE sku = ? RETURNING stock_version, ${sum('on_hand')} AS on_hand, ${sum('reserved')} AS reserved, ${sum('safety_stock')} AS safety`)
const outbox = db.prepare('INSERT INTO outbox_event (id, type, sku, warehouse_id, sku_version, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq')
const begin = db.prepare('BEGIN IMMEDIATE')
const commit = db.prepare('COMMIT')
const rollback = db.prepare('ROLLBACK')
const savepoint = db.prepare('SAVEPOINT u')
const release = db.prepare('RELEASE u')
const rollbackTo = db.prepare('ROLLBACK TO u')

interface Level {
  on_hand: number
  reserved: number
  safety_stock: number
  version: number
}
interface Body {
  sku?: unknown
  warehouse_id?: unknown
  quantity?: unknown
  change_type?: unknown
  source?: unknown
}
type Outcome = { status: number; body: string }

/** One movement's statements; throws nothing for a refusal (409), only for a broken request. */
function move(b: Body): Outcome {
  if (typeof b.sku !== 'string' || typeof b.warehouse_id !== 'number' || typeof b.quantity !== 'number' || (b.change_type !== 'sale' && b.change_type !== 'restock')) {
    return { status: 422, body: '{"code":"validation_failed"}' }
  }
  const now = Date.now()
  const p = product.get(b.sku) as { product_id: number; parent_id: number | null } | undefined
  if (!p) return { status: 404, body: '{"code":"sku_not_found"}' }
  const isSale = b.change_type === 'sale'
  const q = isSale ? -b.quantity : b.quantity
  // The service keeps levels within ±MAX_QUANTITY with the same bound in the WHERE clause.
  const after = (isSale ? sale.get(q, now, b.sku, b.warehouse_id, b.quantity, -MAX_QUANTITY - q) : restock.get(q, now, b.sku, b.warehouse_id, MAX_QUANTITY - q)) as Level | undefined
  if (!after) return { status: 409, body: '{"code":"insufficient_stock"}' }
  const entry = ledger.get(b.sku, p.product_id, b.warehouse_id, b.change_type, 'applied', b.quantity, after.on_hand - q, after.on_hand, after.reserved, after.reserved, after.version, typeof b.source === 'string' ? b.source : 'api', null, null, 'minimal', null, null, now) as { id: number }
  const t = bump.get(b.sku) as { stock_version: number; on_hand: number; reserved: number; safety: number }
  const figures = (onHand: number, reserved: number, safety: number) => ({ on_hand: onHand, reserved, available: onHand - reserved - safety })
  const data = {
    sku: b.sku,
    product_id: p.product_id,
    parent_id: p.parent_id,
    warehouse_id: b.warehouse_id,
    movement_id: entry.id,
    change_type: b.change_type,
    version: t.stock_version,
    level_version: after.version,
    before: figures(after.on_hand - q, after.reserved, after.safety_stock),
    after: figures(after.on_hand, after.reserved, after.safety_stock),
    totals: figures(t.on_hand, t.reserved, t.safety),
  }
  outbox.get(eventId(), 'stock.changed', b.sku, b.warehouse_id, t.stock_version, JSON.stringify(data), now)
  return { status: 200, body: JSON.stringify({ success: true, message: 'Stock updated', data: { id: entry.id, ...data, created_at: new Date(now).toISOString() } }) }
}

function answer(res: http.ServerResponse, o: Outcome): void {
  res.writeHead(o.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(o.body) })
  res.end(o.body)
}

// Group commit: requests queued in this turn run in one transaction, answered after its COMMIT.
let queue: Array<{ body: Body; res: http.ServerResponse }> = []
let scheduled = false
function flush(): void {
  scheduled = false
  const batch = queue
  queue = []
  const outcomes: Outcome[] = []
  begin.run()
  for (const r of batch) {
    savepoint.run()
    try {
      const o = move(r.body)
      if (o.status !== 200) rollbackTo.run()
      release.run()
      outcomes.push(o)
    } catch {
      rollbackTo.run()
      release.run()
      outcomes.push({ status: 500, body: '{"code":"internal"}' })
    }
  }
  commit.run()
  batch.forEach((r, i) => answer(r.res, outcomes[i]!))
}

function oneTransaction(body: Body): Outcome {
  begin.run()
  try {
    const o = move(body)
    if (o.status === 200) commit.run()
    else rollback.run()
    return o
  } catch (e) {
    rollback.run()
    throw e
  }
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    let body: Body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body
    } catch {
      return answer(res, { status: 400, body: '{"code":"malformed_json"}' })
    }
    if (spec.mode === 'tx') return answer(res, oneTransaction(body))
    queue.push({ body, res })
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const a = server.address()
  process.stdout.write(`listening http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}\n`)
})
const stop = () => server.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
