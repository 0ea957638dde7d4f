/**
 * @module store/migrations/0014: every change to an API key that can refuse it (revocation, an
 * expiry brought forward by a rotation, a deletion, a changed hash, scopes or warehouses) is
 * signalled by the database itself, so each node's verified-key cache (service/api-keys.ts) drops
 * its answers at once, whoever made the change: a node's own admin UI, another node, the CLI, or
 * SQL typed by an operator (#13).
 * - PostgreSQL: a trigger sends `NOTIFY stockbridge_api_keys`, which every node LISTENs on
 *   (store/listen.ts).
 * - SQLite: a trigger counts the changes in the one-row `api_key_revision`, which a node reads (a
 *   few microseconds) before it trusts a cached key; the trigger runs for any connection to the
 *   file, so other processes' changes are seen too.
 * Recording a key's use (`last_used_at`) is not a change: it is in no trigger's column list.
 */
import { sql, type Kysely } from 'kysely'
import type { DialectCaps } from '../dialect.js'
import { API_KEY_CHANNEL } from '../api-key-repo.js'

/** The columns whose change can refuse a key, or change what it may do. */
const REFUSING_COLUMNS = 'revoked_at, expires_at, key_hash, scopes, warehouses, require_signature, signing_secret'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, caps: DialectCaps): Promise<void> {
  if (caps.name === 'postgres') {
    await sql
      .raw(
        `create function sb_api_key_changed() returns trigger language plpgsql as $$
         begin perform pg_notify('${API_KEY_CHANNEL}', ''); return null; end $$`,
      )
      .execute(db)
    await sql.raw(`create trigger sb_api_key_changed after update of ${REFUSING_COLUMNS} or delete on api_key for each statement execute function sb_api_key_changed()`).execute(db)
    return
  }
  await sql`create table api_key_revision (id integer primary key check (id = 1), revision integer not null)`.execute(db)
  await sql`insert into api_key_revision (id, revision) values (1, 0)`.execute(db)
  const bump = 'update api_key_revision set revision = revision + 1 where id = 1;'
  await sql.raw(`create trigger sb_api_key_changed_u after update of ${REFUSING_COLUMNS} on api_key begin ${bump} end`).execute(db)
  await sql.raw(`create trigger sb_api_key_changed_d after delete on api_key begin ${bump} end`).execute(db)
}
