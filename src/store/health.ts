/** @module store/health: the cheapest question the database can answer. */
import { sql } from 'kysely'
import type { Executor } from './db.js'

export async function pingDatabase(ex: Executor): Promise<void> {
  await sql`select 1`.execute(ex)
}
