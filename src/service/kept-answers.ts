/**
 * @module service/kept-answers: stock read answers kept as text (SQLite), given again until a
 * write may have changed them.
 *
 * A read of one SKU spent most of the service's own CPU on the query, parsing its levels, building
 * the view and serialising it; a read of 50 SKUs did each of those 50 times. Readers ask for the
 * same SKUs again and again between writes, so the answer for each SKU (and warehouse filter) is
 * kept as the text the HTTP layer rendered, and answers are put together from the texts.
 *
 * When a kept text is dropped (store/db.ts WriteWatch):
 * - a product or level row of its SKU written through this node's connection: that SKU's texts,
 *   at once, inside the writing statement (so before the write is answered);
 * - a warehouse row written through it, or a commit by any other connection (the CLI, a second
 *   server on the same file; `data_version`), or a reload of the warehouse list the texts carry
 *   codes from (service/warehouse-cache.ts): every text, at the next read.
 * A read takes `begin()` before it reads; what it read is kept only if none of the above happened
 * to its SKU since, so a read that raced a write never keeps the older figure. Read-your-writes
 * follows: a write answered before a read starts has dropped what that read would have found.
 * Writes that are rolled back drop texts too, which costs only a read.
 */
import type { ServiceDeps } from './deps.js'
import { warehouseGeneration } from './warehouse-cache.js'

/** Bound on the kept text (characters; the answers are ASCII JSON, so about bytes). */
const MAX_KEPT_CHARS = 16 * 1024 * 1024
/** Bound on the SKUs remembered as written while reads are in flight. */
const MAX_WRITTEN_SKUS = 100_000

export class KeptAnswers {
  readonly #deps: ServiceDeps
  /** SKU → warehouse filter ('' for all) → the rendered text. */
  #bySku = new Map<string, Map<string, string>>()
  #chars = 0
  /** Counts writes heard of; a read's begin() is the count when it started. */
  #seq = 0
  /** The count at the last event that dropped everything. */
  #allDroppedAt = 0
  /** The count at the last write of each SKU. */
  #writtenAt = new Map<string, number>()
  #foreign: number | null = null
  #warehouses: number | null = null
  /** Whether writes are being heard of; undefined until the first read (the tables exist by then). */
  #usable: boolean | undefined

  constructor(deps: ServiceDeps) {
    this.#deps = deps
    if (!deps.store.writeWatch) this.#usable = false
  }

  /**
   * Call before reading: the mark to keep what is then read under, or null when nothing may be
   * reused now (nothing kept, no write watch, a warehouse list due for reload).
   */
  begin(): number | null {
    if (this.#usable === undefined && this.#deps.store.writeWatch!.watch((table, sku) => this.#heard(table, sku))) this.#usable = true
    if (!this.#usable) return null
    const foreign = this.#deps.store.writeWatch!.foreignVersion()
    const warehouses = warehouseGeneration(this.#deps)
    if (foreign === null || warehouses === null) return null
    if (foreign !== this.#foreign || warehouses !== this.#warehouses) {
      this.#dropAll()
      this.#foreign = foreign
      this.#warehouses = warehouses
    }
    return this.#seq
  }

  /** A kept text; only after begin() in the same synchronous step, which dropped what it had to. */
  get(sku: string, warehouseId: number | undefined): string | undefined {
    return this.#bySku.get(sku)?.get(warehouseId === undefined ? '' : String(warehouseId))
  }

  /** Keep what was read after `mark = begin()`, unless its SKU may have changed since. */
  keep(mark: number, sku: string, warehouseId: number | undefined, text: string): void {
    if (!this.#usable || mark < this.#allDroppedAt || (this.#writtenAt.get(sku) ?? 0) > mark) return
    if (this.#chars + text.length > MAX_KEPT_CHARS) this.#dropAll()
    let texts = this.#bySku.get(sku)
    if (!texts) this.#bySku.set(sku, (texts = new Map()))
    const filter = warehouseId === undefined ? '' : String(warehouseId)
    this.#chars += text.length - (texts.get(filter)?.length ?? 0)
    texts.set(filter, text)
  }

  #heard(table: string, sku: string | null): void {
    try {
      const seq = ++this.#seq
      if (table === 'warehouse' || sku === null) return this.#dropAll()
      this.#forget(sku)
      if (this.#writtenAt.size >= MAX_WRITTEN_SKUS) this.#dropAll()
      else this.#writtenAt.set(sku, seq)
    } catch (e) {
      // Could not take note of a write: keep nothing from now on rather than risk an old figure.
      this.#usable = false
      this.#bySku = new Map()
      throw e
    }
  }

  /** Drop one SKU's texts, and their characters from the count the bound is kept by. */
  #forget(sku: string): void {
    const texts = this.#bySku.get(sku)
    if (!texts) return
    for (const t of texts.values()) this.#chars -= t.length
    this.#bySku.delete(sku)
  }

  #dropAll(): void {
    this.#allDroppedAt = ++this.#seq
    this.#bySku = new Map()
    this.#writtenAt = new Map()
    this.#chars = 0
  }
}
