/**
 * Alert channel secrets at rest (#15): an SMTP password, a signed webhook's secret and a Slack
 * URL are sealed with KEY_ENCRYPTION_KEY (as store and pull secrets are); channels stored before
 * sealing existed keep working and are sealed at start; a node without the key sends nothing
 * for such a channel and says why.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../src/security/webhook-signature.js'
import { channelView, createChannel, getChannel } from '../../src/service/alert-channels.js'
import { testChannel } from '../../src/connectors/alert-channels/test-message.js'
import type { ServiceDeps } from '../../src/service/deps.js'
import { sealAlertChannelSecrets, useAlertSealKey } from '../../src/store/alert-repo.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { testDeps } from '../support/fixtures.js'
import { Subscriber } from './support-engine.js'

const KEY = randomBytes(32)
const PASSWORD = 'smtp-password-5f1d0c'
const SLACK_URL = 'https://hooks.slack.example.test/services/T000/B000/slack-token-9a8b7c'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: alert channel secrets are sealed at rest`, () => {
    let ts: TestStore
    let deps: ServiceDeps
    let sink: Subscriber
    const storedConfig = async (id: string) => (await ts.store.db.selectFrom('alert_channel').select('config').where('id', '=', id).executeTakeFirstOrThrow()).config
    beforeAll(async () => {
      ts = await createTestStore(db.name)
      deps = testDeps(ts.store)
      sink = await Subscriber.start()
    })
    afterAll(async () => {
      useAlertSealKey(null)
      await sink?.close()
      await ts?.drop()
    })

    it('stores no password, webhook secret or Slack URL in the clear, and reads them back', async () => {
      useAlertSealKey(KEY)
      const email = await createChannel(deps, { name: 'sealed-mail', kind: 'email', config: { host: 'smtp.example.test', port: 587, username: 'hub', password: PASSWORD, from: 'hub@example.test', to: ['ops@example.test'] } })
      const slack = await createChannel(deps, { name: 'sealed-slack', kind: 'slack', config: { url: SLACK_URL } })
      const hook = await createChannel(deps, { name: 'sealed-hook', kind: 'webhook', config: { url: sink.url } })
      const secret = hook.config.secret as string
      for (const [c, clear] of [[email, PASSWORD], [slack, 'slack-token-9a8b7c'], [hook, secret]] as const) {
        const raw = await storedConfig(c.id)
        expect(raw).not.toContain(clear)
        expect(raw).toContain('"$sealed":"aesgcm:')
      }
      // what is not a credential stays readable in the row
      expect(await storedConfig(email.id)).toContain('smtp.example.test')
      expect((await getChannel(deps, 'sealed-mail')).config.password).toBe(PASSWORD)
      expect((await getChannel(deps, 'sealed-slack')).config.url).toBe(SLACK_URL)
      expect(channelView(await getChannel(deps, 'sealed-mail')).config.password).toBe('***')

      // the sealed webhook secret still signs what the channel sends
      const r = await testChannel(deps, 'sealed-hook', 5000)
      expect(r.ok).toBe(true)
      const got = sink.received.at(-1)!
      expect(verifyWebhookSignature(secret, String(got.headers[SIGNATURE_HEADER.toLowerCase()]), got.raw, Math.floor(Date.now() / 1000))).toBe(true)
    })

    it('reads channels stored in the clear before sealing, and seals them at start', async () => {
      useAlertSealKey(KEY)
      const legacy = { host: 'smtp.example.test', port: 587, tls: 'starttls', username: 'hub', password: PASSWORD, from: 'hub@example.test', to: ['ops@example.test'] }
      await ts.store.db
        .insertInto('alert_channel')
        .values({ id: 'ach_legacy1', name: 'legacy-mail', kind: 'email', config: JSON.stringify(legacy), mode: 'immediate', digest_seconds: 0, kinds: '["low_stock"]', scopes: '["total"]', is_active: 1, digest_through_seq: 0, created_at: 1 })
        .execute()
      expect((await getChannel(deps, 'legacy-mail')).config).toEqual(legacy)
      expect(await sealAlertChannelSecrets(ts.store.db)).toBe(1)
      expect(await storedConfig('ach_legacy1')).not.toContain(PASSWORD)
      expect((await getChannel(deps, 'legacy-mail')).config).toEqual(legacy)
      expect(await sealAlertChannelSecrets(ts.store.db)).toBe(0) // nothing left in the clear
    })

    it('without the key a sealed channel is listed, sends nothing, and says why', async () => {
      useAlertSealKey(null)
      const c = await getChannel(deps, 'sealed-hook')
      expect(c.config.secret).toBeUndefined()
      expect(c.sealError).toMatch(/secret cannot be read: .*KEY_ENCRYPTION_KEY/)
      const before = sink.received.length
      const r = await testChannel(deps, 'sealed-hook', 5000)
      expect(r).toMatchObject({ ok: false, status: null })
      expect(r.detail).toContain('KEY_ENCRYPTION_KEY')
      expect(sink.received.length).toBe(before)
      // a channel made without a key is stored `plain:` and sealed once a key is set
      const plain = await createChannel(deps, { name: 'plain-slack', kind: 'slack', config: { url: SLACK_URL } })
      expect(await storedConfig(plain.id)).toContain('"$sealed":"plain:')
      useAlertSealKey(KEY)
      expect(await sealAlertChannelSecrets(ts.store.db)).toBe(1)
      expect(await storedConfig(plain.id)).not.toContain('slack-token-9a8b7c')
      expect((await getChannel(deps, 'plain-slack')).config.url).toBe(SLACK_URL)
    })
  })
}
