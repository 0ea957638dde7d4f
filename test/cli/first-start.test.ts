/**
 * First start (#12 item 6): a busy port is reported in one line before anything is created, and
 * the first admin key is never lost: each start shows it again until it has been used once.
 */
import { spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { countApiKeys, listApiKeys } from '../../src/store/api-key-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { killAllNodes, startNode } from '../support/process.js'

const ROOT = path.resolve(import.meta.dirname, '../..')

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: ROOT, env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const KEY = /\n {2}(sbk_[A-Za-z0-9_-]{43})\n/

/** The start-up message is written after the "running at" line: wait for its end (key or hint). */
async function startMessage(node: { output(): string }): Promise<string> {
  for (let i = 0; i < 200 && !/\n {2}sbk_\S+\n\n|Create an admin API key with: .*\n\n/.test(node.output()); i++) await new Promise((r) => setTimeout(r, 50))
  return node.output()
}

afterAll(() => killAllNodes())

describe.each(DATABASES)('first start ($name)', ({ name, skipReason }) => {
  const stores: TestStore[] = []
  afterAll(async () => {
    for (const s of stores) await s.drop()
  })
  const fresh = async () => {
    const s = await createTestStore(name)
    stores.push(s)
    return s
  }

  it.skipIf(skipReason !== null)('a busy port: one clear line, exit 1, no stack, and no key made', async () => {
    const ts = await fresh()
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const r = await run(['serve'], { PORT: String(port), DATABASE_URL: ts.url })
      expect(r.code).toBe(1)
      expect(r.stderr).toBe(`port ${port} is in use; start with PORT=${port + 1} npm start\n`)
      expect(r.stdout).toBe('')
      expect(await countApiKeys(ts.store.db)).toBe(0)
    } finally {
      blocker.close()
    }
  }, 60_000)

  it.skipIf(skipReason !== null)('the first admin key is shown again at each start until it is first used; then the hint makes an admin key', async () => {
    const ts = await fresh()
    const env = { DATABASE_URL: ts.url }
    const first = await startNode('first', env)
    const key = KEY.exec(await startMessage(first))?.[1]
    expect(key, first.output()).toBeDefined()
    await first.kill('SIGTERM')

    const second = await startNode('second', env)
    expect(await startMessage(second)).toContain('has not been used yet')
    expect(KEY.exec(second.output())?.[1]).toBe(key)
    const res = await fetch(`${second.url}/inventory/v1/warehouses`, { headers: { 'x-api-key': key! } })
    expect(res.status).toBe(200)
    await second.kill('SIGTERM')

    const third = await startNode('third', env)
    expect(await startMessage(third)).not.toContain(key!)
    const hint = /Create an admin API key with: npm run cli -- (keys create .*)\n/.exec(third.output())?.[1]
    expect(hint, third.output()).toBeDefined()
    await third.kill('SIGTERM')

    const made = await run(hint!.split(' '), env)
    expect(made.code, made.stderr).toBe(0)
    const keys = await listApiKeys(ts.store.db)
    expect(keys).toHaveLength(2)
    expect(keys[1]!.scopes).toContain('admin')
  }, 180_000)
})
