/**
 * Two real server processes (`node --import tsx src/cli/index.ts serve`) on one database and one
 * Redis (#5): they share each key's rate-limit budget and the nonces of signed requests. The
 * README's curl + openssl and TypeScript signing examples are run against them as written.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiKey, type CreatedApiKey } from '../../src/service/api-keys.js'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { updateStock } from '../../src/service/stock.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, makeWarehouse, testDeps } from '../support/fixtures.js'
import { REDIS_URL, redisSkipReason, signatureHeaders } from './support-security.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')

/** The fenced block after `<!-- example: NAME … -->` in the README. */
function readmeExample(name: string): string {
  const at = README.indexOf(`<!-- example: ${name}`)
  if (at < 0) throw new Error(`README has no example ${name}`)
  const m = /```\w+\n([\s\S]*?)```/.exec(README.slice(at))
  if (!m) throw new Error(`README example ${name} has no code block`)
  return m[1]!
}

interface Node {
  readonly child: ChildProcess
  readonly url: string
}

function startNode(env: Record<string, string>): Promise<Node> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'serve'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${out}`)), 30_000)
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = /running at (http:\/\/[^\s]+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ child, url: m[1]! })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${out}`))
    })
  })
}

async function stopNode(n: Node | undefined): Promise<void> {
  if (!n || n.child.exitCode !== null || n.child.pid === undefined) return
  const exited = new Promise<void>((r) => n.child.once('exit', () => r()))
  process.kill(n.child.pid, 'SIGTERM')
  const timer = setTimeout(() => n.child.pid !== undefined && n.child.exitCode === null && process.kill(n.child.pid, 'SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

function run(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    if (input !== undefined) child.stdin.end(input)
  })
}

// PostgreSQL is the store several nodes normally share; SQLite (WAL, one file) works too.
const target = DATABASES.find((d) => d.name === 'postgres' && d.skipReason === null) ?? DATABASES.find((d) => d.skipReason === null)

describe.skipIf(redisSkipReason !== null || target === undefined)(`two server processes sharing Redis (${target?.name})`, () => {
  let ts: TestStore
  let deps: ServiceDeps
  let a: Node | undefined
  let b: Node | undefined
  const keys: CreatedApiKey[] = []
  const newKey = async (scopes: Array<'read' | 'write'>) => {
    const k = await createApiKey(deps, `two-nodes ${keys.length}`, scopes)
    keys.push(k)
    return k
  }

  beforeAll(async () => {
    ts = await createTestStore(target!.name)
    deps = testDeps(ts.store, systemClock)
    const w = await makeWarehouse(deps, { code: 'TWO-MAIN' })
    const p = await makeProduct(deps, { sku: 'TEE-001-M', productId: 1001 })
    await updateStock(deps, { sku: p.sku, warehouseId: w.id, changeType: 'restock', quantity: 100, source: 'test', referenceId: null, notes: null }, { actor: 'test' })
    expect(w.id).toBe(1) // the README examples move stock in warehouse 1
    await newKey(['read', 'write']) // so `serve` does not mint a first admin key
    const env = {
      DATABASE_URL: ts.url,
      HOST: '127.0.0.1',
      PORT: '0',
      REDIS_URL,
      RATE_LIMIT_READ_PER_MIN: '1',
      RATE_LIMIT_READ_BURST: '6',
      RATE_LIMIT_WRITE_PER_MIN: '1',
      RATE_LIMIT_WRITE_BURST: '4',
      DELIVERY_WORKER: 'off',
      LOG_LEVEL: 'warn',
    }
    ;[a, b] = await Promise.all([startNode(env), startNode(env)])
  }, 60_000)

  afterAll(async () => {
    await Promise.all([stopNode(a), stopNode(b)])
    await ts?.drop()
  })

  it('one key, one budget: reads alternating between the two nodes stop after the shared burst', async () => {
    const k = await newKey(['read'])
    const seen: Array<[number, string | null]> = []
    for (let i = 0; i < 8; i++) {
      const node = i % 2 === 0 ? a! : b!
      const res = await fetch(`${node.url}/inventory/v1/warehouses`, { headers: { 'x-api-key': k.secret } })
      seen.push([res.status, res.headers.get('ratelimit-remaining')])
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
        expect(((await res.json()) as { code: string }).code).toBe('rate_limited')
      } else await res.arrayBuffer()
    }
    expect(seen).toEqual([
      [200, '5'],
      [200, '4'],
      [200, '3'],
      [200, '2'],
      [200, '1'],
      [200, '0'],
      [429, '0'],
      [429, '0'],
    ])
    // Writes have their own budget.
    const w = await fetch(`${b!.url}/inventory/v1/stock/update`, { method: 'POST', headers: { 'x-api-key': k.secret, 'content-type': 'application/json' }, body: '{}' })
    expect(w.headers.get('ratelimit-limit')).toBe('4')
  })

  it('a signed request replayed to the other node is refused (nonces in Redis)', async () => {
    const k = await newKey(['read'])
    const headers = { 'x-api-key': k.secret, ...signatureHeaders(k.signingSecret, 'GET', '/inventory/v1/warehouses', '', Date.now()) }
    expect((await fetch(`${a!.url}/inventory/v1/warehouses`, { headers })).status).toBe(200)
    const replay = await fetch(`${b!.url}/inventory/v1/warehouses`, { headers })
    expect(replay.status).toBe(401)
    expect(((await replay.json()) as { code: string }).code).toBe('nonce_reused')
  })

  it("the README's curl + openssl example signs a sale the server accepts", async () => {
    const k = await newKey(['read', 'write'])
    const r = await run('bash', ['-euo', 'pipefail', '-c', readmeExample('signed-curl')], { KEY: k.secret, SECRET: k.signingSecret, BASE: a!.url })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ success: true })
    const last = await ts.store.db.selectFrom('ledger_entry').selectAll().where('sku', '=', 'TEE-001-M').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow()
    expect(last).toMatchObject({ change_type: 'sale', quantity: 2, actor: k.apiKey.id })
  })

  it("the README's TypeScript example signs a sale the server accepts", async () => {
    const k = await newKey(['read', 'write'])
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-readme-'))
    const file = path.join(dir, 'client.mts')
    const code = readmeExample('signed-client').replace('http://127.0.0.1:8080', b!.url)
    fs.writeFileSync(file, `${code}\nconsole.log(JSON.stringify({ status: res.status, body: await res.json() }))\n`)
    const r = await run(process.execPath, ['--import', 'tsx', file], { KEY: k.secret, SECRET: k.signingSecret })
    fs.rmSync(dir, { recursive: true, force: true })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 200, body: { success: true } })
  })
})
