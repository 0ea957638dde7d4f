/** The WooCommerce webhook route is in the OpenAPI document, without an API key requirement (#12 item 16). */
import { afterAll, describe, expect, it } from 'vitest'
import { createTestStore, type TestStore } from '../support/databases.js'
import { testApp, testClock, testDeps } from '../support/fixtures.js'

describe('OpenAPI: the WooCommerce store webhook', () => {
  let ts: TestStore
  afterAll(async () => ts?.drop())
  it('documents POST /woocommerce/{store}/webhook: signature header, no API key, its answers', async () => {
    ts = await createTestStore('sqlite')
    const { app } = await testApp(testDeps(ts.store, testClock()))
    const res = await app.request('/inventory/v1/openapi.json')
    expect(res.status).toBe(200)
    const doc = (await res.json()) as { paths: Record<string, Record<string, { security?: unknown[]; parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown> }>> }
    const op = doc.paths['/woocommerce/{store}/webhook']?.post
    expect(op).toBeDefined()
    expect(op!.security).toEqual([])
    expect(op!.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['path:store', 'header:x-wc-webhook-signature']))
    expect(Object.keys(op!.responses).sort()).toEqual(['200', '400', '401', '404', '422'])
    // Documenting it changed nothing about serving it: an unsigned JSON delivery is still 404 for an unknown store.
    const post = await app.request('/inventory/v1/woocommerce/nope/webhook', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":1}' })
    expect(post.status).toBe(404)
  })
})
