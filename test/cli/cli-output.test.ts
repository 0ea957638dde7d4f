/**
 * The CLI as a user reads it (#12 item 7): --version, a working `npm run build`, `stock get --json`
 * in the API's shape, a header on `keys list`, and lists that say how much they left out.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedCatalog } from '../../emulator/woocommerce/seed.js'
import { WooEmulator } from '../../emulator/woocommerce/server.js'

const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '../..')
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

describe('stockbridge CLI output (SQLite)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cli-out-'))
  const env = { ...process.env, DATABASE_URL: `sqlite:${path.join(dir, 'hub.db')}`, LOG_LEVEL: 'warn' }
  const cli = async (...args: string[]) => (await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: ROOT, env, timeout: 60_000 })).stdout
  const emu = new WooEmulator({ webhookMode: 'manual' })
  const key = emu.addKey('read_write')
  seedCatalog(emu.shop, { simple: 2, variable: 0 })

  beforeAll(async () => {
    await emu.start()
    await cli('demo')
  }, 120_000)
  afterAll(async () => {
    await emu.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('--version prints the package version, also without a usable configuration', async () => {
    expect((await cli('--version')).trim()).toBe(VERSION)
    const bad = await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', '--version'], { cwd: ROOT, env: { ...env, PORT: 'not-a-port' } })
    expect(bad.stdout.trim()).toBe(VERSION)
  })

  it('stock get --json answers in the API\u2019s shape: snake_case fields and ISO-8601 times', async () => {
    const v = JSON.parse(await cli('stock', 'get', 'TEE-001-M', '--json')) as Record<string, unknown> & { warehouses: Array<Record<string, unknown>> }
    expect(v).toMatchObject({ sku: 'TEE-001-M', product_id: expect.any(Number), total_stock: expect.any(Number), total_available: expect.any(Number) })
    expect(Object.keys(v).filter((k) => /[A-Z]/.test(k))).toEqual([])
    expect(v.warehouses.length).toBeGreaterThan(0)
    for (const l of v.warehouses) {
      expect(Object.keys(l).filter((k) => /[A-Z]/.test(k))).toEqual([])
      expect(l.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    }
  })

  it('keys list starts with a header row', async () => {
    expect(await cli('keys', 'list')).toMatch(/^No API keys\. Make an admin key with: npm run cli -- keys create --name admin --scopes admin\n$/)
    await cli('keys', 'create', '--name', 'ops', '--scopes', 'read')
    const lines = (await cli('keys', 'list')).trim().split('\n')
    expect(lines[0]!.split('\t')).toEqual(['ID', 'PREFIX', 'SCOPES', 'WAREHOUSES', 'STATE', 'LAST USED', 'NAME', 'NOTES'])
    expect(lines[1]).toMatch(/^key_\w+\tsbk_/)
  })

  it('stores map says how many it left out of a long list', async () => {
    await cli('stores', 'add', '--name', 'small', '--url', emu.url, '--consumer-key', key.consumerKey, '--consumer-secret', key.consumerSecret, '--warehouses', 'MAIN')
    const report = JSON.parse(await cli('stores', 'map', 'small', '--json')) as { unknown: string[] }
    expect(report.unknown.length).toBeGreaterThan(20)
    const text = await cli('stores', 'map', 'small')
    expect(text.match(/^ {2}unknown {4}/gm)).toHaveLength(20)
    expect(text).toContain(`  … and ${report.unknown.length - 20} more (--json lists them all)`)
  }, 120_000)
})

describe('npm run build', () => {
  const out = path.join(ROOT, '.tmp', `build-test-${process.pid}`)
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }))

  it('compiles src/ with tsconfig.build.json into a CLI that runs on plain node', async () => {
    await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out], { cwd: ROOT, timeout: 280_000 })
    expect(fs.existsSync(path.join(out, 'cli/index.js'))).toBe(true)
    expect(fs.existsSync(path.join(out, 'domain/sku.test.js'))).toBe(false)
    const r = await run(process.execPath, [path.join(out, 'cli/index.js'), '--version'], { cwd: ROOT })
    expect(r.stdout.trim()).toBe(VERSION)
    const help = await run(process.execPath, [path.join(out, 'cli/index.js'), 'migrate'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: `sqlite:${path.join(out, 'x.db')}` } })
    expect(help.stdout).toMatch(/Applied: 0001/)
  }, 300_000)
})
