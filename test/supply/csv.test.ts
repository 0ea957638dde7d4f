/**
 * CSV in and out (#14) through the HTTP API on both databases: a round trip (export → import →
 * same levels), dry runs that change nothing, a 50-row file with 5 bad rows (45 apply, 5 reported
 * by line), spreadsheet dialects, formula escaping, products, large files as jobs, and hostile
 * bodies.
 */
import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ServiceDeps } from '../../src/service/deps.js'
import { getStock, updateStock } from '../../src/service/stock.js'
import { JobRunner } from '../../src/service/jobs.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testApp, testClock, testDeps } from '../support/fixtures.js'
import { waitUntil } from '../support/pg-admin.js'
import { expectJson, expectProblem, snapshot } from '../e2e/support-e2e.js'
import type { Warehouse } from '../../src/domain/warehouse.js'
import { createApiKey } from '../../src/service/api-keys.js'

const CSV = { 'content-type': 'text/csv' }

describe.each(DATABASES)('CSV import and export on $name', ({ name, skipReason }) => {
  let db: TestStore
  let deps: ServiceDeps
  let t: Awaited<ReturnType<typeof testApp>>
  let w1: Warehouse
  let w2: Warehouse
  const SKUS = Array.from({ length: 50 }, (_, i) => `CSV-${String(i).padStart(2, '0')}`)

  beforeEach(async (ctx) => {
    if (skipReason) return ctx.skip(skipReason)
    db = await createTestStore(name)
    deps = testDeps(db.store, testClock(Date.now()))
    t = await testApp(deps)
    w1 = await makeWarehouse(deps, { code: 'CSV-A' })
    w2 = await makeWarehouse(deps, { code: 'CSV-B' })
    for (const [i, sku] of SKUS.entries()) await makeProduct(deps, { sku, productId: 80_000 + i })
  })
  afterEach(async () => {
    await db?.drop()
  })

  const importCsv = (csv: string, query: string, opts: { key?: string; headers?: Record<string, string> } = {}) => t.call('POST', `imports?${query}`, { raw: csv, headers: { ...CSV, ...(opts.headers ?? {}) }, ...(opts.key ? { key: opts.key } : {}) })
  const onHand = async (sku: string, w: Warehouse) => (await getStock(deps, sku, w.id)).levels[0]?.onHand ?? 0
  const levelsOf = async () => (await db.store.db.selectFrom('stock_level').select(['sku', 'warehouse_id', 'on_hand']).orderBy('sku').orderBy('warehouse_id').execute()).map((r) => `${r.sku}@${r.warehouse_id}=${r.on_hand}`)

  it('a 50-row file with 5 bad rows applies 45 and reports the 5 by line number', async () => {
    const lines = ['sku,warehouse_code,quantity']
    SKUS.forEach((sku, i) => lines.push(`${sku},CSV-A,${i + 1}`))
    lines[3] = 'CSV-02,CSV-A,-4' // line 4: negative
    lines[10] = 'NOPE-9,CSV-A,3' // line 11: unknown SKU
    lines[20] = 'CSV-19,NOWHERE,3' // line 21: unknown warehouse
    lines[30] = 'CSV-29,CSV-A,many' // line 31: not a number
    lines[45] = 'CSV-44,CSV-A,5,extra' // line 46: too many cells
    const r = (await expectJson(await importCsv(lines.join('\n'), 'kind=counts'))).data
    expect(r).toMatchObject({ rows: 50, applied: 45, rejected: 5 })
    expect(r.errors.map((e: { line: number; code: string }) => [e.line, e.code])).toEqual([
      [4, 'validation_failed'],
      [11, 'sku_not_found'],
      [21, 'warehouse_not_found'],
      [31, 'validation_failed'],
      [46, 'validation_failed'],
    ])
    expect(await onHand('CSV-00', w1)).toBe(1)
    expect(await onHand('CSV-49', w1)).toBe(50)
    expect(await onHand('CSV-02', w1)).toBe(0)
  })

  it('round trip: levels exported as CSV import back as counts to the same levels', async () => {
    for (const [i, sku] of SKUS.slice(0, 20).entries()) {
      await updateStock(deps, { sku, warehouseId: w1.id, changeType: 'restock', quantity: i + 3, source: 't', referenceId: null, notes: null }, { actor: 't' })
      if (i % 3 === 0) await updateStock(deps, { sku, warehouseId: w2.id, changeType: 'restock', quantity: i + 1, source: 't', referenceId: null, notes: null }, { actor: 't' })
    }
    const res = await t.call('GET', 'exports/levels.csv', { key: t.keys.read })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/)
    const exported = await res.text()
    expect(exported.split('\r\n')[0]).toBe('sku,warehouse_code,quantity,reserved,available,safety_stock,low_stock_threshold,updated_at')
    const before = await levelsOf()
    // Scramble the levels, then import the export: everything is back.
    for (const sku of SKUS.slice(0, 20)) await updateStock(deps, { sku, warehouseId: w1.id, changeType: 'adjustment', quantity: 999, source: 't', referenceId: null, notes: null }, { actor: 't' })
    const r = (await expectJson(await importCsv(exported, 'kind=counts'))).data
    expect(r.rejected).toBe(0)
    expect(await levelsOf()).toEqual(before)
    // One warehouse only
    const only = await (await t.call('GET', `exports/levels.csv?warehouse=CSV-B`, { key: t.keys.read })).text()
    expect(only.trim().split('\r\n').slice(1).every((l) => l.split(',')[1] === 'CSV-B')).toBe(true)
  })

  it('a dry run reports before → after per row and changes nothing', async () => {
    await updateStock(deps, { sku: 'CSV-01', warehouseId: w1.id, changeType: 'restock', quantity: 5, source: 't', referenceId: null, notes: null }, { actor: 't' })
    const before = await snapshot(db.store.db)
    const r = (await expectJson(await importCsv('sku,quantity\nCSV-01,9\nCSV-02,0\nCSV-01,4\nNOPE,1\n', 'kind=counts&dry_run=true&warehouse=CSV-A'))).data
    expect(await snapshot(db.store.db)).toEqual(before)
    expect(r.results).toEqual([
      { line: 2, sku: 'CSV-01', warehouse_id: w1.id, status: 'applied', before: 5, after: 9 },
      { line: 3, sku: 'CSV-02', warehouse_id: w1.id, status: 'unchanged', before: 0, after: 0 },
      { line: 4, sku: 'CSV-01', warehouse_id: w1.id, status: 'applied', before: 9, after: 4 },
      expect.objectContaining({ line: 5, sku: 'NOPE', status: 'rejected', code: 'sku_not_found' }),
    ])
    expect(r).toMatchObject({ dry_run: true, applied: 2, unchanged: 1, rejected: 1 })
  })

  it('reads spreadsheet dialects: BOM, semicolons, CRLF, quoted fields; observed_at makes late counts stale', async () => {
    const csv = '\uFEFF"sku";"warehouse_code";"quantity";"reference_id";"observed_at"\r\n"CSV-03";"CSV-A";"12";"count; aisle 4";\r\n\r\nCSV-04;CSV-A;7;"multi\r\nline";2000-01-01T00:00:00Z\r\n'
    await updateStock(deps, { sku: 'CSV-04', warehouseId: w1.id, changeType: 'sync', quantity: 2, source: 't', referenceId: null, notes: null, observedAt: Date.parse('2020-01-01T00:00:00Z') }, { actor: 't' })
    const r = (await expectJson(await importCsv(csv, 'kind=counts'))).data
    expect(r.results).toEqual([
      { line: 2, sku: 'CSV-03', warehouse_id: w1.id, status: 'applied', before: 0, after: 12 },
      { line: 4, sku: 'CSV-04', warehouse_id: w1.id, status: 'stale', before: 2, after: 2 }, // after an empty line 3; the record spans lines 4–5
    ])
    const ledger = await db.store.db.selectFrom('ledger_entry').select(['reference_id']).where('sku', '=', 'CSV-03').execute()
    expect(ledger.map((l) => l.reference_id)).toEqual(['count; aisle 4'])
  })

  it('escapes formula cells in exports and reads them back unescaped', async () => {
    await updateStock(deps, { sku: 'CSV-05', warehouseId: w1.id, changeType: 'restock', quantity: 1, source: '=HYPERLINK("http://evil")', referenceId: '+1-555', notes: '@SUM(A1)', observedAt: undefined }, { actor: 't' })
    const text = await (await t.call('GET', 'exports/ledger.csv?sku=CSV-05', { key: t.keys.read })).text()
    const row = text.trim().split('\r\n')[1]!
    expect(row).toContain(`"'=HYPERLINK(""http://evil"")"`)
    expect(row).toContain(`'+1-555`)
    expect(row).toContain(`'@SUM(A1)`)
    expect(row).not.toMatch(/,[=+@]/)
    // A product name that looks like a formula survives export-style escaping on import.
    const r = (await expectJson(await importCsv(`sku,product_id,name\nCSV-NEW,99001,'=cmd|calc\n`, 'kind=products'))).data
    expect(r).toMatchObject({ created: 1, rejected: 0 })
    const p = await db.store.db.selectFrom('product').select('name').where('sku', '=', 'CSV-NEW').executeTakeFirstOrThrow()
    expect(p.name).toBe('=cmd|calc')
  })

  it('exports the ledger filtered by time and SKU, oldest first', async () => {
    for (let i = 0; i < 5; i++) await updateStock(deps, { sku: 'CSV-06', warehouseId: w1.id, changeType: 'restock', quantity: 1, source: 't', referenceId: null, notes: null }, { actor: 't' })
    const all = (await (await t.call('GET', 'exports/ledger.csv?sku=CSV-06', { key: t.keys.read })).text()).trim().split('\r\n')
    expect(all).toHaveLength(6)
    const ids = all.slice(1).map((l) => Number(l.split(',')[0]))
    expect([...ids].sort((a, b) => a - b)).toEqual(ids)
    const none = (await (await t.call('GET', 'exports/ledger.csv?to=2000-01-01', { key: t.keys.read })).text()).trim().split('\r\n')
    expect(none).toHaveLength(1)
    await expectProblem(await t.call('GET', 'exports/ledger.csv?from=yesterday', { key: t.keys.read }), 422, 'validation_failed')
    await expectProblem(await t.call('GET', 'exports/levels.csv?warehouse=NOWHERE', { key: t.keys.read }), 422, 'validation_failed')
  })

  it('imports products: creates, updates only what differs, reports bad rows by line', async () => {
    // A SKU of 101 characters is too long (printable Unicode with spaces is a valid SKU, #12).
    const csv = 'sku,product_id,parent_id,name,safety_stock,low_stock_threshold,backorders\nP-NEW,5001,,New tee,2,5,no\nCSV-07,80007,,Renamed,,,yes\nCSV-08,80008,,,,,\n' + 'X'.repeat(101) + ',1,,,,,\nP-NOID,,,,,,\nP-X,7,7,,,,\nP-Y,8,,,,,maybe\n'
    const r = (await expectJson(await importCsv(csv, 'kind=products'))).data
    expect(r).toMatchObject({ created: 1, updated: 1, unchanged: 1, rejected: 4 })
    expect(r.errors.map((e: { line: number }) => e.line)).toEqual([5, 6, 7, 8])
    const p = await db.store.db.selectFrom('product').selectAll().where('sku', 'in', ['P-NEW', 'CSV-07']).orderBy('sku').execute()
    expect(p.map((x) => [x.sku, x.name, x.allows_backorders, x.safety_stock])).toEqual([['CSV-07', 'Renamed', 1, 0], ['P-NEW', 'New tee', 0, 2]])
    // write scope may import counts but not products
    await expectProblem(await importCsv(csv, 'kind=products', { key: t.keys.write }), 403, 'forbidden')
  })

  it('a large file becomes a job whose progress and result can be followed', async () => {
    const small = await testApp(deps, { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024, importJobThreshold: 10 } as never)
    const csv = ['sku,warehouse_code,quantity', ...SKUS.map((s, i) => `${s},CSV-B,${i}`), 'NOPE,CSV-B,1'].join('\n')
    const res = await small.call('POST', 'imports?kind=counts', { raw: csv, headers: CSV })
    const job = (await expectJson(res, 202)).data
    expect(res.headers.get('location')).toBe(`/inventory/v1/imports/${job.id}`)
    expect(job).toMatchObject({ status: 'queued', total: 51, done: 0 })
    await new JobRunner(deps, 'test-runner').runOnce()
    const done = (await expectJson(await small.call('GET', `imports/${job.id}`, { key: small.keys.read }))).data
    expect(done).toMatchObject({ status: 'done', done: 51, result: { applied: 49, unchanged: 1, rejected: 1 } })
    expect(done.result.errors).toEqual([expect.objectContaining({ line: 52, code: 'sku_not_found' })])
    expect(await onHand('CSV-49', w2)).toBe(49)
    await expectProblem(await small.call('GET', 'jobs/' + job.id), 404, 'job_not_found')
  })

  it('a job taken over from a node that died mid-file applies each chunk once (#14)', async () => {
    // 11,000 counts over 100 levels, so the job runs in several chunks: the first node commits one
    // chunk and then hangs (a dead node: its lease runs out), and a second node takes the job over.
    const big = await testApp(deps, { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024, importJobThreshold: 10 } as never)
    const lines = ['sku,warehouse_code,quantity']
    for (let i = 0; i < 11_000; i++) lines.push(`${SKUS[i % 50]},${i % 100 < 50 ? 'CSV-A' : 'CSV-B'},${1 + (i % 7)}`)
    const job = (await expectJson(await big.call('POST', 'imports?kind=counts', { raw: lines.join('\n'), headers: CSV }), 202)).data
    let writes = 0
    const dying: ServiceDeps = { ...deps, store: { ...deps.store, transact: (work) => (++writes === 2 ? new Promise<never>(() => {}) : deps.store.transact(work)) } }
    const firstNode = new JobRunner(dying, 'node-a', { leaseMs: 60_000 })
    void firstNode.runOnce()
    await waitUntil('the first node to commit a chunk', async () => writes >= 2)
    const clock = deps.clock as ReturnType<typeof testClock>
    clock.advance(61_000)
    expect(await new JobRunner(deps, 'node-b', { leaseMs: 60_000 }).runOnce()).toBe(true)
    const done = (await expectJson(await big.call('GET', `imports/${job.id}`, { key: big.keys.read }))).data
    expect(done).toMatchObject({ status: 'done', done: 11_000, result: { rows: 11_000, rejected: 0 } })
    expect(done.result.results).toHaveLength(11_000)
    const ledger = await db.store.db.selectFrom('ledger_entry').select((eb) => eb.fn.countAll<number>().as('n')).where('source', '=', 'csv-import').executeTakeFirstOrThrow()
    expect(Number(ledger.n)).toBe(11_000)
    expect(await onHand(SKUS[49]!, w1)).toBe(1 + (10_949 % 7))
  })

  it('round trip of backordered (negative) levels: they import back where the SKU allows backorders, and are refused by line where it does not (#14)', async () => {
    await makeProduct(deps, { sku: 'BO-1', productId: 81_001, allowsBackorders: true })
    await updateStock(deps, { sku: 'BO-1', warehouseId: w1.id, changeType: 'sale', quantity: 4, source: 't', referenceId: null, notes: null }, { actor: 't' })
    await updateStock(deps, { sku: 'CSV-00', warehouseId: w1.id, changeType: 'restock', quantity: 3, source: 't', referenceId: null, notes: null }, { actor: 't' })
    const exported = await (await t.call('GET', 'exports/levels.csv', { key: t.keys.read })).text()
    expect(exported).toContain('\r\nBO-1,CSV-A,-4,')
    const before = await levelsOf()
    await updateStock(deps, { sku: 'BO-1', warehouseId: w1.id, changeType: 'restock', quantity: 10, source: 't', referenceId: null, notes: null }, { actor: 't' })
    const r = (await expectJson(await importCsv(exported, 'kind=counts'))).data
    expect(r).toMatchObject({ rejected: 0, applied: 1 })
    expect(await levelsOf()).toEqual(before)
    expect(await onHand('BO-1', w1)).toBe(-4)
    // The dry run says the same, and a SKU without backorders still refuses a negative count, by line.
    const dry = (await expectJson(await importCsv('sku,warehouse_code,quantity\nBO-1,CSV-A,-6\nCSV-00,CSV-A,-2\n', 'kind=counts&dry_run=true'))).data
    expect(dry.results).toEqual([
      { line: 2, sku: 'BO-1', warehouse_id: w1.id, status: 'applied', before: -4, after: -6 },
      expect.objectContaining({ line: 3, sku: 'CSV-00', status: 'rejected', code: 'validation_failed' }),
    ])
    const wet = (await expectJson(await importCsv('sku,warehouse_code,quantity\nBO-1,CSV-A,-6\nCSV-00,CSV-A,-2\n', 'kind=counts'))).data
    expect(wet).toMatchObject({ applied: 1, rejected: 1 })
    expect(wet.errors).toEqual([{ line: 3, sku: 'CSV-00', code: 'validation_failed', detail: expect.stringMatching(/negative.*CSV-00.*backorders/) }])
    expect(await onHand('BO-1', w1)).toBe(-6)
    expect(await onHand('CSV-00', w1)).toBe(3)
  })

  it('bulk sync takes a negative count only for a SKU that allows backorders (#14)', async () => {
    await makeProduct(deps, { sku: 'BO-2', productId: 81_002, allowsBackorders: true })
    const r = (await expectJson(await t.call('POST', 'stock/bulk-sync', { body: { items: [{ sku: 'BO-2', warehouse_id: w1.id, quantity: -3 }, { sku: 'CSV-01', warehouse_id: w1.id, quantity: -3 }] } }))).data
    expect(r.results).toEqual([
      expect.objectContaining({ sku: 'BO-2', status: 'applied', previous_stock: 0, new_stock: -3 }),
      expect.objectContaining({ sku: 'CSV-01', status: 'rejected', code: 'validation_failed', detail: '/items/1/quantity: must not be negative: SKU CSV-01 does not allow backorders' }),
    ])
    expect(await onHand('BO-2', w1)).toBe(-3)
    expect(await onHand('CSV-01', w1)).toBe(0)
  })

  it('over a real socket: a streamed import, a streamed export, and a body past the limit cut off with 413', async () => {
    const small = await testApp(deps, { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024, importBodyBytes: 64 * 1024 } as never)
    const server: ServerType = await new Promise((resolve) => {
      const s = serve({ fetch: small.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
    })
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/inventory/v1`
      const csv = ['sku,warehouse_code,quantity', ...SKUS.map((s, i) => `${s},CSV-A,${i + 100}`)].join('\r\n')
      const res = await fetch(`${base}/imports?kind=counts`, { method: 'POST', headers: { 'x-api-key': small.keys.admin, 'content-type': 'text/csv; charset=utf-8' }, body: csv })
      expect((await expectJson(res)).data).toMatchObject({ rows: 50, applied: 50, rejected: 0 })
      const exp = await fetch(`${base}/exports/levels.csv?warehouse=CSV-A`, { headers: { 'x-api-key': small.keys.read } })
      expect(exp.headers.get('content-disposition')).toContain('levels.csv')
      expect((await exp.text()).trim().split('\r\n')).toHaveLength(51)
      const before = await snapshot(db.store.db)
      const huge = 'sku,warehouse_code,quantity\n' + 'CSV-01,CSV-A,1\n'.repeat(10_000)
      await expectProblem(await fetch(`${base}/imports?kind=counts`, { method: 'POST', headers: { 'x-api-key': small.keys.admin, 'content-type': 'text/csv' }, body: huge }), 413, 'payload_too_large')
      // Without a Content-Length (chunked), the limit is enforced while reading.
      const chunked = new ReadableStream({ start(c) { for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode(huge.slice(i * 8000, (i + 1) * 8000))); c.close() } })
      await expectProblem(await fetch(`${base}/imports?kind=counts`, { method: 'POST', headers: { 'x-api-key': small.keys.admin, 'content-type': 'text/csv' }, body: chunked, duplex: 'half' } as RequestInit), 413, 'payload_too_large')
      expect(await snapshot(db.store.db)).toEqual(before)
    } finally {
      await new Promise<void>((r) => {
        server.close(() => r())
        if ('closeAllConnections' in server) server.closeAllConnections()
      })
    }
  })

  it('refuses hostile bodies and callers with problem+json and changes nothing', async () => {
    const before = await snapshot(db.store.db)
    await expectProblem(await importCsv('sku,warehouse_code,quantity\nCSV-01,CSV-A,1\n', 'kind=counts', { headers: { 'content-type': 'application/json' } }), 415, 'unsupported_media_type')
    await expectProblem(await t.call('POST', 'imports?kind=counts', { raw: 'sku,quantity\n' }), 415, 'unsupported_media_type')
    const binary = String.fromCharCode(...Array.from({ length: 300 }, (_, i) => i % 256))
    await expectProblem(await importCsv(binary, 'kind=counts'), 422, 'validation_failed')
    await expectProblem(await importCsv('', 'kind=counts'), 422, 'validation_failed')
    await expectProblem(await importCsv('sku,quantity,colour\nCSV-01,1,red\n', 'kind=counts&warehouse=CSV-A'), 422, 'validation_failed')
    await expectProblem(await importCsv('sku,quantity\nCSV-01,1\n', 'kind=counts'), 422, 'validation_failed') // no warehouse at all
    await expectProblem(await importCsv('sku,warehouse_code,quantity\n"CSV-01,CSV-A,1\n', 'kind=counts'), 422, 'validation_failed') // unclosed quote
    await expectProblem(await importCsv('sku,quantity\nCSV-01,1\n', 'kind=counts&warehouse=NOWHERE'), 422, 'validation_failed')
    await expectProblem(await importCsv('sku,quantity\n', 'kind=stock'), 422, 'validation_failed')
    await expectProblem(await importCsv('sku,quantity\n', 'kind=counts&dry_run=perhaps'), 422, 'validation_failed')
    const tiny = await testApp(deps, { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024, importBodyBytes: 4096 } as never)
    const huge = 'sku,warehouse_code,quantity\n' + 'CSV-01,CSV-A,1\n'.repeat(2000)
    await expectProblem(await tiny.call('POST', 'imports?kind=counts', { raw: huge, headers: CSV }), 413, 'payload_too_large')
    await expectProblem(await importCsv('sku,warehouse_code,quantity\nCSV-01,CSV-A,1\n', 'kind=counts', { key: t.keys.read }), 403, 'forbidden')
    await expectProblem(await t.call('POST', 'imports?kind=counts', { key: 'sbk_nope', raw: 'x', headers: CSV }), 401, 'unauthenticated')
    // A key limited to CSV-B may not import counts for CSV-A: refused before anything applies.
    const limited = (await createApiKey(deps, 'limited', ['read', 'write'], { warehouses: [w2.id] })).secret
    await expectProblem(await importCsv('sku,warehouse_code,quantity\nCSV-01,CSV-B,1\nCSV-01,CSV-A,1\n', 'kind=counts', { key: limited }), 403, 'warehouse_forbidden')
    expect(await snapshot(db.store.db)).toEqual(before)
    await expectProblem(await t.call('GET', 'imports/imp_nope', { key: t.keys.read }), 404, 'job_not_found')
  })
})
