/** @module http/request-context: the caller's identity and idempotency key, for the services. */
import type { Context } from 'hono'
import { invalid } from '../domain/errors.js'
import type { RequestContext } from '../service/deps.js'
import type { Replayable } from '../service/idempotency.js'
import type { AppEnv } from './env.js'

// Printable ASCII only, as Stripe and the IETF idempotency-key draft expect.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

export function contextOf(c: Context<AppEnv>): RequestContext {
  const key = c.req.header('idempotency-key')
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
