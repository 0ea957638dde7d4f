/**
 * Hostile input, table-driven over every route: each case must get its 4xx problem+json with the
 * right code, carry no internals, and leave every level, the ledger and the catalogue untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { createApiKey, listApiKeys, revokeApiKey } from '../../src/service/api-keys.js'
import { createReservation, releaseReservation } from '../../src/service/reservations.js'
import { findLevelsBySkus } from '../../src/store/stock-repo.js'
import { availableOf } from '../../src/domain/stock-level.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, testApp, testClock, testDeps, type TestClock } from '../support/fixtures.js'
import { expectLevelsMatchLedger } from '../support/ledger-check.js'
import { expectJson, expectNoLeaks, expectProblem, seedCatalog, snapshot, type ProblemJson, type Seed } from './support-e2e.js'

type KeyKind = 'admin' | 'write' | 'read' | 'writeOnly' | 'none' | 'garbage' | 'unknown' | 'revoked'

interface Req {
  readonly method: string
  readonly path: string
  readonly key?: KeyKind
  readonly body?: unknown
  readonly raw?: string
  readonly headers?: Record<string, string>
  /** Send to the app built with small body limits (2 KiB, bulk 8 KiB). */
  readonly small?: boolean
}

interface Ctx extends Seed {
  /** An active reservation of 1 tee in w1. */
  readonly activeRes: string
  /** A released reservation. */
  readonly releasedRes: string
  send(req: Req): Promise<Response>
  /** Available units of a SKU now: in one warehouse, or summed over the active ones. */
  available(sku: string, warehouseId?: number): Promise<number>
  onHand(sku: string, warehouseId: number): Promise<number>
}

interface Case {
  readonly name: string
  readonly req: (s: Ctx) => Req
  readonly status: number
  readonly code: string
  /** A pointer errors[] must name. */
  readonly pointer?: string
  /** Runs before the "before" snapshot (for cases that need an earlier successful request). */
  readonly setup?: (s: Ctx) => Promise<void>
  readonly check?: (p: ProblemJson, res: Response, s: Ctx) => void | Promise<void>
}

const LIMITS_SMALL = { bodyBytes: 2048, bulkBodyBytes: 8192 }

