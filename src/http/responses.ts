/** @module http/responses: OpenAPI response declarations shared by the routes. */
import { z } from '@hono/zod-openapi'
import { ProblemSchema } from './schemas.js'

const problemContent = { 'application/problem+json': { schema: ProblemSchema } }

export function ok<T extends z.ZodTypeAny>(schema: T, description = 'Success') {
  return { content: { 'application/json': { schema } }, description }
}

export const PROBLEMS = {
  401: { content: problemContent, description: 'Missing, unknown or revoked API key (unauthenticated)' },
  403: { content: problemContent, description: 'The key lacks the scope (forbidden)' },
  404: { content: problemContent, description: 'sku_not_found, warehouse_not_found, reservation_not_found' },
  409: { content: problemContent, description: 'insufficient_stock, version_conflict, reservation_not_active, reservation_expired' },
  413: { content: problemContent, description: 'payload_too_large' },
  415: { content: problemContent, description: 'unsupported_media_type' },
  422: { content: problemContent, description: 'validation_failed, unknown_change_type, idempotency_key_reused' },
} as const

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .optional()
    .openapi({ description: 'A repeat with the same key returns the first result (header Idempotent-Replayed: true) and changes nothing' }),
})
