/**
 * A revoked API key, or the old key of a rotation that expires it, is refused by every node at
 * once, not when the node's verified-key cache would have timed out (#13). Two real server
 * processes share one database, each with a key cache of ten minutes, so only the invalidation
 * can make them refuse the key within the test. The change is made from a third connection, as the
 * CLI or another node makes it. SQLite: the very next request is refused (the nodes read the key
 * change count before trusting a cached key). PostgreSQL: refused as soon as the node has heard
 * the NOTIFY, which the test waits for (a bounded wait, far below the cache's ten minutes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiKey, revokeApiKey, rotateApiKey } from '../../src/service/api-keys.js'
import { systemClock, type ServiceDeps } from '../../src/service/deps.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { testDeps } from '../support/fixtures.js'
import { waitUntil } from '../support/pg-admin.js'
import { killAllNodes, startNode, type NodeProcess } from '../support/process.js'

async function status(node: NodeProcess, secret: string): Promise<number> {
  const res = await fetch(`${node.url}/inventory/v1/warehouses`, { headers: { 'x-api-key': secret } })
  await res.arrayBuffer()
  return res.status
}

describe.each(DATABASES)('$name: API key changes reach every node at once', ({ name, skipReason }) => {
  let ts: TestStore
  let deps: ServiceDeps
  let nodes: NodeProcess[] = []

  /** Every node's answer to the key, once each has answered it (SQLite) or heard of the change (PostgreSQL). */
  const settled = async (secret: string, expected: number): Promise<number[]> => {
    if (name === 'postgres') {
      for (const n of nodes) await waitUntil(`${n.name} answers ${expected}`, async () => (await status(n, secret)) === expected, 20_000).catch(() => undefined)
    }
    return Promise.all(nodes.map((n) => status(n, secret)))
  }

  beforeAll(async () => {
    if (skipReason) return
    ts = await createTestStore(name)
    deps = testDeps(ts.store, systemClock)
    await createApiKey(deps, 'operator', ['admin']) // so `serve` does not mint a first admin key
    const env = { DATABASE_URL: ts.url, API_KEY_CACHE_SECONDS: '600', DELIVERY_WORKER: 'off', ALERTS: 'off' }
    nodes = await Promise.all([startNode('node A', env), startNode('node B', env)])
  }, 120_000)

  afterAll(async () => {
    await killAllNodes()
    await ts?.drop()
  })

  it.skipIf(skipReason !== null)('a revoked key is refused by both nodes that had it cached', async () => {
    const k = await createApiKey(deps, 'to revoke', ['read'])
    expect(await Promise.all(nodes.map((n) => status(n, k.secret)))).toEqual([200, 200])
    expect(await Promise.all(nodes.map((n) => status(n, k.secret)))).toEqual([200, 200]) // now answered from each cache
    await revokeApiKey(deps, k.apiKey.id)
    expect(await settled(k.secret, 401)).toEqual([401, 401])
  })

  it.skipIf(skipReason !== null)("a rotation that expires the old key: both nodes refuse the old key and take the new one", async () => {
    const old = await createApiKey(deps, 'to rotate', ['read'])
    expect(await Promise.all(nodes.map((n) => status(n, old.secret)))).toEqual([200, 200])
    const rotated = await rotateApiKey(deps, old.apiKey.id, { expireOldInMs: 1 })
    expect(await settled(old.secret, 401)).toEqual([401, 401])
    expect(await Promise.all(nodes.map((n) => status(n, rotated.secret)))).toEqual([200, 200])
  })

  it.skipIf(skipReason !== null)('recording a key\u2019s use is not counted as a change (SQLite: the count stays)', async () => {
    const before = name === 'sqlite' ? ts.store.apiKeyRevision!() : null
    const k = await createApiKey(deps, 'busy', ['read'])
    expect(await Promise.all(nodes.map((n) => status(n, k.secret)))).toEqual([200, 200])
    // The nodes record the use (last_used_at) after answering.
    await waitUntil('the use is recorded', async () => (await ts.store.db.selectFrom('api_key').select('last_used_at').where('id', '=', k.apiKey.id).executeTakeFirst())?.last_used_at != null)
    if (before !== null) expect(ts.store.apiKeyRevision!()).toBe(before)
    expect(await Promise.all(nodes.map((n) => status(n, k.secret)))).toEqual([200, 200])
  })
})

