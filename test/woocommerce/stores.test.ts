/** Stores over the API: validation, secrets never shown (and sealed at rest with a key), change and removal. */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { findStore, useStoreSealKey } from '../../src/store/woo-repo.js'
import { DATABASES } from '../support/databases.js'
import { startHub, type Hub } from './support.js'

for (const { name, skipReason } of DATABASES) {
  describe.skipIf(skipReason !== null)(`stores API (${name})`, () => {
    let hub: Hub | null = null
    afterEach(async () => {
      useStoreSealKey(null)
      await hub?.close()
      hub = null
    })

    it('adds, shows without secrets, changes and removes stores; refuses bad input', async () => {
      hub = await startHub(name)
      const key = randomBytes(32)
      useStoreSealKey(key)
      const body = { name: 'eu', url: 'https://shop.example/wp-json/', consumer_key: 'ck_0123456789abcdef', consumer_secret: 'cs_topsecret_value', warehouses: ['BER', 'HAM'], buffer: 3 }
      const created = await hub.call('POST', 'stores', { body })
      expect(created.status).toBe(201)
      const s = ((await created.json()) as { data: Record<string, unknown> }).data
      expect(s).toMatchObject({ name: 'eu', url: 'https://shop.example', auth: 'basic', warehouses: [hub.warehouses[0]!.id, hub.warehouses[1]!.id], buffer: 3, mode: 'live', concurrency: 4, health: 'unknown', webhooks_configured: false })
      expect(JSON.stringify(s)).not.toContain('topsecret')
      const row = await hub.deps.store.db.selectFrom('woo_store').select('consumer_secret').executeTakeFirstOrThrow()
      expect(row.consumer_secret).toMatch(/^aesgcm:/)
      expect((await findStore(hub.deps.store.db, 'eu'))?.consumerSecret).toBe('cs_topsecret_value')

      expect((await hub.call('POST', 'stores', { body })).status).toBe(409)
      expect((await hub.call('POST', 'stores', { body: { ...body, name: 'x', url: 'ftp://shop' } })).status).toBe(422)
      expect((await hub.call('POST', 'stores', { body: { ...body, name: 'y', warehouses: ['NOPE'] } })).status).toBe(404)
      expect((await hub.call('POST', 'stores', { body: { ...body, name: 'z', buffer: 1.5 } })).status).toBe(422)
      const list = (await (await hub.call('GET', 'stores')).json()) as { data: unknown[] }
      expect(list.data).toHaveLength(1)

      const patched = await hub.call('PATCH', 'stores/eu', { body: { mode: 'observe', buffer: 0, warehouses: ['HAM'] } })
      expect(((await patched.json()) as { data: Record<string, unknown> }).data).toMatchObject({ mode: 'observe', buffer: 0, warehouses: [hub.warehouses[1]!.id] })
      expect((await hub.call('GET', 'stores/nope')).status).toBe(404)
      expect((await hub.call('POST', 'stores/nope/reconcile', { body: {} })).status).toBe(404)
      expect((await hub.call('GET', 'stores/eu/drift')).status).toBe(200)
      expect((await hub.call('GET', 'stores/eu/mapping-problems')).status).toBe(200)
      expect((await hub.call('DELETE', 'stores/eu')).status).toBe(204)
      expect((await hub.call('GET', 'stores/eu')).status).toBe(404)
    })
  })
}
