/** @module http/request-context: the caller's identity and idempotency key, for the services. */
import { IncomingMessage } from 'node:http'
import type { HttpBindings } from '@hono/node-server'
import type { Context } from 'hono'
import { invalid } from '../domain/errors.js'
import type { RequestContext } from '../service/deps.js'
import type { Replayable } from '../service/idempotency.js'
import type { AppEnv } from './env.js'

/**
 * A request header. Behind a real server it is read from Node's parsed headers: Hono's
 * c.req.header() builds a WHATWG Headers copy of all of them on first use, which profiling put at
 * about a twentieth of a stock read. Only for headers Node joins as WHATWG does (`, ` between
 * repeats): every `x-…` header and `idempotency-key`. Node keeps only the first of a repeated
 * Authorization or Content-Type, so those stay with c.req.header(); `hasHeader` may test them.
 * In-process requests (tests) read through Hono.
 */
export function headerOf(c: Context, name: string): string | undefined {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming
  if (!(incoming instanceof IncomingMessage)) return c.req.header(name)
  const v = incoming.headers[name]
  return typeof v === 'string' ? v : v === undefined ? undefined : v.join(', ')
}

/** Whether the request carries this header at all (any header name; a repeat counts once). */
export function hasHeader(c: Context, name: string): boolean {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming
  if (!(incoming instanceof IncomingMessage)) return c.req.header(name) !== undefined
  return incoming.headers[name] !== undefined
}

// Printable ASCII only, as Stripe and the IETF idempotency-key draft expect.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

export function contextOf(c: Context<AppEnv>): RequestContext {
  const key = headerOf(c, 'idempotency-key')
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw invalid('/headers/Idempotency-Key', 'must be 1 to 255 printable ASCII characters')
  }
  // The actor (key id, jwt:<sub>, webhook:<provider>) and the warehouse restriction come from whoever authenticated (#5).
  const who = c.get('principal')
  return { actor: who.actor, idempotencyKey: key, allowedWarehouses: who.warehouses }
}

/** Mark a replayed answer so clients can tell a repeat from a fresh change. */
export function markReplay(c: Context, r: Replayable<unknown>): void {
  if (r.replayed) c.header('idempotent-replayed', 'true')
}

export const isoToMs = (v: string | undefined): number | undefined => (v === undefined ? undefined : Date.parse(v))
