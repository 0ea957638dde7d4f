/** @module store/listen: LISTEN for notifications from other nodes (PostgreSQL only). */
import pg from 'pg'
import { API_KEY_CHANNEL } from './api-key-repo.js'
import { OUTBOX_CHANNEL } from './outbox-repo.js'
import { parseDatabaseUrl, resolvePostgresConnection, type PostgresOptions } from './db.js'

export interface Listener {
  close(): Promise<void>
}

export type ListenOptions = Pick<PostgresOptions, 'sslMode' | 'sslRootCertFile' | 'connectTimeoutMs'>

/**
 * What a node hears from the database. Each is also called with null once every (re)connection
 * is listening, since notifications sent while it was not may have been missed.
 */
export interface Notified {
  /** Events committed (payload: the writing node's id). */
  readonly outbox: (origin: string | null) => void
  /** An API key was revoked, expired early, deleted or changed (migration 0014's trigger). */
  readonly apiKeys?: () => void
}

/**
 * Hold one dedicated connection that LISTENs on the outbox channel (and the API key channel when
 * asked), reconnecting after a lost connection. On SQLite there is no other node to hear from, so
 * this does nothing. The connection uses the same TLS settings as the pool (`options`), and TCP
 * keepalive, so a cut network is noticed.
 */
export function listenForNotifications(url: string, notified: Notified, onError: (e: unknown) => void = () => {}, options: ListenOptions = {}): Listener {
  if (parseDatabaseUrl(url).kind !== 'postgres') return { close: async () => {} }
  let client: pg.Client | null = null
  let closed = false
  let retry: NodeJS.Timeout | null = null
  const apiKeys = notified.apiKeys

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
    c.on('notification', (msg) => {
      if (msg.channel === API_KEY_CHANNEL) apiKeys?.()
      else notified.outbox(msg.payload ?? null)
    })
    try {
      await c.connect()
      await c.query(apiKeys ? `LISTEN ${OUTBOX_CHANNEL}; LISTEN ${API_KEY_CHANNEL}` : `LISTEN ${OUTBOX_CHANNEL}`)
      client = c
      apiKeys?.()
      notified.outbox(null)
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

/** Only the outbox channel: `onNotify` gets each notification's origin (see Notified.outbox). */
export function listenForOutbox(url: string, onNotify: (origin: string | null) => void, onError: (e: unknown) => void = () => {}, options: ListenOptions = {}): Listener {
  return listenForNotifications(url, { outbox: onNotify }, onError, options)
}