// ---- valid requests per route: each case spoils exactly one thing ----
const upd = (s: Ctx, over: Record<string, unknown> = {}) => ({ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale', ...over })
const bulk = (s: Ctx, over: Record<string, unknown> = {}) => ({ items: [{ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: 7 }], ...over })
const trf = (s: Ctx, over: Record<string, unknown> = {}) => ({ sku: s.tee.sku, from_warehouse_id: s.w1.id, to_warehouse_id: s.w2.id, quantity: 1, ...over })
const rsv = (s: Ctx, over: Record<string, unknown> = {}) => ({ sku: s.tee.sku, quantity: 1, warehouse_id: s.w1.id, ...over })
const whBody = (over: Record<string, unknown> = {}) => ({ code: 'NEW-WH', name: 'New warehouse', ...over })
const prodBody = (over: Record<string, unknown> = {}) => ({ sku: 'NEW-SKU-1', product_id: 9001, ...over })

const post = (path: string, body: unknown, extra: Partial<Req> = {}): Req => ({ method: 'POST', path, body, ...extra })
const patch = (path: string, body: unknown, extra: Partial<Req> = {}): Req => ({ method: 'PATCH', path, body, ...extra })
const get = (path: string, extra: Partial<Req> = {}): Req => ({ method: 'GET', path, ...extra })

/** Every route, with a request that would succeed for a key holding the scope. */
const ROUTES: ReadonlyArray<{ name: string; scope: 'read' | 'write' | 'admin'; req: (s: Ctx) => Req }> = [
  { name: 'GET /stock/{sku}', scope: 'read', req: (s) => get(`stock/${s.tee.sku}`) },
  { name: 'GET /stock?skus=', scope: 'read', req: (s) => get(`stock?skus=${s.tee.sku},${s.mug.sku}`) },
  { name: 'POST /stock/update', scope: 'write', req: (s) => post('stock/update', upd(s)) },
  { name: 'POST /stock/bulk-sync', scope: 'write', req: (s) => post('stock/bulk-sync', bulk(s)) },
  { name: 'POST /stock/transfer', scope: 'write', req: (s) => post('stock/transfer', trf(s)) },
  { name: 'GET /stock/history', scope: 'read', req: (s) => get(`stock/history?sku=${s.tee.sku}`) },
  { name: 'GET /stock/history/{product_id}', scope: 'read', req: (s) => get(`stock/history/${s.capParentId}`) },
  { name: 'POST /reservations', scope: 'write', req: (s) => post('reservations', rsv(s)) },
  { name: 'GET /reservations/{id}', scope: 'read', req: (s) => get(`reservations/${s.activeRes}`) },
  { name: 'POST /reservations/{id}/commit', scope: 'write', req: (s) => ({ method: 'POST', path: `reservations/${s.activeRes}/commit` }) },
  { name: 'POST /reservations/{id}/release', scope: 'write', req: (s) => ({ method: 'POST', path: `reservations/${s.activeRes}/release` }) },
  { name: 'GET /warehouses', scope: 'read', req: () => get('warehouses') },
  { name: 'GET /warehouses/{id}', scope: 'read', req: (s) => get(`warehouses/${s.w1.id}`) },
  { name: 'POST /warehouses', scope: 'admin', req: () => post('warehouses', whBody()) },
  { name: 'PATCH /warehouses/{id}', scope: 'admin', req: (s) => patch(`warehouses/${s.w1.id}`, { name: 'Renamed' }) },
  { name: 'GET /products', scope: 'read', req: () => get('products') },
  { name: 'GET /products/{sku}', scope: 'read', req: (s) => get(`products/${s.tee.sku}`) },
  { name: 'POST /products', scope: 'admin', req: () => post('products', prodBody()) },
  { name: 'PATCH /products/{sku}', scope: 'admin', req: (s) => patch(`products/${s.tee.sku}`, { safety_stock: 1 }) },
]

/** The routes that take a JSON body, with a valid body and where a field lives. */
const BODY_ROUTES: ReadonlyArray<{ name: string; method: string; path: (s: Ctx) => string; body: (s: Ctx) => Record<string, unknown> }> = [
  { name: 'POST /stock/update', method: 'POST', path: () => 'stock/update', body: (s) => upd(s) },
  { name: 'POST /stock/bulk-sync', method: 'POST', path: () => 'stock/bulk-sync', body: (s) => bulk(s) },
  { name: 'POST /stock/transfer', method: 'POST', path: () => 'stock/transfer', body: (s) => trf(s) },
  { name: 'POST /reservations', method: 'POST', path: () => 'reservations', body: (s) => rsv(s) },
  { name: 'POST /warehouses', method: 'POST', path: () => 'warehouses', body: () => whBody() },
  { name: 'PATCH /warehouses/{id}', method: 'PATCH', path: (s) => `warehouses/${s.w1.id}`, body: () => ({ name: 'Renamed' }) },
  { name: 'POST /products', method: 'POST', path: () => 'products', body: () => prodBody() },
  { name: 'PATCH /products/{sku}', method: 'PATCH', path: (s) => `products/${s.tee.sku}`, body: () => ({ safety_stock: 1 }) },
]

const deepArray = (depth: number) => '['.repeat(depth) + '0' + ']'.repeat(depth)
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '0' + '}'.repeat(depth)
const CTRL = ['\u0000', '\u0007', '\n', '\u001b', '\u007f']
const hasWwwAuthenticate = (_p: ProblemJson, res: Response) => expect(res.headers.get('www-authenticate')).toMatch(/^ApiKey /)

const CASES: Case[] = []
const add = (c: Case) => CASES.push(c)

// ---- authentication and scopes, over every route ----
for (const r of ROUTES) {
  add({ name: `${r.name}: no API key`, req: (s) => ({ ...r.req(s), key: 'none' }), status: 401, code: 'unauthenticated', check: hasWwwAuthenticate })
  add({ name: `${r.name}: garbage API key`, req: (s) => ({ ...r.req(s), key: 'garbage' }), status: 401, code: 'unauthenticated', check: hasWwwAuthenticate })
  add({ name: `${r.name}: revoked API key`, req: (s) => ({ ...r.req(s), key: 'revoked' }), status: 401, code: 'unauthenticated', check: hasWwwAuthenticate })
  const weaker: KeyKind = r.scope === 'read' ? 'writeOnly' : r.scope === 'write' ? 'read' : 'write'
  add({
    name: `${r.name}: ${weaker} key lacks the ${r.scope} scope`,
    req: (s) => ({ ...r.req(s), key: weaker }),
    status: 403,
    code: 'forbidden',
    check: (p) => expect(p.required_scope).toBe(r.scope),
  })
}
add({ name: 'well-formed but unknown API key', req: (s) => ({ ...post('stock/update', upd(s)), key: 'unknown' }), status: 401, code: 'unauthenticated', check: hasWwwAuthenticate })

// ---- body framing, over every body route ----
const NOT_OBJECTS = ['[]', 'null', '"a string"', '42', 'true', `[${JSON.stringify({ sku: 'X' })}]`, '"{}"', '[null]']
BODY_ROUTES.forEach((r, i) => {
  add({ name: `${r.name}: malformed JSON`, req: (s) => ({ method: r.method, path: r.path(s), raw: '{"sku": "A", "quantity": ' }), status: 400, code: 'malformed_json' })
  add({ name: `${r.name}: trailing garbage after JSON`, req: (s) => ({ method: r.method, path: r.path(s), raw: JSON.stringify(r.body(s)) + '}' }), status: 400, code: 'malformed_json' })
  add({ name: `${r.name}: empty body`, req: (s) => ({ method: r.method, path: r.path(s), raw: '' }), status: 400, code: 'malformed_json' })
  const contentType = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '', 'text/json', 'application/octet-stream', 'text/html'][i]!
  add({
    name: `${r.name}: content type "${contentType}"`,
    req: (s) => ({ method: r.method, path: r.path(s), raw: JSON.stringify(r.body(s)), headers: { 'content-type': contentType } }),
    status: 415,
    code: 'unsupported_media_type',
  })
  add({ name: `${r.name}: body is ${NOT_OBJECTS[i]}`, req: (s) => ({ method: r.method, path: r.path(s), raw: NOT_OBJECTS[i]! }), status: 422, code: 'validation_failed', pointer: '' })
  add({ name: `${r.name}: unknown field`, req: (s) => ({ method: r.method, path: r.path(s), body: { ...r.body(s), is_admin: true } }), status: 422, code: 'validation_failed', pointer: '/is_admin' })
  add({
    name: `${r.name}: deeply nested body (10,000 levels)`,
    req: (s) => ({ method: r.method, path: r.path(s), raw: JSON.stringify(r.body(s)).replace(/}$/, `,"nested":${i % 2 ? deepObject(10_000) : deepArray(10_000)}}`) }),
    status: 422,
    code: 'validation_failed',
    // Refused by the JSON depth limit before any parsing, so the pointer is the whole body.
    pointer: '',
  })
  add({
    name: `${r.name}: body over the limit`,
    req: (s) => ({ method: r.method, path: r.path(s), body: { ...r.body(s), padding: 'x'.repeat(r.name.includes('bulk') ? 9000 : 3000) }, small: true }),
    status: 413,
    code: 'payload_too_large',
  })
})
add({
  name: 'POST /stock/bulk-sync: larger limit than the others (4 KiB body passes the limiter)',
  req: (s) => ({ ...post('stock/bulk-sync', bulk(s, { padding: 'x'.repeat(4000) })), small: true }),
  status: 422,
  code: 'validation_failed',
  pointer: '/padding',
})
add({ name: 'POST /stock/update: a 4 KiB body is over the default-route limit', req: (s) => ({ ...post('stock/update', upd(s, { notes: 'x'.repeat(1000), padding: 'x'.repeat(3000) })), small: true }), status: 413, code: 'payload_too_large' })

