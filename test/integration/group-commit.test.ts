/**
 * Store.transact: on SQLite, transactions that arrive together share one commit (store/group-commit.ts),
 * each unit under its own savepoint. A refused unit undoes only itself; a caller hears of success only
 * once its rows are committed (another connection sees them); on PostgreSQL the same contract holds
 * with a transaction per unit.
 */
import SQLite from 'better-sqlite3'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'

for (const db of DATABASES) {
  describe.skipIf(db.skipReason !== null)(`${db.name}: Store.transact`, () => {
    let ts: TestStore

    beforeAll(async () => {
      ts = await createTestStore(db.name)
      await sql`create table gc_probe (id ${sql.raw(ts.store.caps.autoIdType)} primary key, tag text not null unique)`.execute(ts.store.db)
    })
    afterAll(async () => {
      await ts?.drop()
    })

    const tags = async (prefix: string) =>
      (await sql<{ tag: string }>`select tag from gc_probe where tag like ${`${prefix}%`} order by tag`.execute(ts.store.db)).rows.map((r) => r.tag)

    it('units started together: a throwing one undoes only its own writes, the others commit', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          ts.store.transact(async (trx) => {
            await sql`insert into gc_probe (tag) values (${`a-${String(i).padStart(2, '0')}`})`.execute(trx)
            if (i % 5 === 3) throw new Error(`refused ${i}`)
            await sql`insert into gc_probe (tag) values (${`a-${String(i).padStart(2, '0')}-second`})`.execute(trx)
            return i
          }),
        ),
      )
      const refused = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []))
      expect(refused).toEqual([3, 8, 13, 18])
      for (const i of refused) expect(String((results[i] as PromiseRejectedResult).reason)).toContain(`refused ${i}`)
      const expected = Array.from({ length: 20 }, (_, i) => i)
        .filter((i) => i % 5 !== 3)
        .flatMap((i) => [`a-${String(i).padStart(2, '0')}`, `a-${String(i).padStart(2, '0')}-second`])
      expect(await tags('a-')).toEqual(expected.sort())
    })

    it('a failed statement (unique violation) in one unit leaves its neighbours intact', async () => {
      await ts.store.transact((trx) => sql`insert into gc_probe (tag) values ('b-taken')`.execute(trx))
      const results = await Promise.allSettled([
        ts.store.transact((trx) => sql`insert into gc_probe (tag) values ('b-1')`.execute(trx)),
        ts.store.transact(async (trx) => {
          await sql`insert into gc_probe (tag) values ('b-2')`.execute(trx)
          await sql`insert into gc_probe (tag) values ('b-taken')`.execute(trx)
        }),
        ts.store.transact((trx) => sql`insert into gc_probe (tag) values ('b-3')`.execute(trx)),
      ])
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect(await tags('b-')).toEqual(['b-1', 'b-3', 'b-taken'])
    })

    it('a unit is answered only after its rows are committed: another connection sees them at once', async () => {
      const seenOutside = async (tag: string) => {
        if (db.name === 'sqlite') {
          const other = new SQLite(ts.url.slice('sqlite:'.length), { readonly: true })
          try {
            return other.prepare('select count(*) as n from gc_probe where tag = ?').get(tag) as { n: number }
          } finally {
            other.close()
          }
        }
        const { default: pg } = await import('pg')
        const c = new pg.Client({ connectionString: ts.url })
        await c.connect()
        try {
          return { n: Number((await c.query('select count(*) as n from gc_probe where tag = $1', [tag])).rows[0].n) }
        } finally {
          await c.end()
        }
      }
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          ts.store.transact((trx) => sql`insert into gc_probe (tag) values (${`c-${i}`})`.execute(trx)).then(() => seenOutside(`c-${i}`)),
        ),
      )
      expect(answers.map((a) => Number(a.n))).toEqual(Array(10).fill(1))
    })

    it('units queued while a batch runs share its transaction (SQLite) and still each see their own writes', async () => {
      const seen = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          ts.store.transact(async (trx) => {
            await sql`insert into gc_probe (tag) values (${`d-${i}`})`.execute(trx)
            return (await sql<{ n: number }>`select count(*) as n from gc_probe where tag like 'd-%'`.execute(trx)).rows[0]!.n
          }),
        ),
      )
      // Each unit sees its own row; on SQLite the ones before it in the batch too (one transaction).
      if (db.name === 'sqlite') expect(seen.map(Number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      else for (const n of seen) expect(Number(n)).toBeGreaterThanOrEqual(1)
      expect(await tags('d-')).toHaveLength(8)
    })
  })
}
