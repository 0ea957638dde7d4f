/**
 * @module http/schemas: the wire format. Request schemas are strict (unknown fields refused);
 * response schemas document exactly what the mappers in views.ts produce.
 */
import { z } from '@hono/zod-openapi'
import { PullBody } from './pull-schemas.js'
import { MAX_QUANTITY } from '../domain/quantity.js'
import { isSku, SKU_MAX_LENGTH } from '../domain/sku.js'
import { MAX_RESERVATION_TTL_SECONDS } from '../domain/reservation.js'
import { MAX_BULK_ITEMS } from '../service/bulk-sync.js'
import { MAX_HISTORY_LIMIT } from '../service/history.js'

// Free-text identifiers (source, reference ids) travel into logs and CSV: no control characters.
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/
const NO_CONTROL_BUT_NEWLINES = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/

export const SkuSchema = z
  .string()
  .max(SKU_MAX_LENGTH)
  .refine(isSku, 'may hold only letters, digits and . _ : # + - and must start with a letter or digit')
  .openapi({ example: 'TEE-001-M', description: 'Letters, digits and . _ : # + - ; at most 100 characters' })
export const WarehouseIdSchema = z.number().int().positive().max(2_147_483_647).openapi({ example: 1 })
const Label = (max: number) => z.string().min(1).max(max).regex(NO_CONTROL, 'must not contain control characters')
const Notes = z.string().max(2000).regex(NO_CONTROL_BUT_NEWLINES, 'must not contain control characters')
const Instant = z.iso.datetime({ offset: true }).openapi({ example: '2026-11-25T10:00:00Z' })
const Quantity = z.number().int().min(0).max(MAX_QUANTITY)
const ProductIdSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)

export const StockUpdateBody = z
  .strictObject({
    sku: SkuSchema,
    warehouse_id: WarehouseIdSchema,
    quantity: Quantity.openapi({ description: 'Units moved (sale, restock: at least 1), or the absolute count (adjustment, sync)' }),
    change_type: z.string().max(40).openapi({ description: 'sale | restock | adjustment | sync (the seed\u2019s deduction and addition are accepted as sale and restock)', example: 'sale' }),
    source: Label(100).optional().openapi({ example: 'woocommerce' }),
    reference_id: Label(100).optional().openapi({ example: 'order-1042' }),
    notes: Notes.optional(),
    observed_at: Instant.optional().openapi({ description: 'For sync: when the count was taken. A count older than the newest applied is recorded as stale.' }),
    expected_on_hand: z.number().int().min(-MAX_QUANTITY).max(MAX_QUANTITY).optional().openapi({ description: 'Compare-and-set: refuse with 409 unless on hand is exactly this' }),
    expected_version: z.number().int().min(0).max(2_147_483_647).optional().openapi({ description: 'Compare-and-set on the level version' }),
  })
  .openapi('StockUpdate')

export const BulkSyncBody = z
  .strictObject({
    items: z
      .array(z.unknown().openapi({ type: 'object', properties: { sku: { type: 'string' }, warehouse_id: { type: 'integer' }, quantity: { type: 'integer' } } }))
      .min(1)
      .max(MAX_BULK_ITEMS)
      .openapi({ description: `Up to ${MAX_BULK_ITEMS} {sku, warehouse_id, quantity}; each is validated on its own` }),
    source: Label(100).optional(),
    reference_id: Label(100).optional(),
    observed_at: Instant.optional(),
  })
  .openapi('BulkSync')

export const TransferBody = z
  .strictObject({
    sku: SkuSchema,
    from_warehouse_id: WarehouseIdSchema,
    to_warehouse_id: WarehouseIdSchema,
    quantity: Quantity.min(1),
    source: Label(100).optional(),
    reference_id: Label(100).optional(),
    notes: Notes.optional(),
  })
  .openapi('Transfer')