// ---- POST /stock/update: quantities, types, change types, SKUs ----
const badQuantities: Array<[string, unknown, string]> = [
  ['negative', -1, 'sale'],
  ['zero sale', 0, 'sale'],
  ['zero restock', 0, 'restock'],
  ['negative adjustment', -5, 'adjustment'],
  ['fractional', 1.5, 'sale'],
  ['fractional sync', 0.25, 'sync'],
  ['1e20', 1e20, 'restock'],
  ['2**53', 2 ** 53, 'restock'],
  ['just above the maximum', 1_000_000_001, 'adjustment'],
  ['a string', '5', 'sale'],
  ['null', null, 'sale'],
  ['true', true, 'restock'],
  ['an object', { value: 1 }, 'restock'],
  ['an array', [1], 'restock'],
]
for (const [what, quantity, changeType] of badQuantities) {
  add({ name: `POST /stock/update: quantity ${what} (${changeType})`, req: (s) => post('stock/update', upd(s, { quantity, change_type: changeType })), status: 422, code: 'validation_failed', pointer: '/quantity' })
}
add({ name: 'POST /stock/update: quantity 1e400 (Infinity)', req: (s) => ({ method: 'POST', path: 'stock/update', raw: `{"sku":"${s.tee.sku}","warehouse_id":${s.w1.id},"quantity":1e400,"change_type":"restock"}` }), status: 422, code: 'validation_failed', pointer: '/quantity' })
add({ name: 'POST /stock/update: quantity missing', req: (s) => post('stock/update', { sku: s.tee.sku, warehouse_id: s.w1.id, change_type: 'sale' }), status: 422, code: 'validation_failed', pointer: '/quantity' })
for (const changeType of ['refund', 'SALE', '', 'reserve', 'transfer', 'commit', '__proto__', 'constructor', 'sale ', 'deduction;drop table']) {
  add({ name: `POST /stock/update: unknown change type ${JSON.stringify(changeType)}`, req: (s) => post('stock/update', upd(s, { change_type: changeType })), status: 422, code: 'unknown_change_type', pointer: '/change_type' })
}
add({ name: 'POST /stock/update: change type of 41 characters', req: (s) => post('stock/update', upd(s, { change_type: 's'.repeat(41) })), status: 422, code: 'validation_failed', pointer: '/change_type' })
add({ name: 'POST /stock/update: change type a number', req: (s) => post('stock/update', upd(s, { change_type: 1 })), status: 422, code: 'validation_failed', pointer: '/change_type' })
const badSkus: Array<[string, unknown]> = [
  ['101 characters', 'A'.repeat(101)],
  ['10,000 characters', 'A'.repeat(10_000)],
  ['empty', ''],
  // Spaces, slashes, any script are SKUs now (#12); invisible characters are not.
  ['only spaces', '   '],
  ['a zero-width space', 'TEE\u200b1'],
  ['a byte-order mark inside', 'TE\ufeffE'],
  ['a line separator', 'TEE\u20281'],
  ['a number', 123],
  ['null', null],
  ...CTRL.map((ch): [string, unknown] => [`control character U+${ch.charCodeAt(0).toString(16).padStart(4, '0')}`, `TEE${ch}1`]),
]
for (const [what, sku] of badSkus) {
  add({ name: `POST /stock/update: SKU ${what}`, req: (s) => post('stock/update', upd(s, { sku })), status: 422, code: 'validation_failed', pointer: '/sku' })
}
const badWarehouseIds: Array<[string, unknown]> = [['"1" (string)', '1'], ['0', 0], ['-1', -1], ['1.5', 1.5], ['2**31', 2 ** 31], ['null', null]]
for (const [what, wh] of badWarehouseIds) {
  add({ name: `POST /stock/update: warehouse_id ${what}`, req: (s) => post('stock/update', upd(s, { warehouse_id: wh })), status: 422, code: 'validation_failed', pointer: '/warehouse_id' })
}
add({ name: 'POST /stock/update: unregistered SKU', req: (s) => post('stock/update', upd(s, { sku: 'NOPE-404', change_type: 'restock' })), status: 404, code: 'sku_not_found' })
add({ name: 'POST /stock/update: unknown warehouse (no level is created)', req: (s) => post('stock/update', upd(s, { warehouse_id: 9999, change_type: 'restock' })), status: 404, code: 'warehouse_not_found' })
add({ name: 'POST /stock/update: unknown warehouse for an absolute count', req: (s) => post('stock/update', upd(s, { warehouse_id: 9999, change_type: 'adjustment', quantity: 4 })), status: 404, code: 'warehouse_not_found' })
add({
  name: 'POST /stock/update: sale one beyond available is refused, not clamped',
  req: (s) => post('stock/update', upd(s, { sku: s.mug.sku, quantity: 4 })),
  status: 409,
  code: 'insufficient_stock',
  check: async (p, _r, s) => expect(p).toMatchObject({ sku: s.mug.sku, warehouse_id: s.w1.id, requested: 4, available: await s.available(s.mug.sku, s.w1.id) }),
})
add({
  name: 'POST /stock/update: expected_on_hand mismatch',
  req: (s) => post('stock/update', upd(s, { change_type: 'restock', expected_on_hand: 999 })),
  status: 409,
  code: 'version_conflict',
  check: async (p, _r, s) => expect(p).toMatchObject({ on_hand: await s.onHand(s.tee.sku, s.w1.id), expected_on_hand: 999 }),
})
add({ name: 'POST /stock/update: expected_on_hand mismatch on an absolute count', req: (s) => post('stock/update', upd(s, { change_type: 'adjustment', quantity: 3, expected_on_hand: 0 })), status: 409, code: 'version_conflict' })
add({ name: 'POST /stock/update: expected_version beyond 32 bits', req: (s) => post('stock/update', upd(s, { change_type: 'restock', expected_version: 2 ** 53 - 1 })), status: 422, code: 'validation_failed', pointer: '/expected_version' })
add({ name: 'POST /stock/update: expected_on_hand fractional', req: (s) => post('stock/update', upd(s, { expected_on_hand: 1.5 })), status: 422, code: 'validation_failed', pointer: '/expected_on_hand' })
add({ name: 'POST /stock/update: observed_at on a sale', req: (s) => post('stock/update', upd(s, { observed_at: '2026-11-25T11:00:00Z' })), status: 422, code: 'validation_failed', pointer: '/observed_at' })
add({ name: 'POST /stock/update: observed_at not a date', req: (s) => post('stock/update', upd(s, { change_type: 'sync', quantity: 3, observed_at: 'yesterday' })), status: 422, code: 'validation_failed', pointer: '/observed_at' })
add({ name: 'POST /stock/update: observed_at an hour ahead', req: (s) => post('stock/update', upd(s, { change_type: 'sync', quantity: 3, observed_at: '2026-11-25T13:00:00Z' })), status: 422, code: 'validation_failed', pointer: '/observed_at' })
add({ name: 'POST /stock/update: notes with a control character', req: (s) => post('stock/update', upd(s, { notes: 'bell\u0007' })), status: 422, code: 'validation_failed', pointer: '/notes' })
add({ name: 'POST /stock/update: notes over 2,000 characters', req: (s) => post('stock/update', upd(s, { notes: 'n'.repeat(2001) })), status: 422, code: 'validation_failed', pointer: '/notes' })
add({ name: 'POST /stock/update: empty source', req: (s) => post('stock/update', upd(s, { source: '' })), status: 422, code: 'validation_failed', pointer: '/source' })
add({ name: 'POST /stock/update: reference_id with a newline', req: (s) => post('stock/update', upd(s, { reference_id: 'order-1\nX-Injected: 1' })), status: 422, code: 'validation_failed', pointer: '/reference_id' })
add({ name: 'POST /stock/update: __proto__ as a field', req: (s) => ({ method: 'POST', path: 'stock/update', raw: JSON.stringify(upd(s)).replace(/}$/, ',"__proto__":{"change_type":"restock"}}') }), status: 422, code: 'validation_failed', pointer: '/__proto__' })

