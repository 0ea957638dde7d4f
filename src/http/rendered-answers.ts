/**
 * @module http/rendered-answers: stock read answers kept as JSON text, given again while nothing
 * they depend on has changed (service/read-generation.ts).
 *
 * A read of one SKU spent most of the service's own CPU on the query, parsing its levels, building
 * the view and JSON.stringify; a read of 50 SKUs did each of those 50 times. Readers ask for the
 * same SKUs again and again between writes, so each SKU's `data` element is kept as text, keyed by
 * SKU and warehouse filter, and answers are put together from the texts.
 *
 * Every entry belongs to one generation. A request takes the current generation before it reads
 * anything; when it differs from the entries', they are all dropped (any write, local or from
 * another connection, may have changed any of them). What a request read is kept only while its
 * generation is still the current one, so a read that raced a write is never kept under the
 * generation that follows the write. Read-your-writes follows: a write answered before a read
 * starts has moved the generation, so that read misses and goes to the database.
 */
import type { AppDeps } from './env.js'
import { readGeneration } from '../service/read-generation.js'

/** Bound on the kept text (characters; the answers are ASCII JSON, so about bytes). */
const MAX_KEPT_CHARS = 16 * 1024 * 1024

export class RenderedAnswers {
  readonly #deps: AppDeps
  #generation: string | null = null
  #entries = new Map<string, string>()
  #chars = 0

  constructor(deps: AppDeps) {
    this.#deps = deps
  }

  /** The generation to read under, or null when nothing may be reused now (and nothing kept). */
  begin(): string | null {
    const g = readGeneration(this.#deps)
    if (g !== null && g !== this.#generation) {
      this.#entries = new Map()
      this.#chars = 0
      this.#generation = g
    }
    return g
  }

  get(generation: string, key: string): string | undefined {
    return generation === this.#generation ? this.#entries.get(key) : undefined
  }

  keep(generation: string, key: string, json: string): void {
    if (generation !== this.#generation) return
    if (this.#chars + json.length > MAX_KEPT_CHARS) {
      this.#entries = new Map()
      this.#chars = 0
    }
    this.#entries.set(key, json)
    this.#chars += json.length
  }
}

/** The key of one SKU's answer under a warehouse filter (none: all warehouses). */
export const answerKey = (sku: string, warehouseId: number | undefined) => (warehouseId === undefined ? sku : `${sku}\u0000${warehouseId}`)
