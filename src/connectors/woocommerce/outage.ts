/**
 * @module connectors/woocommerce/outage: a store that cannot be reached (#12.15).
 *
 * When every request of a push round fails before the store answers (connection refused, reset,
 * timed out), the store is marked unhealthy and `unreachable_since` is set (alerting once, in the
 * log and for anything reading the store's health). Its failed pushes wait out their backoff as
 * usual, which after a few attempts is a minute or more; so while it is unreachable the store is
 * probed every few seconds with one cheap request, and the moment it answers it is marked
 * reachable, its waiting retries are made due and the delivery worker is woken: pushes resume
 * within seconds of the store coming back, not after the longest backoff.
 */
import type { ServiceDeps } from '../../service/deps.js'
import { expediteTarget } from '../../store/delivery-repo.js'
import * as repo from '../../store/woo-repo.js'
import type { WooStore } from '../../store/woo-repo.js'
import type { WooClient } from './client.js'

export interface OutageSettings {
  /** How often an unreachable store is probed. */
  readonly probeMs: number
}

export class OutageWatch {
  readonly #deps: ServiceDeps
  readonly #client: (store: WooStore) => WooClient
  readonly #o: OutageSettings
  readonly #probes = new Map<string, NodeJS.Timeout>()
  readonly #probing = new Set<string>()
  #stopped = false

  constructor(deps: ServiceDeps, client: (store: WooStore) => WooClient, o: OutageSettings) {
    this.#deps = deps
    this.#client = client
    this.#o = o
  }

  /** Every request of a round failed before the store answered. */
  async unreachable(store: WooStore, reason: string): Promise<void> {
    const now = this.#deps.clock.now()
    if (await repo.markUnreachable(this.#deps.store.db, store.id, `The store cannot be reached (${reason.slice(0, 200)})`, now)) {
      this.#deps.log.error({ store: store.name, store_id: store.id, reason }, 'ALERT: WooCommerce store unreachable; stock pushes wait and resume when it answers')
    }
    this.#watch(store.id)
  }

  /** The store answered a request: reachable again (the caller sets its health). */
  async answered(store: WooStore): Promise<void> {
    if (store.unreachableSince === null && !this.#probes.has(store.id)) return
    await this.#recovered(store.id, store.name, false)
  }

  #watch(storeId: string): void {
    if (this.#stopped || this.#probes.has(storeId)) return
    const timer = setInterval(() => void this.#probe(storeId), this.#o.probeMs)
    timer.unref()
    this.#probes.set(storeId, timer)
  }

  #unwatch(storeId: string): void {
    const t = this.#probes.get(storeId)
    if (t) clearInterval(t)
    this.#probes.delete(storeId)
  }

  async #probe(storeId: string): Promise<void> {
    if (this.#probing.has(storeId)) return
    this.#probing.add(storeId)
    try {
      const store = await repo.findStore(this.#deps.store.db, storeId)
      if (!store || store.unreachableSince === null) return this.#unwatch(storeId)
      // The cheapest request the API serves; any HTTP answer means the store is reachable.
      const res = await this.#client(store).request('GET', '/products', { query: { per_page: '1', _fields: 'id' } })
      // Healthy only if it also accepts our credentials; a refusal is for the next push to report.
      await this.#recovered(store.id, store.name, res.status === 200)
    } catch {
      // Still unreachable: try again at the next tick.
    } finally {
      this.#probing.delete(storeId)
    }
  }

  async #recovered(storeId: string, name: string, healthy: boolean): Promise<void> {
    this.#unwatch(storeId)
    const { store, clock, events, log } = this.#deps
    if (!(await repo.markReachable(store.db, storeId))) return
    if (healthy) await repo.setStoreHealth(store.db, storeId, 'ok', null, clock.now())
    const due = await expediteTarget(store.db, storeId, clock.now())
    log.info({ store: name, store_id: storeId, resumed: due }, 'WooCommerce store reachable again; its waiting pushes resume now')
    events.expect('deliveries')
    events.notify()
  }

  stop(): void {
    this.#stopped = true
    for (const id of [...this.#probes.keys()]) this.#unwatch(id)
  }
}