// ---- idempotency keys ----
const badIdemKeys: Array<[string, string]> = [['with a space', 'key one'], ['256 characters', 'k'.repeat(256)], ['empty', ''], ['non-ASCII (latin-1 byte)', 'cl\u00e9']]
for (const [what, k] of badIdemKeys) {
  add({ name: `POST /stock/update: Idempotency-Key ${what}`, req: (s) => post('stock/update', upd(s, { change_type: 'restock' }), { headers: { 'idempotency-key': k } }), status: 422, code: 'validation_failed', pointer: '/headers/Idempotency-Key' })
}
add({ name: 'POST /stock/transfer: bad Idempotency-Key', req: (s) => post('stock/transfer', trf(s), { headers: { 'idempotency-key': 'a b' } }), status: 422, code: 'validation_failed', pointer: '/headers/Idempotency-Key' })
add({ name: 'POST /stock/bulk-sync: bad Idempotency-Key', req: (s) => post('stock/bulk-sync', bulk(s), { headers: { 'idempotency-key': 'x'.repeat(300) } }), status: 422, code: 'validation_failed', pointer: '/headers/Idempotency-Key' })
add({ name: 'POST /reservations: bad Idempotency-Key', req: (s) => post('reservations', rsv(s), { headers: { 'idempotency-key': '' } }), status: 422, code: 'validation_failed', pointer: '/headers/Idempotency-Key' })
add({ name: 'POST /reservations/{id}/commit: bad Idempotency-Key', req: (s) => ({ method: 'POST', path: `reservations/${s.activeRes}/commit`, headers: { 'idempotency-key': 'tab\there' } }), status: 422, code: 'validation_failed', pointer: '/headers/Idempotency-Key' })
add({ name: 'POST /reservations/{id}/release: bad Idempotency-Key', req: (s) => ({ method: 'POST', path: `reservations/${s.activeRes}/release`, headers: { 'idempotency-key': ' ' } }), status: 422, code: 'validation_failed', pointer: '/headers/Idempotency-Key' })

const reuse = (name: string, path: string, first: (s: Ctx) => unknown, second: (s: Ctx) => unknown, key: string, firstStatus = 200): Case => ({
  name: `${name}: same Idempotency-Key, different body`,
  setup: async (s) => {
    const res = await s.send(post(path, first(s), { headers: { 'idempotency-key': key } }))
    expect(res.status, await res.clone().text()).toBe(firstStatus)
  },
  req: (s) => post(path, second(s), { headers: { 'idempotency-key': key } }),
  status: 422,
  code: 'idempotency_key_reused',
})
add(reuse('POST /stock/update', 'stock/update', (s) => upd(s, { change_type: 'restock', quantity: 2 }), (s) => upd(s, { change_type: 'restock', quantity: 3 }), 'reuse-update'))
add(reuse('POST /stock/bulk-sync', 'stock/bulk-sync', (s) => bulk(s, { items: [{ sku: s.mug.sku, warehouse_id: s.w1.id, quantity: 3 }] }), (s) => bulk(s, { items: [{ sku: s.mug.sku, warehouse_id: s.w1.id, quantity: 30 }] }), 'reuse-bulk'))
add(reuse('POST /stock/transfer', 'stock/transfer', (s) => trf(s, { quantity: 1 }), (s) => trf(s, { quantity: 2 }), 'reuse-transfer'))
add(reuse('POST /reservations', 'reservations', (s) => rsv(s, { sku: s.capRed.sku }), (s) => rsv(s, { sku: s.capRed.sku, quantity: 2 }), 'reuse-reservation', 201))
add({
  name: 'POST /stock/update: same source + reference_id, different quantity',
  setup: async (s) => {
    const res = await s.send(post('stock/update', upd(s, { change_type: 'restock', quantity: 1, source: 'erp', reference_id: 'PO-77' })))
    expect(res.status).toBe(200)
  },
  req: (s) => post('stock/update', upd(s, { change_type: 'restock', quantity: 5, source: 'erp', reference_id: 'PO-77' })),
  status: 422,
  code: 'idempotency_key_reused',
})

// ---- POST /stock/bulk-sync ----
add({ name: 'POST /stock/bulk-sync: items not an array', req: () => post('stock/bulk-sync', { items: { sku: 'A' } }), status: 422, code: 'validation_failed', pointer: '/items' })
add({ name: 'POST /stock/bulk-sync: no items', req: () => post('stock/bulk-sync', { items: [] }), status: 422, code: 'validation_failed', pointer: '/items' })
add({ name: 'POST /stock/bulk-sync: items missing', req: () => post('stock/bulk-sync', { source: 'erp' }), status: 422, code: 'validation_failed', pointer: '/items' })
add({ name: 'POST /stock/bulk-sync: 10,001 items', req: () => ({ method: 'POST', path: 'stock/bulk-sync', raw: `{"items":[${Array(10_001).fill('{}').join(',')}]}` }), status: 422, code: 'validation_failed', pointer: '/items' })
add({ name: 'POST /stock/bulk-sync: observed_at not a date', req: (s) => post('stock/bulk-sync', bulk(s, { observed_at: '25/11/2026' })), status: 422, code: 'validation_failed', pointer: '/observed_at' })
add({ name: 'POST /stock/bulk-sync: source with a control character', req: (s) => post('stock/bulk-sync', bulk(s, { source: 'erp\u0000' })), status: 422, code: 'validation_failed', pointer: '/source' })

