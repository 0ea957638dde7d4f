/**
 * @module service/woocommerce-runtime: one WooCommerce connector per running hub (per EventBus),
 * shared by the server (which starts its queue processor and schedule) and the HTTP routes (which
 * hand it received webhooks), without threading it through every dependency list.
 */
import type { ServiceDeps } from './deps.js'
import type { EventBus } from './event-bus.js'
import { useStoreSealKey } from '../store/woo-repo.js'
import { WooConnector, type WooSettings } from './woocommerce.js'

const connectors = new WeakMap<EventBus, WooConnector>()

/** The connector of this hub; `settings` apply when it is first made (the server makes it first). */
export function connectorFor(deps: ServiceDeps, settings?: Partial<WooSettings> & { readonly sealKey?: Buffer | null }): WooConnector {
  let c = connectors.get(deps.events)
  if (settings?.sealKey !== undefined) useStoreSealKey(settings.sealKey)
  if (!c) {
    c = new WooConnector(deps, settings)
    connectors.set(deps.events, c)
  }
  return c
}

/** Forget this hub's connector (after stopping it). */
export function dropConnector(deps: ServiceDeps): void {
  connectors.delete(deps.events)
}
