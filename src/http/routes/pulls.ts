/**
 * @module http/routes/pulls: a warehouse's pull source and runs (#14). The source is set with
 * `PATCH /warehouses/{id}` (`pull: {…}`); here it is shown, run now, and its runs listed.
 */
import { createRoute, z } from '@hono/zod-openapi'
import type { PullInput } from '../../service/pulls.js'
import { runPullNow } from '../../connectors/pulls/run.js'
import { getPullSource, listPullRunPage, pullRunView, pullSourceView } from '../../service/pulls.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { ok, PROBLEMS } from '../responses.js'
import { envelope, PageQuery, pagedEnvelope, pagedJson, WarehouseIdParam } from '../schemas.js'
import { PullRunSchema, PullSourceSchema, type PullBody } from '../pull-schemas.js'

/** The wire body as the service's input. */
export function pullInputOf(b: z.infer<typeof PullBody>): PullInput {
  return {
    url: b.url,
    auth: b.auth,
    mapping: b.mapping,
    pagination: b.pagination,
    intervalSeconds: b.interval_seconds,
    cron: b.cron,
    timeoutSeconds: b.timeout_seconds,
    enabled: b.enabled,
  }
}

const problem = { content: { 'application/problem+json': { schema: z.any() } } }

export function registerPullRoutes(app: App, deps: AppDeps): void {
  const read = requireScope('read')
  const admin = requireScope('admin')
  const tags = ['warehouses']

  app.openapi(
    createRoute({ method: 'get', path: '/warehouses/{id}/pull', tags, summary: "A warehouse's pull source (never its credentials)", middleware: [read] as const, request: { params: WarehouseIdParam }, responses: { 200: ok(envelope(PullSourceSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] } }),
    async (c) => c.json({ success: true as const, data: pullSourceView(await getPullSource(deps, c.req.valid('param').id)) }, 200),
  )

  app.openapi(
    createRoute({
      method: 'post',
      path: '/warehouses/{id}/pull',
      tags,
      summary: "Pull the warehouse's stock from its API now (dry_run=true: report what would change, change nothing)",
      middleware: [admin] as const,
      request: { params: WarehouseIdParam, query: z.strictObject({ dry_run: z.enum(['true', 'false']).optional() }) },
      responses: {
        200: ok(envelope(PullRunSchema)),
        401: PROBLEMS[401],
        403: PROBLEMS[403],
        404: PROBLEMS[404],
        409: { ...problem, description: 'pull_in_progress' },
        502: { ...problem, description: 'pull_failed: the API could not be read or mapped; the run is recorded (run_id)' },
      },
    }),
    async (c) => {
      const out = await runPullNow(deps, c.req.valid('param').id, { dryRun: c.req.valid('query').dry_run === 'true' })
      return c.json({ success: true as const, data: pullRunView(out.run, true) }, 200)
    },
  )

  app.openapi(
    createRoute({
      method: 'get',
      path: '/warehouses/{id}/pulls',
      tags,
      summary: 'Pull runs, newest first, with counts and errors, cursor-paged',
      middleware: [read] as const,
      request: { params: WarehouseIdParam, query: z.strictObject(PageQuery) },
      responses: { 200: ok(pagedEnvelope(PullRunSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404], 422: PROBLEMS[422] },
    }),
    async (c) => c.json(pagedJson(await listPullRunPage(deps, c.req.valid('param').id, c.req.valid('query')), (r) => pullRunView(r, true)), 200),
  )
}
