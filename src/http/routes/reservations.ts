/** @module http/routes/reservations: checkout holds: create, read, commit, release. */
import { createRoute, z } from '@hono/zod-openapi'
import { commitReservation, createReservation, getReservation, listReservations, releaseReservation } from '../../service/reservations.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { contextOf, markReplay } from '../request-context.js'
import { IdempotencyHeaders, ok, PROBLEMS } from '../responses.js'
import { envelope, IdParam, Label, PageQuery, pagedEnvelope, ReservationBody, ReservationSchema, SkuSchema } from '../schemas.js'
import { reservationJson } from '../views.js'

const ReservationResponse = envelope(ReservationSchema)

export function registerReservationRoutes(app: App, deps: AppDeps): void {
  const write = requireScope('write')

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reservations',
      tags: ['reservations'],
      summary: 'Reservations, newest first, cursor-paged; filters: sku, state, reference',
      middleware: [requireScope('read')] as const,
      request: {
        query: z.strictObject({
          sku: SkuSchema.optional(),
          state: z.enum(['active', 'committed', 'released', 'expired']).optional().openapi({ description: 'The reservation status' }),
          reference: Label(100).optional().openapi({ description: 'The reference_id it was made with' }),
          ...PageQuery,
        }),
      },
      responses: { 200: ok(pagedEnvelope(ReservationSchema)), 401: PROBLEMS[401], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const page = await listReservations(deps, { sku: q.sku, status: q.state, referenceId: q.reference, cursor: q.cursor, limit: q.limit })
      return c.json({ success: true as const, data: page.items.map((r) => reservationJson(r)), next_cursor: page.nextCursor, has_more: page.nextCursor !== null }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/reservations',
      tags: ['reservations'],
      summary: 'Hold stock for a checkout (expires after ttl_seconds, default 15 minutes)',
      description: 'Without warehouse_id the quantity is allocated across active warehouses by priority; `allocation` explains the split.',
      middleware: [write] as const,
      request: { body: { content: { 'application/json': { schema: ReservationBody } }, required: true }, headers: IdempotencyHeaders },
      responses: { 201: ok(ReservationResponse, 'Created'), 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 409: PROBLEMS[409], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const b = c.req.valid('json')
      const res = await createReservation(
        deps,
        { sku: b.sku, quantity: b.quantity, warehouseId: b.warehouse_id, ttlSeconds: b.ttl_seconds, source: b.source ?? 'api', referenceId: b.reference_id ?? null, notes: b.notes ?? null },
        contextOf(c),
      )
      markReplay(c, res)
      c.header('location', `/inventory/v1/reservations/${res.value.reservation.id}`)
      return c.json({ success: true as const, data: reservationJson(res.value.reservation, res.value.allocation) }, 201)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reservations/{id}',
      tags: ['reservations'],
      summary: 'One reservation',
      middleware: [requireScope('read')] as const,
      request: { params: IdParam },
      responses: { 200: ok(ReservationResponse), 401: PROBLEMS[401], 404: PROBLEMS[404] },
    }),
    async (c) => c.json({ success: true as const, data: reservationJson(await getReservation(deps, c.req.valid('param').id)) }, 200),
  )

  for (const [action, run, summary] of [
    ['commit', commitReservation, 'Turn the reservation into a sale'],
    ['release', releaseReservation, 'Give the held units back'],
  ] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/reservations/{id}/${action}`,
        tags: ['reservations'],
        summary,
        middleware: [write] as const,
        request: { params: IdParam, headers: IdempotencyHeaders },
        responses: { 200: ok(ReservationResponse), 401: PROBLEMS[401], 403: PROBLEMS[403], 404: PROBLEMS[404], 409: PROBLEMS[409] },
      }),
      async (c) => {
        const res = await run(deps, c.req.valid('param').id, contextOf(c))
        markReplay(c, res)
        return c.json({ success: true as const, data: reservationJson(res.value) }, 200)
      },
    )
  }
}
