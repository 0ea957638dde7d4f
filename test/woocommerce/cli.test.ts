/** The stores commands as a user runs them: demo hub, emulator with the demo catalogue, add → map → sync → reconcile → remove. */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedDemoCatalog } from '../../emulator/woocommerce/seed.js'
import { WooEmulator } from '../../emulator/woocommerce/server.js'

const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '../..')

describe('stockbridge stores (CLI, SQLite)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cli-woo-'))
  const env = { ...process.env, DATABASE_URL: `sqlite:${path.join(dir, 'hub.db')}`, LOG_LEVEL: 'warn' }
  const cli = async (...args: string[]) => (await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: ROOT, env, timeout: 60_000 })).stdout
  const emu = new WooEmulator({ webhookMode: 'manual' })
  const key = emu.addKey('read_write')
  seedDemoCatalog(emu.shop)

  beforeAll(async () => {
    await emu.start()
    await cli('demo')
  }, 120_000)
  afterAll(async () => {
    await emu.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('adds, lists, maps, syncs, reconciles and removes a store', async () => {
    expect(await cli('stores', 'add', '--name', 'demo-shop', '--url', emu.url, '--consumer-key', key.consumerKey, '--consumer-secret', key.consumerSecret, '--warehouses', 'MAIN,3PL-EAST', '--buffer', '1')).toMatch(/Added store demo-shop \(sto_\w+\), OAuth 1\.0a over http/)
    const list = JSON.parse(await cli('stores', 'list', '--json')) as Array<{ name: string; consumer_key: string; buffer: number }>
    expect(list).toMatchObject([{ name: 'demo-shop', buffer: 1 }])
    expect(JSON.stringify(list)).not.toContain(key.consumerSecret)
    const mapped = /Mapped (\d+) SKUs\. Unknown in the store: 0\. Duplicated in the store: 0\./.exec(await cli('stores', 'map', 'demo-shop'))
    const n = Number(mapped?.[1])
    expect(n).toBeGreaterThanOrEqual(1000)
    const sync = JSON.parse(await cli('stores', 'sync', 'demo-shop', '--json')) as { skus: number; pushed: number; failed: unknown[]; requests: number }
    expect(sync).toMatchObject({ skus: n, pushed: n, failed: [] })
    expect(sync.requests).toBeLessThanOrEqual(12 + 250) // simple products in batches of 100, variations per parent
    const clean = JSON.parse(await cli('stores', 'reconcile', 'demo-shop', '--dry-run', '--json')) as { checked: number; drift: number }
    expect(clean).toMatchObject({ checked: n, drift: 0 })
    const tee = [...emu.shop.products.values()].find((p) => p.sku === 'TEE-001-M')!
    const right = tee.stockQuantity
    emu.shop.setQuantity(tee, (right ?? 0) + 5)
    expect(await cli('stores', 'reconcile', 'demo-shop', '--dry-run')).toMatch(new RegExp(`dry run\\): done; ${n} SKUs checked, 1 drifted, 0 repaired`))
    expect(tee.stockQuantity).toBe((right ?? 0) + 5)
    expect(await cli('stores', 'reconcile', 'demo-shop')).toMatch(new RegExp(`repair\\): done; ${n} SKUs checked, 1 drifted, 1 repaired`))
    expect(tee.stockQuantity).toBe(right)
    // One store with its health and (nothing pushed by a server yet) no pacing figures.
    expect(await cli('stores', 'show', 'demo-shop')).toMatch(/demo-shop \(sto_\w+\)[\s\S]*health: ok[\s\S]*pushing: nothing pushed yet/)
    expect(await cli('stores', 'remove', 'demo-shop')).toMatch(/Removed demo-shop/)
    expect(await cli('stores', 'list')).toMatch(/No stores/)
  }, 120_000)
})
