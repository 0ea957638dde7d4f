/**
 * @module service/inbound-webhooks: what happens to a provider webhook once its signature checked
 * out (#5). Every verified delivery is recorded; the seed's warehouse_system_a events are applied
 * through the ordinary movement services (so idempotency, the ledger and the outbox all apply);
 * other providers' payloads are stored and acknowledged until their mapping is built.
 */
import { DomainError } from '../domain/errors.js'
import { insertInboundWebhook, type NewInboundWebhook } from '../store/inbound-webhook-repo.js'
import { findWarehouseByCode } from '../store/warehouse-repo.js'
import type { ServiceDeps } from './deps.js'
import { inboundWebhooksTotal } from '../observability/metrics.js'

export type InboundStatus = NewInboundWebhook['status']

/** Record a verified delivery; returns its id (`whk_…`). */
export async function recordInboundWebhook(deps: ServiceDeps, provider: string, eventType: string | null, status: InboundStatus, body: string, outcome: unknown): Promise<string> {
  const id = deps.ids.next('whk')
  await insertInboundWebhook(deps.store.db, {
    id,
    provider,
    eventType,
    status,
    body,
    outcome: outcome === undefined ? null : JSON.stringify(outcome).slice(0, 10_000),
    receivedAt: deps.clock.now(),
  })
  // Only verified deliveries get here, so the provider is one configured (a bounded label).
  inboundWebhooksTotal.inc({ provider: provider.slice(0, 40), result: status })
  return id
}

/** Providers name warehouses by code; the movement services take ids. */
export async function warehouseIdsByCode(deps: ServiceDeps, codes: ReadonlyArray<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const missing: string[] = []
  for (const code of new Set(codes)) {
    const w = await findWarehouseByCode(deps.store.db, code)
    if (w) out.set(code, w.id)
    else missing.push(code)
  }
  if (missing.length > 0) {
    throw new DomainError('warehouse_not_found', `No warehouse has code ${missing.slice(0, 10).join(', ')}`, { warehouse_codes: missing.slice(0, 100) })
  }
  return out
}