// ---- POST /stock/transfer ----
for (const [what, quantity] of [['0', 0], ['-3', -3], ['2.5', 2.5], ['1e20', 1e20], ['"1"', '1']] as const) {
  add({ name: `POST /stock/transfer: quantity ${what}`, req: (s) => post('stock/transfer', trf(s, { quantity })), status: 422, code: 'validation_failed', pointer: '/quantity' })
}
add({ name: 'POST /stock/transfer: same warehouse both ends', req: (s) => post('stock/transfer', trf(s, { to_warehouse_id: s.w1.id })), status: 422, code: 'same_warehouse', pointer: '/to_warehouse_id' })
add({ name: 'POST /stock/transfer: more than available', req: (s) => post('stock/transfer', trf(s, { sku: s.mug.sku, quantity: 4 })), status: 409, code: 'insufficient_stock' })
add({ name: 'POST /stock/transfer: backorders never apply', req: (s) => post('stock/transfer', trf(s, { sku: s.pre.sku, quantity: 2 })), status: 409, code: 'insufficient_stock' })
add({ name: 'POST /stock/transfer: unknown destination warehouse', req: (s) => post('stock/transfer', trf(s, { to_warehouse_id: 9999 })), status: 404, code: 'warehouse_not_found' })
add({ name: 'POST /stock/transfer: unregistered SKU', req: (s) => post('stock/transfer', trf(s, { sku: 'NOPE-404' })), status: 404, code: 'sku_not_found' })
add({ name: 'POST /stock/transfer: SKU with a control character', req: (s) => post('stock/transfer', trf(s, { sku: 'TEE\u0000' })), status: 422, code: 'validation_failed', pointer: '/sku' })
add({ name: 'POST /stock/transfer: from_warehouse_id a string', req: (s) => post('stock/transfer', trf(s, { from_warehouse_id: 'main' })), status: 422, code: 'validation_failed', pointer: '/from_warehouse_id' })

// ---- reservations ----
for (const [what, over, pointer] of [
  ['quantity 0', { quantity: 0 }, '/quantity'],
  ['quantity 2**53', { quantity: 2 ** 53 }, '/quantity'],
  ['quantity 1.5', { quantity: 1.5 }, '/quantity'],
  ['ttl_seconds 0', { ttl_seconds: 0 }, '/ttl_seconds'],
  ['ttl_seconds a year', { ttl_seconds: 365 * 24 * 3600 }, '/ttl_seconds'],
  ['SKU of 101 characters', { sku: 'R'.repeat(101) }, '/sku'],
  ['warehouse_id "1"', { warehouse_id: '1' }, '/warehouse_id'],
] as const) {
  add({ name: `POST /reservations: ${what}`, req: (s) => post('reservations', rsv(s, over)), status: 422, code: 'validation_failed', pointer })
}
add({
  name: 'POST /reservations: more than available in the warehouse',
  req: (s) => post('reservations', rsv(s, { quantity: 1000 })),
  status: 409,
  code: 'insufficient_stock',
  check: async (p, _r, s) => expect(p).toMatchObject({ requested: 1000, available: await s.available(s.tee.sku, s.w1.id) }),
})
add({
  name: 'POST /reservations: more than all warehouses hold',
  req: (s) => post('reservations', { sku: s.tee.sku, quantity: 1000 }),
  status: 409,
  code: 'insufficient_stock',
  check: async (p, _r, s) => expect(p).toMatchObject({ requested: 1000, warehouse_id: null, available: await s.available(s.tee.sku) }),
})
add({ name: 'POST /reservations: unknown warehouse', req: (s) => post('reservations', rsv(s, { warehouse_id: 9999 })), status: 404, code: 'warehouse_not_found' })
add({ name: 'POST /reservations: unregistered SKU', req: (s) => post('reservations', rsv(s, { sku: 'NOPE-404' })), status: 404, code: 'sku_not_found' })
for (const action of ['', '/commit', '/release']) {
  const method = action === '' ? 'GET' : 'POST'
  add({ name: `${method} /reservations/{id}${action}: unknown id`, req: () => ({ method, path: `reservations/res_01UNKNOWN000000000000000000${action}` }), status: 404, code: 'reservation_not_found' })
  add({ name: `${method} /reservations/{id}${action}: id with a dash`, req: () => ({ method, path: `reservations/res-1${action}` }), status: 422, code: 'validation_failed', pointer: '/id' })
  add({ name: `${method} /reservations/{id}${action}: id of 41 characters`, req: () => ({ method, path: `reservations/${'r'.repeat(41)}${action}` }), status: 422, code: 'validation_failed', pointer: '/id' })
}
add({ name: 'POST /reservations/{id}/commit: already released', req: (s) => ({ method: 'POST', path: `reservations/${s.releasedRes}/commit` }), status: 409, code: 'reservation_not_active' })
add({ name: 'POST /reservations/{id}/release: already released', req: (s) => ({ method: 'POST', path: `reservations/${s.releasedRes}/release` }), status: 409, code: 'reservation_not_active' })

