/** @module http/pull-schemas: a warehouse's pull source as sent and as shown (#14). */
import { z } from '@hono/zod-openapi'

const Secret = z.string().min(1).max(2000)

export const PullAuthBody = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('none') }),
    z.strictObject({ type: z.literal('bearer'), token: Secret }),
    z.strictObject({ type: z.literal('basic'), username: z.string().max(200), password: Secret }),
    z.strictObject({ type: z.literal('header'), name: z.string().min(1).max(100), value: Secret }),
  ])
  .openapi('PullAuth', { description: 'Stored encrypted (KEY_ENCRYPTION_KEY) and never returned. Omit on a change to keep the stored credentials.' })

export const PaginationBody = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('none') }),
    z.strictObject({ type: z.literal('next_link'), field: z.string().max(500).optional().openapi({ description: 'Body field holding the next URL (dotted path); absent: the Link header rel="next"' }) }),
    z.strictObject({ type: z.literal('page'), param: z.string().max(60).optional(), start: z.number().int().min(0).max(1_000_000).optional(), size_param: z.string().max(60).optional(), size: z.number().int().min(1).max(100_000).optional() }),
    z.strictObject({ type: z.literal('cursor'), param: z.string().max(60), field: z.string().max(500) }),
  ])
  .openapi('PullPagination')

export const PullBody = z
  .strictObject({
    url: z.string().min(1).max(2000).openapi({ example: 'https://wms.example/api/inventory' }),
    auth: PullAuthBody.optional(),
    mapping: z.string().max(20_000).nullable().optional().openapi({ description: 'JSONata turning one page into [{sku, quantity}]; null: the seed format inventory_items[{sku, quantity}]' }),
    pagination: PaginationBody.optional(),
    interval_seconds: z.number().int().min(10).max(2_592_000).nullable().optional(),
    cron: z.string().max(200).nullable().optional().openapi({ description: 'Five-field cron expression (UTC); takes precedence over interval_seconds', example: '*/15 * * * *' }),
    timeout_seconds: z.number().int().min(1).max(300).optional().openapi({ description: 'Per request (default 30)' }),
    enabled: z.boolean().optional(),
  })
  .openapi('PullInput')

export const PullSourceSchema = z
  .object({
    warehouse_id: z.number().int(),
    url: z.string(),
    auth: z.object({ type: z.enum(['none', 'bearer', 'basic', 'header']) }).passthrough(),
    mapping: z.string(),
    default_mapping: z.boolean(),
    pagination: z.object({ type: z.string() }).passthrough(),
    interval_seconds: z.number().int().nullable(),
    cron: z.string().nullable(),
    timeout_seconds: z.number(),
    enabled: z.boolean(),
    health: z.enum(['unknown', 'ok', 'unhealthy']),
    health_reason: z.string().nullable(),
    failures: z.number().int(),
    next_run_at: z.string().nullable(),
    last_run_at: z.string().nullable(),
  })
  .openapi('PullSource')

export const PullRunSchema = z
  .object({
    id: z.string(),
    warehouse_id: z.number().int(),
    trigger: z.enum(['schedule', 'manual']),
    dry_run: z.boolean(),
    status: z.enum(['running', 'done', 'failed']),
    pages: z.number().int(),
    items: z.number().int(),
    applied: z.number().int(),
    unchanged: z.number().int(),
    stale: z.number().int(),
    rejected: z.number().int(),
    observed_at: z.string().nullable(),
    error: z.string().nullable(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    report: z.unknown().optional().openapi({ description: 'rejected: the refused items (first 200); changes (dry run): before → after per item (first 1,000)' }),
  })
  .openapi('PullRun')
