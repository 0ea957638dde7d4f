/**
 * Transaction retries (#4): a real deadlock on PostgreSQL is broken by the server, the losing
 * transaction runs again and both commit; a conflict that keeps coming back is retried a bounded
 * number of times and then surfaces as an unavailability (503), never silently swallowed.
 */
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Logger, ServiceDeps } from '../../src/service/deps.js'
import { inTransaction, MAX_TRANSACTION_ATTEMPTS } from '../../src/service/transaction.js'
import { isRetryableTransactionError, isUnavailable } from '../../src/store/errors.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { makeProduct, testDeps } from '../support/fixtures.js'

function recordingLogger() {
  const lines: Array<{ level: string; obj: object; msg?: string | undefined }> = []
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg })
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  return { log, lines }
}

/** Resolves when `n` parties have arrived. */
function barrier(n: number) {
  let arrived = 0
  let open!: () => void
  const opened = new Promise<void>((r) => (open = r))
  return () => {
    if (++arrived === n) open()
    return opened
  }
}

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: transaction retries`, () => {
    let ts: TestStore
    beforeAll(async () => {
      ts = await createTestStore(db.name)
    })
    afterAll(async () => ts?.drop())

    it(`gives up after ${MAX_TRANSACTION_ATTEMPTS} attempts on a conflict that keeps recurring, and surfaces it as unavailable`, async () => {
      const { log, lines } = recordingLogger()
      const deps: ServiceDeps = { ...testDeps(ts.store), log }
      let attempts = 0
      const conflict = Object.assign(new Error('could not serialize access due to concurrent update'), { code: '40001' })
      const failure = await inTransaction(deps, async () => {
        attempts++
        throw conflict
      }).catch((e: unknown) => e)
      expect(failure).toBe(conflict)
      expect(attempts).toBe(MAX_TRANSACTION_ATTEMPTS)
      expect(isUnavailable(failure)).toBe(true)
      expect(lines.filter((l) => l.msg === 'retrying transaction')).toHaveLength(MAX_TRANSACTION_ATTEMPTS - 1)
      expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1)
    })

    it('does not retry other errors', async () => {
      const deps = testDeps(ts.store)
      let attempts = 0
      await expect(
        inTransaction(deps, async () => {
          attempts++
          throw Object.assign(new Error('duplicate key'), { code: '23505' })
        }),
      ).rejects.toThrow('duplicate key')
      expect(attempts).toBe(1)
    })

    // PostgreSQL only: SQLite runs one writer at a time and cannot deadlock.
    if (db.name === 'postgres') {
      it('breaks a real deadlock: the losing transaction is retried and both commit', async () => {
        const { log, lines } = recordingLogger()
        const deps: ServiceDeps = { ...testDeps(ts.store), log }
        const [a, b] = [await makeProduct(deps), await makeProduct(deps)]
        const bothHoldOne = barrier(2)
        const attempts = { ab: 0, ba: 0 }
        // Opposite lock orders on purpose: exactly what the fixed (sku, warehouse) order prevents.
        const lockBoth = (name: 'ab' | 'ba', first: string, second: string) =>
          inTransaction(deps, async (trx) => {
            attempts[name]++
            await sql`update product set name = ${name} where sku = ${first}`.execute(trx)
            if (attempts[name] === 1) await bothHoldOne()
            await sql`update product set name = ${name} where sku = ${second}`.execute(trx)
            return name
          })
        const results = await Promise.all([lockBoth('ab', a.sku, b.sku), lockBoth('ba', b.sku, a.sku)])
        expect(results).toEqual(['ab', 'ba'])
        // One side was chosen as the deadlock victim and ran a second time; the other ran once.
        expect([attempts.ab, attempts.ba].sort()).toEqual([1, 2])
        expect(lines.filter((l) => l.msg === 'retrying transaction').map((l) => (l.obj as { code: string }).code)).toEqual(['40P01'])
        expect(isRetryableTransactionError(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(true)
      })
    }
  })
}