// ---- reads: GET /stock/{sku}, GET /stock?skus= ----
add({ name: 'GET /stock/{sku}: SKU of 101 characters', req: () => get(`stock/${'S'.repeat(101)}`), status: 422, code: 'validation_failed', pointer: '/sku' })
add({ name: 'GET /stock/{sku}: NUL in the SKU', req: () => get('stock/TEE%00M'), status: 422, code: 'validation_failed', pointer: '/sku' })
add({ name: 'GET /stock/{sku}: newline in the SKU', req: () => get('stock/TEE%0D%0AM'), status: 422, code: 'validation_failed', pointer: '/sku' })
add({ name: 'GET /stock/{sku}: a zero-width space in the SKU', req: () => get('stock/TEE%E2%80%8BM'), status: 422, code: 'validation_failed', pointer: '/sku' })
// Refused for the whole path, before a route reads it (#12): the pointer is the request itself.
add({ name: 'GET /stock/{sku}: broken percent-encoding', req: () => get('stock/%E0%A4%A'), status: 422, code: 'validation_failed', pointer: '' })
add({ name: 'GET /stock/{sku}: unregistered SKU', req: () => get('stock/NOPE-404'), status: 404, code: 'sku_not_found' })
add({ name: 'GET /stock/{sku}: warehouse_id not a number', req: (s) => get(`stock/${s.tee.sku}?warehouse_id=main`), status: 422, code: 'validation_failed', pointer: '/warehouse_id' })
add({ name: 'GET /stock/{sku}: warehouse_id negative', req: (s) => get(`stock/${s.tee.sku}?warehouse_id=-1`), status: 422, code: 'validation_failed', pointer: '/warehouse_id' })
add({ name: 'GET /stock/{sku}: warehouse_id twice', req: (s) => get(`stock/${s.tee.sku}?warehouse_id=1&warehouse_id=2`), status: 422, code: 'validation_failed', pointer: '/warehouse_id' })
add({ name: 'GET /stock/{sku}: unknown warehouse', req: (s) => get(`stock/${s.tee.sku}?warehouse_id=9999`), status: 404, code: 'warehouse_not_found' })
add({ name: 'GET /stock/{sku}: unknown query parameter', req: (s) => get(`stock/${s.tee.sku}?debug=1`), status: 422, code: 'validation_failed', pointer: '/debug' })
add({ name: 'GET /stock?skus=: only commas', req: () => get('stock?skus=,,,'), status: 422, code: 'validation_failed', pointer: '/skus' })
add({ name: 'GET /stock?skus=: empty', req: () => get('stock?skus='), status: 422, code: 'validation_failed', pointer: '/skus' })
add({ name: 'GET /stock?skus=: one SKU with a control character', req: (s) => get(`stock?skus=${s.tee.sku},BAD%01SKU`), status: 422, code: 'validation_failed', pointer: '/skus' })
add({ name: 'GET /stock?skus=: 501 SKUs', req: () => get(`stock?skus=${Array.from({ length: 501 }, (_, i) => `S${i}`).join(',')}`), status: 422, code: 'validation_failed', pointer: '/skus' })
add({ name: 'GET /stock?skus=: warehouse_id not a number', req: (s) => get(`stock?skus=${s.tee.sku}&warehouse_id=abc`), status: 422, code: 'validation_failed', pointer: '/warehouse_id' })

// ---- history ----
const b64 = (s: string) => Buffer.from(s).toString('base64url')
for (const [what, q, code, pointer] of [
  ['garbage cursor', 'cursor=not-a-cursor', 'validation_failed', '/cursor'],
  ['cursor with a negative id', `cursor=${b64('l:-1')}`, 'validation_failed', '/cursor'],
  ['cursor of another kind', `cursor=${b64('p:5')}`, 'validation_failed', '/cursor'],
  ['cursor over 100 characters', `cursor=${'A'.repeat(101)}`, 'validation_failed', '/cursor'],
  ['unknown change_type', 'change_type=refund', 'unknown_change_type', '/change_type'],
  ['one unknown among known change types', 'change_type=sale,restock,teleport', 'unknown_change_type', '/change_type'],
  ['change_type naming nothing', 'change_type=,', 'validation_failed', '/change_type'],
  ['change_type empty', 'change_type=', 'validation_failed', '/change_type'],
  ['from after to', 'from=2026-11-26T00:00:00Z&to=2026-11-25T00:00:00Z', 'validation_failed', '/from'],
  ['from equal to to', 'from=2026-11-25T00:00:00Z&to=2026-11-25T00:00:00Z', 'validation_failed', '/from'],
  ['from not a date', 'from=last-week', 'validation_failed', '/from'],
  ['limit 0', 'limit=0', 'validation_failed', '/limit'],
  ['limit 501', 'limit=501', 'validation_failed', '/limit'],
  ['limit not a number', 'limit=ten', 'validation_failed', '/limit'],
  ['warehouse_id not a number', 'warehouse_id=main', 'validation_failed', '/warehouse_id'],
  ['warehouse_id beyond 32 bits', 'warehouse_id=99999999999999999999', 'validation_failed', '/warehouse_id'],
  ['SKU with a control character', 'sku=TEE%07', 'validation_failed', '/sku'],
  ['unknown query parameter', 'order=asc', 'validation_failed', '/order'],
] as const) {
  add({ name: `GET /stock/history: ${what}`, req: () => get(`stock/history?${q}`), status: 422, code, pointer })
}
add({ name: 'GET /stock/history/{product_id}: not a number', req: () => get('stock/history/abc'), status: 422, code: 'validation_failed', pointer: '/product_id' })
add({ name: 'GET /stock/history/{product_id}: zero', req: () => get('stock/history/0'), status: 422, code: 'validation_failed', pointer: '/product_id' })
add({ name: 'GET /stock/history/{product_id}: beyond 2**53', req: () => get('stock/history/99999999999999999999'), status: 422, code: 'validation_failed', pointer: '/product_id' })
add({ name: 'GET /stock/history/{product_id}: unknown product', req: () => get('stock/history/424242'), status: 404, code: 'product_not_found' })
add({ name: 'GET /stock/history/{product_id}: sku is not a filter here', req: (s) => get(`stock/history/${s.capParentId}?sku=${s.capRed.sku}`), status: 422, code: 'validation_failed', pointer: '/sku' })
add({ name: 'GET /stock/history/{product_id}: bad change_type', req: (s) => get(`stock/history/${s.capParentId}?change_type=gift`), status: 422, code: 'unknown_change_type', pointer: '/change_type' })

