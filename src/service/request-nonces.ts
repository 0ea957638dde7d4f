/** @module service/request-nonces: the database as the nonce store (replay protection shared by every node). */
import { claimRequestNonce, pruneRequestNonces } from '../store/request-nonce-repo.js'
import type { ServiceDeps } from './deps.js'

const PRUNE_EVERY_MS = 60_000

/**
 * Nonces in the `request_nonce` table: one INSERT per signed request (an upsert that takes over an
 * expired row). Expired rows are deleted at most once a minute per node, in the background.
 */
export class DatabaseNonceStore {
  readonly #deps: ServiceDeps
  #nextPruneAt = 0

  constructor(deps: ServiceDeps) {
    this.#deps = deps
  }

  async claim(keyId: string, nonce: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    if (nowMs >= this.#nextPruneAt) {
      this.#nextPruneAt = nowMs + PRUNE_EVERY_MS
      pruneRequestNonces(this.#deps.store.db, nowMs).catch((e: unknown) => this.#deps.log.warn({ err: e }, 'could not prune request nonces'))
    }
    return claimRequestNonce(this.#deps.store.db, keyId, nonce, expiresAtMs, nowMs)
  }
}
