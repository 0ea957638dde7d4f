/**
 * Helpers shared by the e2e suites: a seeded catalogue with stock, a snapshot of everything a
 * refused request must leave alone, and the one assertion every problem+json answer must pass.
 */
import { expect } from 'vitest'
import type { Kysely } from 'kysely'
import type { ServiceDeps } from '../../src/service/deps.js'
import type { Database } from '../../src/store/schema.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import type { Product } from '../../src/domain/product.js'
import { updateStock } from '../../src/service/stock.js'
import { makeProduct, makeWarehouse } from '../support/fixtures.js'

export const API = '/inventory/v1'

export interface Seed {
  readonly w1: Warehouse
  readonly w2: Warehouse
  /** A plain product with 10 in w1 and 5 in w2. */
  readonly tee: Product
  /** 3 in w1 only. */
  readonly mug: Product
  /** A variable product's parent id, with two variations (CAP-RED 4 in w1, CAP-BLUE 2 in w2). */
  readonly capParentId: number
  readonly capRed: Product
  readonly capBlue: Product
  /** Allows backorders; 1 in w1. */
  readonly pre: Product
}

/** Warehouses, products and stock, all written through the services so the ledger is complete. */
export async function seedCatalog(deps: ServiceDeps, tag: string): Promise<Seed> {
  const w1 = await makeWarehouse(deps, { code: `${tag}-MAIN`, priority: 1 })
  const w2 = await makeWarehouse(deps, { code: `${tag}-EAST`, priority: 2 })
  const tee = await makeProduct(deps, { sku: `${tag}-TEE-M`, productId: 501 })
  const mug = await makeProduct(deps, { sku: `${tag}-MUG`, productId: 502 })
  const capParentId = 600
  const capRed = await makeProduct(deps, { sku: `${tag}-CAP-RED`, productId: 601, parentId: capParentId })
  const capBlue = await makeProduct(deps, { sku: `${tag}-CAP-BLUE`, productId: 602, parentId: capParentId })
  const pre = await makeProduct(deps, { sku: `${tag}-PRE`, productId: 700, allowsBackorders: true })
  const ctx = { actor: 'test:seed' }
  const restock = (p: Product, w: Warehouse, quantity: number) =>
    updateStock(deps, { sku: p.sku, warehouseId: w.id, changeType: 'restock', quantity, source: 'seed', referenceId: null, notes: null }, ctx)
  await restock(tee, w1, 10)
  await restock(tee, w2, 5)
  await restock(mug, w1, 3)
  await restock(capRed, w1, 4)
  await restock(capBlue, w2, 2)
  await restock(pre, w1, 1)
  return { w1, w2, tee, mug, capParentId, capRed, capBlue, pre }
}

/** Everything a refused request must not touch: every level, the ledger, the catalogue, holds, idempotency records. */
export async function snapshot(db: Kysely<Database>) {
  const count = async (table: 'ledger_entry' | 'idempotency_record') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n)
  const norm = <T extends object>(rows: T[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v])))
  return {
    levels: norm(await db.selectFrom('stock_level').selectAll().orderBy('sku').orderBy('warehouse_id').execute()),
    ledgerCount: await count('ledger_entry'),
    lastLedgerId: Number((await db.selectFrom('ledger_entry').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst())?.id ?? 0),
    idempotencyRecords: await count('idempotency_record'),
    warehouses: norm(await db.selectFrom('warehouse').selectAll().orderBy('id').execute()),
    products: norm(await db.selectFrom('product').selectAll().orderBy('sku').execute()),
    reservations: norm(await db.selectFrom('reservation').select(['id', 'status', 'updated_at']).orderBy('id').execute()),
  }
}

// Traces of internals that must never reach a caller: stack frames, source paths, SQL, driver codes.
const LEAKS: ReadonlyArray<RegExp> = [
  /\n\s+at\s/,
  /\bat\s+\S+\s+\([^)]*:\d+:\d+\)/,
  /\.(ts|js|mjs|cjs):\d+/,
  /node_modules/,
  /\b(RangeError|TypeError|ReferenceError|SyntaxError|SqliteError|DatabaseError)\b/,
  /\bselect\s[\s\S]{0,200}?\sfrom\s/i,
  /\binsert\s+into\b/i,
  /\bupdate\s+"?\w+"?\s+set\b/i,
  /\bdelete\s+from\b/i,
  /\b(stock_level|ledger_entry|idempotency_record|reservation_line|api_key)\b/,
  /SQLITE_|sqlite3|postgres|pg_|\bsyntax error\b|violates|duplicate key|out of range for type/i,
]

export function expectNoLeaks(text: string): void {
  for (const re of LEAKS) expect(text, `body leaks internals (${re})`).not.toMatch(re)
}

export interface ProblemJson {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  code: string
  request_id?: string
  errors?: Array<{ pointer: string; message: string }>
  [k: string]: unknown
}

/** Assert an RFC 9457 problem with this status and code, free of internals; returns the parsed body. */
export async function expectProblem(res: Response, status: number, code: string): Promise<ProblemJson> {
  const text = await res.text()
  expect({ status: res.status, code: safeCode(text) }, text.slice(0, 500)).toEqual({ status, code })
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  const body = JSON.parse(text) as ProblemJson
  expect(body).toMatchObject({ status, code })
  for (const member of ['type', 'title', 'detail', 'instance'] as const) {
    expect(typeof body[member], `problem member ${member}`).toBe('string')
    expect(body[member].length, `problem member ${member}`).toBeGreaterThan(0)
  }
  expect(body.type).toBe(`urn:stockbridge:problem:${code.replaceAll('_', '-')}`)
  expect(body.instance.startsWith('/')).toBe(true)
  expectNoLeaks(text)
  return body
}

function safeCode(text: string): unknown {
  try {
    return (JSON.parse(text) as { code?: unknown }).code
  } catch {
    return `<not JSON: ${text.slice(0, 80)}>`
  }
}

/** Parse a success body, failing with the body text when the status is not the expected one. */
export async function expectJson<T = any>(res: Response, status = 200): Promise<T> {
  const text = await res.text()
  expect(res.status, text.slice(0, 500)).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return JSON.parse(text) as T
}