// ---- warehouses ----
for (const [what, over, pointer] of [
  ['code with a space', { code: 'NEW WH' }, '/code'],
  ['code of 51 characters', { code: 'W'.repeat(51) }, '/code'],
  ['empty name', { name: '' }, '/name'],
  ['name with a control character', { name: 'Main\u001b[31m' }, '/name'],
  ['priority -1', { priority: -1 }, '/priority'],
  ['priority 1.5', { priority: 1.5 }, '/priority'],
  ['priority 1e20', { priority: 1e20 }, '/priority'],
  ['active "yes"', { active: 'yes' }, '/active'],
  ['code missing', { code: undefined }, '/code'],
] as const) {
  add({ name: `POST /warehouses: ${what}`, req: () => post('warehouses', whBody(over)), status: 422, code: 'validation_failed', pointer })
}
add({ name: 'POST /warehouses: duplicate code', req: (s) => post('warehouses', whBody({ code: s.w1.code })), status: 409, code: 'already_exists' })
add({ name: 'PATCH /warehouses/{id}: code taken by another warehouse', req: (s) => patch(`warehouses/${s.w2.id}`, { code: s.w1.code }), status: 409, code: 'already_exists' })
add({ name: 'PATCH /warehouses/{id}: empty patch', req: (s) => patch(`warehouses/${s.w1.id}`, {}), status: 422, code: 'validation_failed', pointer: '' })
add({ name: 'PATCH /warehouses/{id}: id not a number', req: () => patch('warehouses/main', { name: 'X' }), status: 422, code: 'validation_failed', pointer: '/id' })
add({ name: 'PATCH /warehouses/{id}: unknown warehouse', req: () => patch('warehouses/9999', { name: 'X' }), status: 404, code: 'warehouse_not_found' })
add({ name: 'PATCH /warehouses/{id}: priority a string', req: (s) => patch(`warehouses/${s.w1.id}`, { priority: 'high' }), status: 422, code: 'validation_failed', pointer: '/priority' })
add({ name: 'GET /warehouses/{id}: id not a number', req: () => get('warehouses/abc'), status: 422, code: 'validation_failed', pointer: '/id' })
add({ name: 'GET /warehouses/{id}: id fractional', req: () => get('warehouses/1.5'), status: 422, code: 'validation_failed', pointer: '/id' })
add({ name: 'GET /warehouses/{id}: unknown warehouse', req: () => get('warehouses/9999'), status: 404, code: 'warehouse_not_found' })

