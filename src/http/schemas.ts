/**
 * @module http/schemas: the wire format. Request schemas are strict (unknown fields refused);
 * response schemas document exactly what the mappers in views.ts produce.
 */
import { z } from '@hono/zod-openapi'
import { PullBody } from './pull-schemas.js'
import { MAX_QUANTITY } from '../domain/quantity.js'
import { SKU_MAX_LENGTH, SKU_RULE, skuProblem } from '../domain/sku.js'
import { MAX_RESERVATION_TTL_SECONDS } from '../domain/reservation.js'
import { MAX_BULK_ITEMS } from '../service/bulk-sync.js'
import { MAX_HISTORY_LIMIT } from '../service/history.js'
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, type Page } from '../service/paging.js'

// Free-text identifiers (source, reference ids) travel into logs and CSV: no control characters.
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/
const NO_CONTROL_BUT_NEWLINES = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/

// One rule for bodies, queries and (percent-encoded) paths: domain/sku.ts. Trimmed, then checked.
export const SkuSchema = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    const problem = skuProblem(v)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })
  .openapi({ example: 'TEE 001/M', description: `${SKU_RULE[0]!.toUpperCase()}${SKU_RULE.slice(1)} (surrounding spaces are trimmed); percent-encode it in a path`, maxLength: SKU_MAX_LENGTH })
export const WarehouseIdSchema = z.number().int().positive().max(2_147_483_647).openapi({ example: 1 })
export const Label = (max: number) => z.string().min(1).max(max).regex(NO_CONTROL, 'must not contain control characters')
const Notes = z.string().max(2000).regex(NO_CONTROL_BUT_NEWLINES, 'must not contain control characters')
const Instant = z.iso.datetime({ offset: true }).openapi({ example: '2026-11-25T10:00:00Z' })
const Quantity = z.number().int().min(0).max(MAX_QUANTITY)
/** Units moved: at least one (a separate schema, so a 0 and a −1 get the same single message). */
const Units = z.number().int().min(1).max(MAX_QUANTITY)
const ProductIdSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER)

/**
 * Whole numbers in paths and queries are decimal digits only: `0x10`, `1e3`, ` 16` and `16.0` are
 * refused rather than read as 16 (#12), and a word says it is not a number instead of "NaN".
 */
export const decimalInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d{1,16}$/, 'must be a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .openapi({ type: 'integer', minimum: min, maximum: max })

export const StockUpdateBody = z
  .strictObject({
    sku: SkuSchema,
    warehouse_id: WarehouseIdSchema,
    // Bounds depend on change_type (at least 1 for sale/restock, 0 for counts): checked with it, so a
    // negative and a zero restock get the same rule (#12).
    quantity: z.number().int().openapi({ description: 'Units moved (sale, restock: at least 1), or the absolute count (adjustment, sync: at least 0)', minimum: 0, maximum: MAX_QUANTITY }),
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
      .openapi({ description: `Up to ${MAX_BULK_ITEMS} {sku, warehouse_id, quantity}; each is validated on its own. quantity is the absolute count, at least 0, or below 0 for a SKU that allows backorders (units owed)` }),
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
    quantity: Units,
    source: Label(100).optional(),
    reference_id: Label(100).optional(),
    notes: Notes.optional(),
  })
  .openapi('Transfer')

export const ReservationBody = z
  .strictObject({
    sku: SkuSchema,
    quantity: Units,
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
export const WarehouseIdParam = z.object({ id: decimalInt(1, 2_147_483_647).openapi({ param: { name: 'id', in: 'path' } }) })
export const ProductIdParam = z.object({ product_id: decimalInt(1, Number.MAX_SAFE_INTEGER).openapi({ param: { name: 'product_id', in: 'path' } }) })

export const QueryBool = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true').openapi({ type: 'boolean' })
export const PageQuery = {
  cursor: z.string().max(400).optional().openapi({ description: 'The next_cursor of the previous page' }),
  limit: decimalInt(1, MAX_PAGE_LIMIT).optional().openapi({ description: `Items per page (default ${DEFAULT_PAGE_LIMIT}, at most ${MAX_PAGE_LIMIT})` }),
}
/** A paged list's body: the page, the cursor of the next one, and whether there is one. */
export function pagedEnvelope<T extends z.ZodTypeAny>(item: T) {
  return envelope(z.array(item), {
    next_cursor: z.string().nullable().openapi({ description: 'Pass as cursor for the next page; null on the last page' }),
    has_more: z.boolean(),
  })
}

/** A paged list's body from a service page (#12). */
export function pagedJson<T, U>(page: Page<T>, view: (t: T) => U) {
  return { success: true as const, data: page.items.map(view), next_cursor: page.nextCursor, has_more: page.nextCursor !== null }
}

export const StockQuery = z.strictObject({
  warehouse_id: decimalInt(0, 2_147_483_647).optional().openapi({ description: 'Absent or 0: totals plus every warehouse' }),
})
export const BatchStockQuery = z.strictObject({
  skus: z.string().min(1).max(60_000).optional().openapi({ description: 'Comma-separated, up to 500. Absent: list every level, paged, with the filters below', example: 'TEE-001-M,MUG-002' }),
  warehouse_id: decimalInt(0, 2_147_483_647).optional().openapi({ description: 'With skus: that warehouse only (0: all). Without: levels of that warehouse only' }),
  sku_prefix: z.string().min(1).max(100).optional().openapi({ description: 'Without skus: levels whose SKU starts with this' }),
  low_stock: QueryBool.optional().openapi({ description: 'Without skus: true lists only levels at or below their low-stock threshold' }),
  out_of_stock: QueryBool.optional().openapi({ description: 'Without skus: true lists only levels with nothing available' }),
  ...PageQuery,
})
export const HistoryQuery = z.strictObject({
  sku: SkuSchema.optional(),
  warehouse_id: decimalInt(1, 2_147_483_647).optional(),
  change_type: z.string().max(200).optional().openapi({ description: 'One or more change types, comma-separated' }),
  from: Instant.optional(),
  to: Instant.optional(),
  cursor: z.string().max(100).optional(),
  limit: decimalInt(1, MAX_HISTORY_LIMIT).optional(),
})
export const ProductListQuery = z.strictObject({
  search: z.string().min(1).max(100).regex(NO_CONTROL, 'must not contain control characters').optional(),
  cursor: z.string().max(200).optional(),
  limit: decimalInt(1, 500).optional(),
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

export const ListedLevelSchema = LevelSchema.extend({ sku: z.string() }).openapi('ListedStockLevel')

export const StockSchema = z
  .object({
    sku: z.string(),
    product_id: z.number().int(),
    parent_id: z.number().int().nullable(),
    backorders: z.boolean(),
    total_stock: z.number().int().openapi({ description: 'On hand summed over the warehouses totals_scope names' }),
    total_reserved: z.number().int(),
    total_available: z.number().int().openapi({ description: 'Available summed over those warehouses, each counting at least 0' }),
    totals_scope: z.enum(['all_warehouses', 'warehouse']).openapi({ description: 'What the totals cover: every warehouse, or (with ?warehouse_id=) that one warehouse only' }),
    warehouse_ids: z.string().openapi({ description: 'Seed compatibility: comma-separated warehouse ids (see warehouse_id_list)' }),
    warehouse_id_list: z.array(z.number().int()).openapi({ description: 'The warehouse ids of the levels below, as an array' }),
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
    status: z.enum(['applied', 'stale', 'unchanged']).openapi({ description: 'unchanged: a count equal to on hand, kept as history; no figure, version or event changes' }),
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
    status: z.enum(['applied', 'unchanged', 'stale', 'rejected']),
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