export const ReservationBody = z
  .strictObject({
    sku: SkuSchema,
    quantity: Quantity.min(1),
    warehouse_id: WarehouseIdSchema.optional().openapi({ description: 'Omit to allocate across active warehouses by priority' }),
    ttl_seconds: z.number().int().min(1).max(MAX_RESERVATION_TTL_SECONDS).optional().openapi({ description: 'Default 900 (15 minutes)' }),
    source: Label(100).optional(),
    reference_id: Label(100).optional(),
    notes: Notes.optional(),
  })
  .openapi('ReservationRequest')

export const WarehouseBody = z
  .strictObject({
    code: z.string().min(1).max(50).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'may hold only letters, digits and . _ -'),
    name: Label(200),
    location: Label(500).nullable().optional(),
    priority: z.number().int().min(0).max(1_000_000).optional().openapi({ description: 'Lower is allocated first; default 1' }),
    active: z.boolean().optional(),
    // The seed's shorthand for a pull source (#14): GET {api_endpoint}/inventory with api_key as a bearer token.
    api_endpoint: z.string().min(1).max(2000).optional().openapi({ description: "The seed's pull shorthand: GET {api_endpoint}/inventory every 15 minutes" }),
    api_key: z.string().min(1).max(2000).optional().openapi({ description: 'Bearer token for api_endpoint; stored encrypted, never returned' }),
  })
  .openapi('WarehouseInput')
export const WarehousePatchBody = WarehouseBody.partial()
  .extend({ pull: PullBody.nullable().optional().openapi({ description: 'Set or replace the pull source; null removes it' }) })
  .openapi('WarehousePatch')

export const ProductBody = z
  .strictObject({
    sku: SkuSchema,
    product_id: ProductIdSchema.openapi({ description: 'The store product id, or the variation id for a variation' }),
    parent_id: ProductIdSchema.nullable().optional().openapi({ description: 'For a variation: the parent product id' }),
    name: Label(200).nullable().optional(),
    backorders: z.boolean().optional(),
    safety_stock: Quantity.optional(),
    low_stock_threshold: Quantity.optional(),
  })
  .openapi('ProductInput')
export const ProductPatchBody = ProductBody.omit({ sku: true }).partial().openapi('ProductPatch')

export const SkuParam = z.object({ sku: SkuSchema.openapi({ param: { name: 'sku', in: 'path' } }) })
export const IdParam = z.object({ id: z.string().min(1).max(40).regex(/^[A-Za-z0-9_]+$/).openapi({ param: { name: 'id', in: 'path' } }) })
export const WarehouseIdParam = z.object({ id: z.coerce.number().int().positive().max(2_147_483_647).openapi({ param: { name: 'id', in: 'path' } }) })
export const ProductIdParam = z.object({ product_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).openapi({ param: { name: 'product_id', in: 'path' } }) })

export const StockQuery = z.strictObject({
  warehouse_id: z.coerce.number().int().min(0).max(2_147_483_647).optional().openapi({ description: 'Absent or 0: totals plus every warehouse' }),
})
export const BatchStockQuery = z.strictObject({
  skus: z.string().min(1).max(60_000).openapi({ description: 'Comma-separated, up to 500', example: 'TEE-001-M,MUG-002' }),
  warehouse_id: z.coerce.number().int().min(0).max(2_147_483_647).optional(),
})
export const HistoryQuery = z.strictObject({
  sku: SkuSchema.optional(),
  warehouse_id: z.coerce.number().int().positive().max(2_147_483_647).optional(),
  change_type: z.string().max(200).optional().openapi({ description: 'One or more change types, comma-separated' }),
  from: Instant.optional(),
  to: Instant.optional(),
  cursor: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_HISTORY_LIMIT).optional(),
})
export const ProductListQuery = z.strictObject({
  search: z.string().min(1).max(100).regex(NO_CONTROL, 'must not contain control characters').optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
})

// ---- responses ----

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    code: z.string(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ pointer: z.string(), message: z.string() })).optional(),
  })
  .catchall(z.unknown())
  .openapi('Problem')

