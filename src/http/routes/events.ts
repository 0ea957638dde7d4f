/**
 * @module http/routes/events: the live event stream (Server-Sent Events), filterable by SKU and
 * warehouse, resumable with Last-Event-ID (the outbox sequence) without gaps.
 */
import { createRoute, z } from '@hono/zod-openapi'
import { streamSSE } from 'hono/streaming'
import { invalid } from '../../domain/errors.js'
import { eventEnvelope } from '../../domain/events.js'
import { isSku } from '../../domain/sku.js'
import { openStream, readStream } from '../../service/event-stream.js'
import type { Context } from 'hono'
import type { ServiceDeps } from '../../service/deps.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { PROBLEMS } from '../responses.js'

const EventsQuery = z.strictObject({
  skus: z.string().max(60_000).optional().openapi({ description: 'Comma-separated SKUs; absent: all' }),
  warehouse_id: z.string().max(2000).optional().openapi({ description: 'Comma-separated warehouse ids; absent: all' }),
  last_event_id: z.string().max(20).optional().openapi({ description: 'Resume after this sequence (same as the Last-Event-ID header)' }),
})

const HEARTBEAT_MS = 15_000
const SAFETY_POLL_MS = 1000
/** An event held back for an older transaction (PostgreSQL) is looked for again after this, doubling. */
const HELD_BACK_FIRST_MS = 10
const PAGE = 500

function parseSeq(v: string | undefined, pointer: string): number | undefined {
  if (v === undefined || v === '') return undefined
  if (!/^\d{1,15}$/.test(v)) throw invalid(pointer, 'must be an event sequence number')
  return Number(v)
}

export function registerEventRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/events',
      tags: ['events'],
      summary: 'Live stream of stock.changed events (text/event-stream)',
      description: 'Each message has `id` = the outbox sequence. Reconnect with Last-Event-ID to resume without gaps.',
      middleware: [requireScope('read')] as const,
      request: { query: EventsQuery },
      responses: { 200: { description: 'An endless text/event-stream', content: { 'text/event-stream': { schema: z.string() } } }, 401: PROBLEMS[401], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const skus = q.skus?.split(',').map((s) => s.trim()).filter(Boolean)
      if (skus?.some((s) => !isSku(s))) throw invalid('/skus', 'holds an invalid SKU')
      const warehouses = q.warehouse_id?.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
        if (!/^\d{1,10}$/.test(s)) throw invalid('/warehouse_id', 'must be comma-separated warehouse ids')
        return Number(s)
      })
      const resumeFrom = parseSeq(c.req.header('last-event-id'), '/headers/Last-Event-ID') ?? parseSeq(q.last_event_id, '/last_event_id')
      return streamStockEvents(c, deps, { skus: skus?.length ? skus : null, warehouses: warehouses?.length ? warehouses : null }, resumeFrom)
    },
  )
}

/**
 * Serve the live stream of stock.changed events matching `filter` as Server-Sent Events, from
 * `resumeFrom` (exclusive) or from now. Shared by the API route and the admin UI (#16).
 */
export async function streamStockEvents(c: Context, deps: ServiceDeps, filter: { readonly skus: ReadonlyArray<string> | null; readonly warehouses: ReadonlyArray<number> | null }, resumeFrom: number | undefined): Promise<Response> {
  let cursor = await openStream(deps, resumeFrom)

  c.header('x-accel-buffering', 'no')
  return streamSSE(c, async (stream) => {
    let wake: (() => void) | null = null
    let pending = true
    const unsubscribe = deps.events.subscribe(() => {
      pending = true
      wake?.()
    })
    stream.onAbort(() => wake?.())
    let lastWrite = Date.now()
    // Nothing wakes the stream when the older transaction an event waits for ends (it may
    // write no event); rather than waiting for the safety poll, look again soon.
    let heldBackMs = 0
    try {
      await stream.writeSSE({ event: 'ready', data: JSON.stringify({ after: cursor.seq }) })
      while (!stream.aborted && !stream.closed) {
        if (pending) {
          pending = false
          for (;;) {
            const page = await readStream(deps, cursor, filter, PAGE)
            const { events, heldBack } = page
            for (const e of events) await stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(eventEnvelope(e)) })
            cursor = page.cursor
            if (events.length > 0) lastWrite = Date.now()
            heldBackMs = heldBack ? Math.min(SAFETY_POLL_MS, heldBackMs === 0 ? HELD_BACK_FIRST_MS : heldBackMs * 2) : 0
            if (heldBack || events.length < PAGE) break
          }
        }
        if (Date.now() - lastWrite >= HEARTBEAT_MS) {
          await stream.write(': keep-alive\n\n')
          lastWrite = Date.now()
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, heldBackMs || SAFETY_POLL_MS)
          wake = done
          function done() {
            clearTimeout(timer)
            resolve()
          }
        })
        wake = null
        // The safety poll catches commits on other nodes when no NOTIFY reached us.
        pending = true
      }
    } finally {
      unsubscribe()
    }
  })
}
