/**
 * Database settings (#4): pool size, timeouts and TLS come from the environment, are validated
 * with every other setting, and reach the PostgreSQL driver. The TLS mode is checked against the
 * real server here, which has ssl = off: asking for TLS must then fail to connect, and asking
 * for none must work, whichever of DATABASE_SSL and the URL's sslmode says so.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import { openStore, resolvePostgresConnection, type Store } from '../../src/store/db.js'
import { createTestStore, DATABASES, type TestStore } from '../support/databases.js'
import { databaseOf, withAdmin } from '../support/pg-admin.js'

describe('config: database settings', () => {
  it('defaults the pool to 8 connections, the statement timeout to 30 s, and TLS to the URL', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u:secret@db.example:5432/stock' })
    expect({ pool: c.databasePoolSize, statementTimeout: c.databaseStatementTimeoutMs, connectTimeout: c.databaseConnectTimeoutMs, ssl: c.databaseSsl, ca: c.databaseSslRootCert }).toEqual({
      pool: 8,
      statementTimeout: 30_000,
      connectTimeout: 5000,
      ssl: undefined,
      ca: undefined,
    })
    expect(JSON.stringify(c.redacted())).not.toContain('secret')
  })

  it('reads DATABASE_POOL_SIZE, DATABASE_STATEMENT_TIMEOUT_MS, DATABASE_SSL and DATABASE_SSL_ROOT_CERT', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://db/stock', DATABASE_POOL_SIZE: '24', DATABASE_STATEMENT_TIMEOUT_MS: '0', DATABASE_SSL: 'verify-full', DATABASE_SSL_ROOT_CERT: '/etc/ssl/rds.pem' })
    expect([c.databasePoolSize, c.databaseStatementTimeoutMs, c.databaseSsl, c.databaseSslRootCert]).toEqual([24, 0, 'verify-full', '/etc/ssl/rds.pem'])
  })

  it('reports every bad database setting at once, including an sslmode in the URL it cannot honour', () => {
    let problems: ReadonlyArray<string> = []
    try {
      loadConfig({ DATABASE_URL: 'postgres://db/stock?sslmode=prefer', DATABASE_POOL_SIZE: '0', DATABASE_SSL: 'maybe', DATABASE_CONNECT_TIMEOUT_MS: 'soon' })
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e
      problems = e.problems
    }
    expect(problems.map((p) => p.split(':')[0])).toEqual(expect.arrayContaining(['DATABASE_POOL_SIZE', 'DATABASE_SSL', 'DATABASE_CONNECT_TIMEOUT_MS', 'DATABASE_URL']))
    expect(problems.find((p) => p.startsWith('DATABASE_URL'))).toContain('sslmode=prefer')
  })
})

describe('store: TLS settings for PostgreSQL (libpq meanings)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ssl-'))
  const caFile = path.join(dir, 'root.pem')
  fs.writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  const base = 'postgres://u:p@db.example:5432/stock'

  it.each([
    ['no mode anywhere', base, {}, false],
    ['URL sslmode=disable', `${base}?sslmode=disable`, {}, false],
    ['URL sslmode=require: encrypted, certificate not checked', `${base}?sslmode=require`, {}, { rejectUnauthorized: false }],
    ['URL sslmode=no-verify (node-postgres spelling)', `${base}?sslmode=no-verify`, {}, { rejectUnauthorized: false }],
    ['DATABASE_SSL=verify-full: chain and host name', base, { sslMode: 'verify-full' as const }, { rejectUnauthorized: true }],
    ['DATABASE_SSL overrides the URL', `${base}?sslmode=require`, { sslMode: 'disable' as const }, false],
  ])('%s', (_name, url, options, ssl) => {
    const r = resolvePostgresConnection(url, options)
    expect(r.ssl === false ? false : { rejectUnauthorized: r.ssl.rejectUnauthorized }).toEqual(ssl)
    expect(r.connectionString).toBe(base)
  })

  it('verify-ca and require with a root certificate check the chain but not the host name', () => {
    for (const r of [resolvePostgresConnection(`${base}?sslmode=verify-ca&sslrootcert=${encodeURIComponent(caFile)}`), resolvePostgresConnection(base, { sslMode: 'require', sslRootCertFile: caFile })]) {
      expect(r.ssl).not.toBe(false)
      if (r.ssl === false) continue
      expect(r.ssl.rejectUnauthorized).toBe(true)
      expect(r.ssl.ca).toContain('BEGIN CERTIFICATE')
      expect(r.ssl.checkServerIdentity?.('db.example', {} as never)).toBeUndefined()
    }
    const full = resolvePostgresConnection(base, { sslMode: 'verify-full', sslRootCertFile: caFile })
    expect(full.ssl !== false && full.ssl.checkServerIdentity).toBeFalsy()
  })

  it('refuses allow and prefer, which node-postgres cannot honour', () => {
    expect(() => resolvePostgresConnection(`${base}?sslmode=prefer`)).toThrow(/allow and prefer are refused/)
  })
})

const pgDb = DATABASES.find((d) => d.name === 'postgres')

describe.skipIf(!pgDb || pgDb.skipReason !== null)('postgres: the settings reach the server', () => {
  let ts: TestStore
  const stores: Store[] = []
  beforeAll(async () => {
    ts = await createTestStore('postgres')
  })
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {})
    await ts?.drop()
  })
  const open = (url: string, options: Parameters<typeof openStore>[1] = {}) => {
    const s = openStore(url, options)
    stores.push(s)
    return s
  }

  it('asks for TLS when told to (this server has none, so the connection is refused)', async () => {
    const ssl = await withAdmin((c) => c.query('show ssl'))
    expect((ssl.rows[0] as { ssl: string }).ssl).toBe('off')
    const viaEnv = open(ts.url, { sslMode: 'require' })
    await expect(sql`select 1`.execute(viaEnv.db)).rejects.toThrow(/does not support SSL/)
    const viaUrl = open(`${ts.url}?sslmode=require`)
    await expect(sql`select 1`.execute(viaUrl.db)).rejects.toThrow(/does not support SSL/)
    const overridden = open(`${ts.url}?sslmode=require`, { sslMode: 'disable' })
    expect((await sql<{ one: number }>`select 1 as one`.execute(overridden.db)).rows).toEqual([{ one: 1 }])
  })

  it('opens at most DATABASE_POOL_SIZE connections and applies the statement timeout to each', async () => {
    const store = open(ts.url, { poolSize: 3, statementTimeoutMs: 4321, applicationName: 'sb-pool-size-test' })
    const seen = await Promise.all(Array.from({ length: 12 }, () => sql<{ pid: number; timeout: string }>`select pg_backend_pid() as pid, current_setting('statement_timeout') as timeout, pg_sleep(0.05)`.execute(store.db)))
    expect(new Set(seen.map((r) => r.rows[0]!.pid)).size).toBe(3)
    expect(new Set(seen.map((r) => r.rows[0]!.timeout))).toEqual(new Set(['4321ms']))
    const sessions = await withAdmin((c) => c.query(`select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'sb-pool-size-test'`, [databaseOf(ts.url)]))
    expect((sessions.rows[0] as { n: number }).n).toBe(3)
  })
})