export const LevelSchema = z
  .object({
    warehouse_id: z.number().int(),
    warehouse_code: z.string().nullable(),
    is_warehouse_active: z.boolean(),
    on_hand: z.number().int(),
    reserved: z.number().int(),
    safety_stock: z.number().int(),
    available: z.number().int(),
    low_stock_threshold: z.number().int(),
    is_low_stock: z.boolean(),
    version: z.number().int(),
    last_counted_at: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .openapi('StockLevel')

export const StockSchema = z
  .object({
    sku: z.string(),
    product_id: z.number().int(),
    parent_id: z.number().int().nullable(),
    backorders: z.boolean(),
    total_stock: z.number().int(),
    total_reserved: z.number().int(),
    total_available: z.number().int(),
    warehouse_ids: z.string().openapi({ description: 'Seed compatibility: comma-separated warehouse ids' }),
    warehouses: z.array(LevelSchema),
    warehouse_id: z.number().int().optional(),
    current_stock: z.number().int().optional().openapi({ description: 'Seed compatibility (single warehouse): on hand' }),
    reserved_stock: z.number().int().optional(),
    available_stock: z.number().int().optional(),
    low_stock_threshold: z.number().int().optional(),
    last_synced: z.string().nullable().optional(),
  })
  .openapi('Stock')

export const EntrySchema = z
  .object({
    id: z.number().int(),
    sku: z.string(),
    product_id: z.number().int(),
    warehouse_id: z.number().int(),
    change_type: z.string(),
    status: z.enum(['applied', 'stale']),
    quantity: z.number().int(),
    delta: z.number().int().openapi({ description: 'Change in on hand' }),
    previous_stock: z.number().int(),
    new_stock: z.number().int(),
    reserved_before: z.number().int(),
    reserved_after: z.number().int(),
    version: z.number().int(),
    source: z.string(),
    reference_id: z.string().nullable(),
    reservation_id: z.string().nullable(),
    actor: z.string(),
    notes: z.string().nullable(),
    observed_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('LedgerEntry')

export const MovementSchema = EntrySchema.extend({ available: z.number().int(), reserved: z.number().int(), level: LevelSchema }).openapi('Movement')

export const BulkItemSchema = z
  .object({
    index: z.number().int(),
    sku: z.string().nullable(),
    warehouse_id: z.number().int().nullable(),
    status: z.enum(['applied', 'stale', 'rejected']),
    previous_stock: z.number().int().optional(),
    new_stock: z.number().int().optional(),
    movement_id: z.number().int().nullable().optional(),
    code: z.string().optional(),
    detail: z.string().optional(),
  })
  .openapi('BulkSyncItemResult')

export const ReservationSchema = z
  .object({
    id: z.string(),
    sku: z.string(),
    quantity: z.number().int(),
    status: z.enum(['active', 'committed', 'released', 'expired']),
    lines: z.array(z.object({ warehouse_id: z.number().int(), quantity: z.number().int() })),
    expires_at: z.string(),
    reference_id: z.string().nullable(),
    source: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    allocation: z.array(z.string()).optional(),
  })
  .openapi('Reservation')

export const WarehouseSchema = z
  .object({
    id: z.number().int(),
    code: z.string(),
    name: z.string(),
    location: z.string().nullable(),
    priority: z.number().int(),
    active: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Warehouse')

export const ProductSchema = z
  .object({
    sku: z.string(),
    product_id: z.number().int(),
    parent_id: z.number().int().nullable(),
    name: z.string().nullable(),
    backorders: z.boolean(),
    safety_stock: z.number().int(),
    low_stock_threshold: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Product')

/** Every success body: `{ success: true, data }`, the seed's shape, kept for all routes alike. */
export function envelope<T extends z.ZodTypeAny, E extends z.ZodRawShape = Record<never, never>>(data: T, extra?: E) {
  return z.object({ success: z.literal(true), data, ...((extra ?? {}) as E) })
}
