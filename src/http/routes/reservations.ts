/** @module http/routes/reservations: checkout holds: create, read, commit, release. */
import { createRoute } from '@hono/zod-openapi'
import { commitReservation, createReservation, getReservation, releaseReservation } from '../../service/reservations.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { contextOf, markReplay } from '../request-context.js'
import { IdempotencyHeaders, ok, PROBLEMS } from '../responses.js'
import { envelope, IdParam, ReservationBody, ReservationSchema } from '../schemas.js'
import { reservationJson } from '../views.js'

const ReservationResponse = envelope(ReservationSchema)

export function registerReservationRoutes(app: App, deps: AppDeps): void {
  const write = requireScope('write')

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
