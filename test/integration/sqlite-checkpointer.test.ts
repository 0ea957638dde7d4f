/**
 * SQLite WAL checkpoints on a worker thread (store/sqlite-checkpointer.ts): the worker copies the
 * WAL back into the database while the serving connection keeps writing, the serving connection
 * no longer checkpoints at SQLite's default 1,000 pages, and closing leaves no WAL behind.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/db.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ckpt-'))
  dirs.push(dir)
  return path.join(dir, 'db.sqlite')
}

async function writePages(store: Store, rows: number): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT)`.execute(store.db)
  for (let i = 0; i < rows; i += 100) {
    await store.db.transaction().execute(async (trx) => {
      for (let j = 0; j < 100; j++) await sql`INSERT INTO filler (body) VALUES (${'x'.repeat(2000)})`.execute(trx)
    })
  }
}

// New pages live only in the WAL until a checkpoint copies them into the database file, so the
// file's size tells, without checkpointing anything here, whether the worker has done its job.
const fileBytes = (file: string) => fs.statSync(file).size

describe('SQLite checkpoints on a worker thread', () => {
  it('the worker copies the WAL into the database while the writer goes on; the writer no longer checkpoints at 1,000 pages', async () => {
    const file = tempFile()
    const store = openStore(`sqlite:${file}`, { backgroundCheckpoints: true })
    try {
      const [auto] = (await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db)).rows
      expect(auto!.wal_autocheckpoint).toBeGreaterThan(1000)
      const before = fileBytes(file)
      await writePages(store, 3000) // ~6 MB: ~1,500 pages, far below the writer's own threshold
      expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(5_000_000)
      const deadline = Date.now() + 5000
      while (fileBytes(file) < before + 5_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(fileBytes(file)).toBeGreaterThan(before + 5_000_000)
      const [count] = (await sql<{ n: number }>`SELECT count(*) AS n FROM filler`.execute(store.db)).rows
      expect(count!.n).toBe(3000)
    } finally {
      await store.close()
    }
    expect(fs.existsSync(`${file}-wal`)).toBe(false)
    const reopened = new SQLite(file, { readonly: true })
    expect((reopened.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n).toBe(3000)
    reopened.close()
  })

  it('without the option the store keeps SQLite’s default threshold', async () => {
    const store = openStore(`sqlite:${tempFile()}`)
    try {
      const [auto] = (await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db)).rows
      expect(auto!.wal_autocheckpoint).toBe(1000)
    } finally {
      await store.close()
    }
  })
})
