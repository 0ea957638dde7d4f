/** @module domain/errors: the one catalog of error codes, their HTTP status and title. */

/** Every stable error code the service can answer with. Documented in docs/errors.md (kept honest by a test). */
export const ERROR_CATALOG = Object.freeze({
  validation_failed: { status: 422, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The body is not valid JSON' },
  unsupported_media_type: { status: 415, title: 'The body must be application/json' },
  payload_too_large: { status: 413, title: 'The body is larger than this route accepts' },
  unknown_change_type: { status: 422, title: 'The change type is not one this service knows' },
  sku_not_found: { status: 404, title: 'No product is registered with this SKU' },
  product_not_found: { status: 404, title: 'No product has this product id' },
  warehouse_not_found: { status: 404, title: 'No warehouse has this id' },
  api_key_not_found: { status: 404, title: 'No API key has this id' },
  subscription_not_found: { status: 404, title: 'No subscription has this id' },
  dead_letter_not_found: { status: 404, title: 'No dead letter has this id' },
  job_not_found: { status: 404, title: 'No job has this id' },
  reservation_not_found: { status: 404, title: 'No reservation has this id' },
  route_not_found: { status: 404, title: 'No such route' },
  method_not_allowed: { status: 405, title: 'This route does not accept that method' },
  request_headers_too_large: { status: 431, title: 'The request headers are too large' },
  malformed_request: { status: 400, title: 'The request is not valid HTTP' },
  insufficient_stock: { status: 409, title: 'Not enough available stock' },
  version_conflict: { status: 409, title: 'The stock changed since the caller last read it' },
  reservation_not_active: { status: 409, title: 'The reservation is no longer active' },
  reservation_expired: { status: 409, title: 'The reservation has expired' },
  dead_letter_replayed: { status: 409, title: 'The dead letter was already replayed' },
  dead_letter_target_gone: { status: 409, title: 'The subscription or store of the dead letter no longer exists' },
  already_exists: { status: 409, title: 'A record with this identity already exists' },
  // Stock data rules (#12).
  warehouse_inactive: { status: 409, title: 'The warehouse is inactive and takes no sales or reservations' },
  product_id_taken: { status: 409, title: 'Another SKU is already mapped to this product id' },
  level_out_of_range: { status: 422, title: 'The movement would take the level beyond the largest figure allowed' },
  same_warehouse: { status: 422, title: 'A transfer needs two different warehouses' },
  idempotency_key_reused: { status: 422, title: 'This idempotency key was used with a different request' },
  idempotency_key_in_use: { status: 409, title: 'A request with this idempotency key is still in progress' },
  unauthenticated: { status: 401, title: 'A valid API key is required' },
  forbidden: { status: 403, title: 'The API key lacks the scope this route needs' },
  // Security (#5): credentials, signed requests, webhooks, warehouse restrictions, rate limits.
  invalid_token: { status: 401, title: 'The bearer token is not valid' },
  signature_required: { status: 401, title: 'This API key must sign its requests' },
  invalid_signature: { status: 401, title: 'The request signature does not match' },
  invalid_timestamp: { status: 401, title: 'The request timestamp is missing or outside the allowed window' },
  nonce_reused: { status: 401, title: 'This nonce was already used; the request looks like a replay' },
  webhook_not_configured: { status: 401, title: 'No webhook secret is configured for this provider' },
  jwks_unavailable: { status: 503, title: 'The keys that verify bearer tokens cannot be fetched right now' },
  warehouse_forbidden: { status: 403, title: 'The credential may not write to this warehouse' },
  rate_limited: { status: 429, title: 'Too many requests; slow down' },
  // WooCommerce connector (#7).
  store_not_found: { status: 404, title: 'No WooCommerce store has this id or name' },
  store_request_failed: { status: 502, title: 'The WooCommerce store could not be reached or refused the request' },
  // Alerts and observability (#15).
  alert_not_found: { status: 404, title: 'No alert has this id' },
  alert_closed: { status: 409, title: 'The alert is closed' },
  alert_channel_not_found: { status: 404, title: 'No alert channel has this id or name' },
  alert_channel_failed: { status: 502, title: 'The alert channel did not accept the test message' },
  metrics_unauthorized: { status: 401, title: 'The metrics bearer token is missing or wrong' },
  // Supply side (#14): inbound providers and their mappings.
  provider_not_found: { status: 404, title: 'No provider has this name' },
  mapping_failed: { status: 422, title: 'The provider mapping could not turn the payload into movements' },
  // Warehouse pulls (#14).
  pull_not_configured: { status: 404, title: 'This warehouse has no pull source' },
  pull_in_progress: { status: 409, title: 'A pull of this warehouse is already running' },
  pull_failed: { status: 502, title: 'The warehouse API could not be read or its answer could not be mapped' },
  service_unavailable: { status: 503, title: 'The service cannot reach its database' },
  internal_error: { status: 500, title: 'An unexpected error occurred' },
} as const)

export type ErrorCode = keyof typeof ERROR_CATALOG

/** Structured extension fields a problem document may carry beside the standard ones. */
export type ErrorDetails = Readonly<Record<string, unknown>>

/** Base of every error the domain and the services throw; HTTP turns it into problem+json. */
export class DomainError extends Error {
  readonly code: ErrorCode
  readonly details: ErrorDetails

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DomainError'
    this.code = code
    this.details = details
  }
}

/** One failing field of a validation error, pointed at with a JSON pointer (RFC 6901). */
export interface FieldError {
  readonly pointer: string
  readonly message: string
}

export class ValidationError extends DomainError {
  readonly errors: ReadonlyArray<FieldError>

  constructor(errors: ReadonlyArray<FieldError>, code: ErrorCode = 'validation_failed') {
    super(code, errors.map((e) => `${e.pointer || '/'}: ${e.message}`).join('; '), { errors })
    this.name = 'ValidationError'
    this.errors = errors
  }
}

export function invalid(pointer: string, message: string): ValidationError {
  return new ValidationError([{ pointer, message }])
}

export function insufficientStock(sku: string, warehouseId: number | null, requested: number, available: number): DomainError {
  const where = warehouseId === null ? 'across active warehouses' : `in warehouse ${warehouseId}`
  return new DomainError('insufficient_stock', `Requested ${requested} of ${sku} but only ${available} available ${where}`, {
    sku,
    warehouse_id: warehouseId,
    requested,
    available,
  })
}

/** Narrow an unknown thrown value to an Error, keeping the original as the cause. */
export function coerceError(e: unknown): Error {
  if (e instanceof Error) return e
  return new Error(typeof e === 'string' ? e : 'Non-error thrown', { cause: e })
}
