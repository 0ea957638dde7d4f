/** @module http/routes/jobs: progress and results of background jobs (large bulk syncs). */
import { createRoute, z } from '@hono/zod-openapi'
import { getJob, listJobs, type JobView } from '../../service/jobs.js'
import type { App, AppDeps } from '../env.js'
import { requireScope } from '../middleware/api-key.js'
import { ok, PROBLEMS } from '../responses.js'
import { BulkItemSchema, envelope, PageQuery, pagedEnvelope } from '../schemas.js'
import { bulkItemJson } from '../views.js'

export const JobSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    status: z.enum(['queued', 'running', 'done', 'failed']),
    total: z.number().int(),
    done: z.number().int(),
    error: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    // A bulk sync's outcome per item, or a store job's result (map, sync, reconcile: as those routes describe).
    result: z
      .union([z.object({ applied: z.number().int(), stale: z.number().int(), unchanged: z.number().int(), rejected: z.number().int(), results: z.array(BulkItemSchema) }), z.record(z.string(), z.unknown())])
      .nullable(),
  })
  .openapi('Job')

export function jobJson(j: JobView): z.infer<typeof JobSchema> {
  return {
    id: j.id,
    type: j.type,
    status: j.status,
    total: j.total,
    done: j.done,
    error: j.error,
    created_at: new Date(j.createdAt).toISOString(),
    updated_at: new Date(j.updatedAt).toISOString(),
    result: j.result ? { applied: j.result.applied, stale: j.result.stale, unchanged: j.result.unchanged, rejected: j.result.rejected, results: j.result.items.map(bulkItemJson) } : j.output,
  }
}

const JobSummarySchema = JobSchema.omit({ result: true }).openapi('JobSummary')

export function registerJobRoutes(app: App, deps: AppDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs',
      tags: ['jobs'],
      summary: 'Background jobs, newest first, cursor-paged (without per-item results: GET /jobs/{id} has them)',
      middleware: [requireScope('read')] as const,
      request: { query: z.strictObject({ status: z.enum(['queued', 'running', 'done', 'failed']).optional(), ...PageQuery }) },
      responses: { 200: ok(pagedEnvelope(JobSummarySchema)), 401: PROBLEMS[401], 422: PROBLEMS[422] },
    }),
    async (c) => {
      const q = c.req.valid('query')
      const page = await listJobs(deps, { status: q.status, cursor: q.cursor, limit: q.limit })
      const data = page.items.map((j) => {
        const { result: _result, ...rest } = jobJson({ ...j, result: null, output: null })
        return rest
      })
      return c.json({ success: true as const, data, next_cursor: page.nextCursor, has_more: page.nextCursor !== null }, 200)
    },
  )
  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/{id}',
      tags: ['jobs'],
      summary: 'A background job: status, progress (done of total) and, when done, one result per item',
      middleware: [requireScope('read')] as const,
      request: { params: z.object({ id: z.string().min(1).max(40).regex(/^[A-Za-z0-9_]+$/).openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: ok(envelope(JobSchema)), 401: PROBLEMS[401], 404: PROBLEMS[404] },
    }),
    async (c) => c.json({ success: true as const, data: jobJson(await getJob(deps, c.req.valid('param').id)) }, 200),
  )
}