// ---- products ----
for (const [what, over, pointer] of [
  ['SKU with a control character', { sku: 'NEW\u0000SKU' }, '/sku'],
  ['SKU of 101 characters', { sku: 'P'.repeat(101) }, '/sku'],
  ['SKU with a zero-width space', { sku: 'NEW\u200bSKU' }, '/sku'],
  ['product_id 0', { product_id: 0 }, '/product_id'],
  ['product_id 2**53', { product_id: 2 ** 53 }, '/product_id'],
  ['product_id "9001"', { product_id: '9001' }, '/product_id'],
  ['parent_id equal to product_id', { parent_id: 9001 }, '/parent_id'],
  ['safety_stock -1', { safety_stock: -1 }, '/safety_stock'],
  ['low_stock_threshold 1.5', { low_stock_threshold: 1.5 }, '/low_stock_threshold'],
  ['backorders "true"', { backorders: 'true' }, '/backorders'],
] as const) {
  add({ name: `POST /products: ${what}`, req: () => post('products', prodBody(over)), status: 422, code: 'validation_failed', pointer })
}
add({ name: 'POST /products: duplicate SKU', req: (s) => post('products', prodBody({ sku: s.tee.sku })), status: 409, code: 'already_exists' })
add({ name: 'PATCH /products/{sku}: sku is not patchable', req: (s) => patch(`products/${s.tee.sku}`, { sku: 'RENAMED' }), status: 422, code: 'validation_failed', pointer: '/sku' })
add({ name: 'PATCH /products/{sku}: empty patch', req: (s) => patch(`products/${s.tee.sku}`, {}), status: 422, code: 'validation_failed', pointer: '' })
add({ name: 'PATCH /products/{sku}: unregistered SKU', req: () => patch('products/NOPE-404', { safety_stock: 1 }), status: 404, code: 'sku_not_found' })
add({ name: 'PATCH /products/{sku}: parent_id becomes product_id', req: (s) => patch(`products/${s.tee.sku}`, { parent_id: s.tee.productId }), status: 422, code: 'validation_failed', pointer: '/parent_id' })
add({ name: 'PATCH /products/{sku}: safety_stock 1e20', req: (s) => patch(`products/${s.tee.sku}`, { safety_stock: 1e20 }), status: 422, code: 'validation_failed', pointer: '/safety_stock' })
add({ name: 'GET /products/{sku}: unregistered SKU', req: () => get('products/NOPE-404'), status: 404, code: 'sku_not_found' })
add({ name: 'GET /products/{sku}: SKU with a control character', req: () => get('products/A%1BB'), status: 422, code: 'validation_failed', pointer: '/sku' })
add({ name: 'GET /products: search with a NUL', req: () => get('products?search=%00'), status: 422, code: 'validation_failed', pointer: '/search' })
add({ name: 'GET /products: cursor that decodes to a NUL', req: () => get(`products?cursor=${b64('\u0000')}`), status: 422, code: 'validation_failed', pointer: '/cursor' })
add({ name: 'GET /products: limit 0', req: () => get('products?limit=0'), status: 422, code: 'validation_failed', pointer: '/limit' })
add({ name: 'GET /products: unknown query parameter', req: () => get('products?sort=sku'), status: 422, code: 'validation_failed', pointer: '/sort' })

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: hostile input over every route`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let clock: TestClock
    let ctx: Ctx

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      clock = testClock()
      deps = testDeps(ts.store, clock)
      const seed = await seedCatalog(deps, 'H')
      const normal = await testApp(deps)
      const small = await testApp(deps, LIMITS_SMALL)
      // A key that worked, then was revoked: the verifier (ttl 0) must see the revocation at once.
      const revocable = await createApiKey(deps, 'to be revoked', ['admin'])
      expect((await normal.call('GET', 'warehouses', { key: revocable.secret })).status).toBe(200)
      await revokeApiKey(deps, revocable.apiKey.id)
      expect((await listApiKeys(deps)).find((k) => k.id === revocable.apiKey.id)?.revokedAt).not.toBeNull()
      const secrets: Record<KeyKind, string | null> = {
        ...normal.keys,
        none: null,
        garbage: 'garbage',
        unknown: 'sbk_' + 'A'.repeat(43),
        revoked: revocable.secret,
      }
      const smallSecrets: Record<string, string> = small.keys
      const userCtx = { actor: 'test:hostile' }
      const active = await createReservation(deps, { sku: seed.tee.sku, quantity: 1, warehouseId: seed.w1.id, ttlSeconds: 7 * 24 * 3600, source: 'test', referenceId: null, notes: null }, userCtx)
      const released = await createReservation(deps, { sku: seed.mug.sku, quantity: 1, warehouseId: seed.w1.id, source: 'test', referenceId: null, notes: null }, userCtx)
      await releaseReservation(deps, released.value.reservation.id, userCtx)
      const levelOf = async (sku: string, warehouseId: number) => (await findLevelsBySkus(ts.store.db, [sku])).find((l) => l.warehouseId === warehouseId)
      ctx = {
        ...seed,
        onHand: async (sku, warehouseId) => (await levelOf(sku, warehouseId))?.onHand ?? 0,
        available: async (sku, warehouseId) => {
          const levels = (await findLevelsBySkus(ts.store.db, [sku])).filter((l) => warehouseId === undefined || l.warehouseId === warehouseId)
          return levels.reduce((sum, l) => sum + Math.max(0, availableOf(l)), 0)
        },
        activeRes: active.value.reservation.id,
        releasedRes: released.value.reservation.id,
        send: async (req) => {
          const kind = req.key ?? 'admin'
          const key = req.small ? (kind === 'none' ? null : (smallSecrets[kind] ?? secrets[kind])) : secrets[kind]
          return (req.small ? small : normal).call(req.method, req.path, { key, body: req.body, raw: req.raw, headers: req.headers })
        },
      }
    })
    afterAll(async () => ts?.drop())

    it(`has a battery of at least 70 cases (${CASES.length})`, () => {
      expect(CASES.length).toBeGreaterThanOrEqual(70)
      expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length)
    })

    it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      if (c.setup) await c.setup(ctx)
      const before = await snapshot(ts.store.db)
      const res = await ctx.send(c.req(ctx))
      const problem = await expectProblem(res.clone(), c.status, c.code)
      if (c.pointer !== undefined) {
        expect(problem.errors?.map((e) => e.pointer), JSON.stringify(problem)).toContain(c.pointer)
      }
      await c.check?.(problem, res, ctx)
      expect(await snapshot(ts.store.db)).toEqual(before)
    })

    it('bulk-sync refuses each hostile item on its own and changes nothing', async () => {
      const s = ctx
      const items: Array<[unknown, string]> = [
        [{ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: -1 }, 'validation_failed'],
        [{ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: 1.5 }, 'validation_failed'],
        [{ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: 1e20 }, 'validation_failed'],
        [{ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: 2 ** 53 }, 'validation_failed'],
        [{ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: '5' }, 'validation_failed'],
        [{ sku: s.tee.sku, warehouse_id: s.w1.id }, 'validation_failed'],
        [{ sku: 'TEE\u0000M', warehouse_id: s.w1.id, quantity: 1 }, 'validation_failed'],
        [{ sku: 'T'.repeat(101), warehouse_id: s.w1.id, quantity: 1 }, 'validation_failed'],
        [{ sku: 'TEE\u2028M', warehouse_id: s.w1.id, quantity: 1 }, 'validation_failed'],
        [{ sku: s.tee.sku, warehouse_id: '1', quantity: 1 }, 'validation_failed'],
        [{ sku: s.tee.sku, warehouse_id: 0, quantity: 1 }, 'validation_failed'],
        [{ sku: s.tee.sku, warehouse_id: s.w1.id, quantity: 1, change_type: 'sale' }, 'validation_failed'],
        [null, 'validation_failed'],
        [[s.tee.sku, s.w1.id, 1], 'validation_failed'],
        ['TEE', 'validation_failed'],
        [{ sku: 'NOPE-404', warehouse_id: s.w1.id, quantity: 1 }, 'sku_not_found'],
        [{ sku: s.tee.sku, warehouse_id: 9999, quantity: 1 }, 'warehouse_not_found'],
      ]
      const before = await snapshot(ts.store.db)
      const body = await expectJson(await s.send(post('stock/bulk-sync', { items: items.map(([item]) => item) })))
      expect(body.data).toMatchObject({ applied: 0, stale: 0, rejected: items.length })
      expect(body.data.results.map((r: { index: number; status: string; code: string }) => [r.index, r.status, r.code])).toEqual(items.map(([, code], i) => [i, 'rejected', code]))
      for (const r of body.data.results as Array<{ detail: string }>) expectNoLeaks(r.detail)
      expect(await snapshot(ts.store.db)).toEqual(before)
    })

    it('bulk-sync: a deeply nested item (5,000 levels, ~10 KB) is refused cleanly, never a 500', async () => {
      // The body is far inside the 4 MiB bulk limit. Either the item is rejected on its own (200)
      // or the request is refused (4xx problem); either way nothing changes and nothing leaks.
      const before = await snapshot(ts.store.db)
      const res = await ctx.send({ method: 'POST', path: 'stock/bulk-sync', raw: `{"items":[${deepArray(5000)}]}` })
      const text = await res.clone().text()
      expect(res.status, text.slice(0, 300)).toBeLessThan(500)
      if (res.status === 200) {
        expect((JSON.parse(text) as { data: { results: Array<{ status: string; code: string }> } }).data.results).toEqual([expect.objectContaining({ status: 'rejected', code: 'validation_failed' })])
      } else {
        await expectProblem(res, res.status, (JSON.parse(text) as { code: string }).code)
        expect(res.status).toBeGreaterThanOrEqual(400)
      }
      expectNoLeaks(text)
      expect(await snapshot(ts.store.db)).toEqual(before)
    })

    it('huge cumulative quantities: a level never goes past ±1e9 (422 level_out_of_range), never a 500', async () => {
      // Each restock is within the per-movement maximum (1e9); a level is bounded by the same figure,
      // which keeps every sum far inside a 32-bit column on every database.
      const p = await makeProduct(deps, { sku: 'H-HUGE' })
      await expectJson(await ctx.send(post('stock/update', { sku: p.sku, warehouse_id: ctx.w1.id, quantity: 999_999_999, change_type: 'restock' })))
      const before = await snapshot(ts.store.db)
      const res = await ctx.send(post('stock/update', { sku: p.sku, warehouse_id: ctx.w1.id, quantity: 1_000_000_000, change_type: 'restock' }))
      await expectProblem(res, 422, 'level_out_of_range')
      expect(await snapshot(ts.store.db)).toEqual(before)
      await expectLevelsMatchLedger(ts.store, [p.sku])
    })

    it('no refused request above left a level out of step with its ledger', async () => {
      const skus = [ctx.tee, ctx.mug, ctx.capRed, ctx.capBlue, ctx.pre].map((p) => p.sku)
      await expectLevelsMatchLedger(ts.store, skus)
      // Every refusal left the seed's figures (and the few deliberate setup writes) intact.
      const levels = await findLevelsBySkus(ts.store.db, skus)
      expect(levels.find((l) => l.sku === ctx.pre.sku && l.warehouseId === ctx.w1.id)?.onHand).toBe(1)
      expect(levels.find((l) => l.sku === ctx.capBlue.sku && l.warehouseId === ctx.w2.id)?.onHand).toBe(2)
    })
  })
}
