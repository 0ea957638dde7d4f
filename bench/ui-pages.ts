/**
 * Admin UI pages at scale (#16): server render time and bytes transferred for every page, over a
 * database holding 1,000,000 stock levels (100,000 SKUs × 10 warehouses; UI_BENCH_SKUS to change).
 *
 * Render time is the in-process app.request() wall time (median and worst of 7 after a warm-up),
 * which is what the server spends; bytes are the HTML plus every asset the page loads as a browser
 * receives them (gzip for assets; HTML is sent as is). The overview's stock counts are a scan of
 * every level, cached for 5 s: its first (cold) render is reported separately.
 *
 *   npm run bench:ui                                  # SQLite
 *   STOCKBRIDGE_BENCH_DATABASES=sqlite,postgres npm run bench:ui
 */
import { gzipSync } from 'node:zlib'
import { createApp } from '../src/http/app.js'
import { ApiKeyVerifier, createApiKey } from '../src/service/api-keys.js'
import { systemClock } from '../src/service/deps.js'
import { updateStock } from '../src/service/stock.js'
import { createTestStore, type TestDatabase } from '../test/support/databases.js'
import { makeWarehouse, testDeps } from '../test/support/fixtures.js'

const SKUS = Number(process.env.UI_BENCH_SKUS ?? 100_000)
const WAREHOUSES = 10
const kinds = (process.env.STOCKBRIDGE_BENCH_DATABASES ?? 'sqlite').split(',').map((s) => s.trim()) as TestDatabase[]

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function run(kind: TestDatabase): Promise<void> {
  const ts = await createTestStore(kind)
  try {
    const deps = testDeps(ts.store, systemClock)
    const now = Date.now()
    const whs: number[] = []
    for (let i = 0; i < WAREHOUSES; i++) whs.push((await makeWarehouse(deps, { code: `UB${i}` })).id)
    const started = performance.now()
    const sku = (i: number) => `UIB-${String(i).padStart(7, '0')}`
    for (let i = 0; i < SKUS; i += 1000) {
      const n = Math.min(1000, SKUS - i)
      await ts.store.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('product')
          .values(Array.from({ length: n }, (_, j) => ({ sku: sku(i + j), product_id: 1_000_000 + i + j, parent_id: null, name: `Bench product ${i + j}`, allows_backorders: (i + j) % 50 === 0 ? 1 : 0, safety_stock: 0, low_stock_threshold: 5, created_at: now, updated_at: now })))
          .execute()
        for (const wh of whs) {
          await trx
            .insertInto('stock_level')
            .values(Array.from({ length: n }, (_, j) => ({ sku: sku(i + j), warehouse_id: wh, on_hand: (i + j + wh) % 40, reserved: 0, safety_stock: 0, low_stock_threshold: 5, version: 1, last_counted_at: null, updated_at: now })))
            .execute()
        }
      })
    }
    process.stdout.write(`${kind}: ${SKUS * WAREHOUSES} levels written in ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
    const target = sku(Math.floor(SKUS / 2))
    for (let i = 0; i < 60; i++) await updateStock(deps, { sku: target, warehouseId: whs[i % 3]!, changeType: i % 4 === 0 ? 'sale' : 'restock', quantity: 1 + (i % 5), source: 'bench', referenceId: null, notes: null }, { actor: 'bench' })

    const app = createApp({ ...deps, verifier: new ApiKeyVerifier(deps, 2000), limits: { bodyBytes: 256 * 1024, bulkBodyBytes: 4 * 1024 * 1024 } })
    const key = (await createApiKey(deps, 'bench', ['admin'])).secret
    const login = await app.request('/admin/login')
    const loginCookie = /sb_admin_login=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())![1]!
    const signed = await app.request('/admin/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `sb_admin_login=${loginCookie}` }, body: new URLSearchParams({ _csrf: csrf, api_key: key }).toString() })
    const cookie = `sb_admin=${/sb_admin=([^;]+)/.exec(signed.headers.getSetCookie().find((l) => l.startsWith('sb_admin=')) ?? '')![1]}`

    const assetBytes = new Map<string, number>()
    const assetsOf = async (html: string) => {
      let total = 0
      for (const m of html.matchAll(/(?:src|href)="(\/admin\/assets\/[^"]+)"/g)) {
        const path = m[1]!
        if (!assetBytes.has(path)) {
          const r = await app.request(path, { headers: { 'accept-encoding': 'gzip' } })
          assetBytes.set(path, (await r.arrayBuffer()).byteLength)
        }
        total += assetBytes.get(path)!
      }
      return total
    }
    const deep = Buffer.from(JSON.stringify([sku(Math.floor(SKUS * 0.9)), whs[4]])).toString('base64url')
    const pages = [
      '/admin/overview/counts',
      '/admin',
      '/admin/stock',
      `/admin/stock?q=${sku(70_000).slice(0, 9)}`,
      '/admin/stock?q=product%2099999',
      '/admin/stock?q=no%20such%20thing',
      '/admin/stock?state=low',
      '/admin/stock?state=out',
      '/admin/stock?state=backorders',
      `/admin/stock?warehouse=${whs[3]}&sort=desc`,
      `/admin/stock?after=${deep}`,
      `/admin/sku/${target}`,
      '/admin/warehouses',
      '/admin/stores',
      '/admin/events',
      `/admin/warehouses/${whs[0]}/pull`,
      '/admin/alerts',
      '/admin/providers',
      '/admin/imports',
      '/admin/inbound',
      '/admin/keys',
    ]
    process.stdout.write(`${'page'.padEnd(48)} ${'p50 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'HTML KB'.padStart(8)} ${'gz KB'.padStart(7)} ${'assets KB'.padStart(10)} ${'total KB'.padStart(9)}\n`)
    for (const p of pages) {
      const times: number[] = []
      let html = ''
      let cold: number | null = null
      for (let i = 0; i < 8; i++) {
        const t0 = performance.now()
        const res = await app.request(p, { headers: { cookie } })
        html = await res.text()
        const ms = performance.now() - t0
        if (res.status !== 200) throw new Error(`${p} answered ${res.status}`)
        if (p === '/admin/overview/counts' && i === 0) await new Promise((r) => setTimeout(r, 5100)) // then served while stale, refreshed behind
        if (i === 0) cold = ms
        else times.push(ms)
      }
      const htmlKb = Buffer.byteLength(html) / 1024
      const gzKb = gzipSync(html).byteLength / 1024
      const assetsKb = (await assetsOf(html)) / 1024
      process.stdout.write(
        `${p.slice(0, 48).padEnd(48)} ${median(times).toFixed(1).padStart(8)} ${Math.max(...times).toFixed(1).padStart(8)} ${htmlKb.toFixed(1).padStart(8)} ${gzKb.toFixed(1).padStart(7)} ${assetsKb.toFixed(1).padStart(10)} ${(htmlKb + assetsKb).toFixed(1).padStart(9)}` +
          (p === '/admin/overview/counts' ? `   (first, cold: counting every level: ${cold!.toFixed(0)} ms)` : '') +
          '\n',
      )
    }
  } finally {
    await ts.drop()
  }
}

for (const kind of kinds) await run(kind)
