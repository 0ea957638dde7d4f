/** @module store/listen: LISTEN for outbox notifications from other nodes (PostgreSQL only). */
import pg from 'pg'
import { OUTBOX_CHANNEL } from './outbox-repo.js'
import { parseDatabaseUrl, resolvePostgresConnection, type PostgresOptions } from './db.js'

export interface Listener {
  close(): Promise<void>
}

/**
 * Hold one dedicated connection that LISTENs and calls `onNotify` with each notification's origin
 * (the writing node's id); it reconnects after a lost connection, calling `onNotify(null)` once
 * since events may have been missed.
 * On SQLite there is no other node to hear from, so this does nothing. The connection uses the
 * same TLS settings as the pool (`options`), and TCP keepalive, so a cut network is noticed.
 */
export function listenForOutbox(
  url: string,
  onNotify: (origin: string | null) => void,
  onError: (e: unknown) => void = () => {},
  options: Pick<PostgresOptions, 'sslMode' | 'sslRootCertFile' | 'connectTimeoutMs'> = {},
): Listener {
  if (parseDatabaseUrl(url).kind !== 'postgres') return { close: async () => {} }
  let client: pg.Client | null = null
  let closed = false
  let retry: NodeJS.Timeout | null = null

  const connect = async () => {
    if (closed) return
    const { connectionString, ssl } = resolvePostgresConnection(url, options)
    const c = new pg.Client({ connectionString, ssl, keepAlive: true, application_name: 'stockbridge-listen', connectionTimeoutMillis: options.connectTimeoutMs ?? 5000 })
    c.on('error', (e) => {
      onError(e)
      c.end().catch(() => {})
      if (client === c) client = null
      if (!closed) retry = setTimeout(() => void connect(), 1000)
    })
    c.on('notification', (msg) => onNotify(msg.payload ?? null))
    try {
      await c.connect()
      await c.query(`LISTEN ${OUTBOX_CHANNEL}`)
      client = c
      onNotify(null)
    } catch (e) {
      onError(e)
      c.end().catch(() => {})
      if (!closed) retry = setTimeout(() => void connect(), 1000)
    }
  }
  void connect()
  return {
    async close() {
      closed = true
      if (retry) clearTimeout(retry)
      await client?.end().catch(() => {})
    },
  }
}
