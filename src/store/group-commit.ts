/**
 * @module store/group-commit: SQLite transactions that arrive together commit together.
 *
 * SQLite has one writer at a time, and the service already runs every write transaction on one
 * connection, one after another. What each of them pays on its own is the commit: BEGIN, then at
 * COMMIT the WAL frames of every page it touched (level, ledger, outbox, product and their
 * indexes), which the next transaction writes again for the same pages. Profiling the movement
 * path put BEGIN + COMMIT at about a third of SQLite's share of a write.
 *
 * So the transactions queued while one batch runs share it: one BEGIN, then each unit of work
 * under its own SAVEPOINT (released when it succeeds, rolled back to when it throws, so a refused
 * movement undoes only itself and its neighbours go on), then one COMMIT. A unit's caller hears
 * of its success only after that COMMIT: durability is exactly that of a transaction of its own.
 * A refused unit changed nothing, so its error is passed on at once.
 *
 * The batch closes when nothing more is queued after the event loop has had one turn to take in
 * requests that arrived together (setImmediate), or at a bound on units or time, so a stream of
 * writes cannot hold answers back indefinitely.
 */
import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from './schema.js'

export interface GroupCommitOptions {
  /** Most units per transaction. */
  readonly maxUnits?: number
  /** Once a batch has run this long, it commits with what it has. */
  readonly maxBatchMs?: number
}

type Work<T> = (trx: Transaction<Database>) => Promise<T>

interface Unit {
  readonly work: Work<unknown>
  readonly resolve: (v: unknown) => void
  readonly reject: (e: unknown) => void
}

const SAVEPOINT = sql`savepoint unit`
const RELEASE = sql`release savepoint unit`
const ROLLBACK_TO = sql`rollback to savepoint unit`
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

export class GroupCommitter {
  readonly #db: Kysely<Database>
  readonly #maxUnits: number
  readonly #maxBatchMs: number
  #queue: Unit[] = []
  #running = false

  constructor(db: Kysely<Database>, options: GroupCommitOptions = {}) {
    this.#db = db
    this.#maxUnits = options.maxUnits ?? 128
    this.#maxBatchMs = options.maxBatchMs ?? 10
  }

  /** Run `work` in the next shared transaction; resolves with its result once that transaction has committed. */
  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work: work as Work<unknown>, resolve: resolve as (v: unknown) => void, reject })
      if (!this.#running) void this.#drain()
    })
  }

  async #drain(): Promise<void> {
    this.#running = true
    try {
      while (this.#queue.length > 0) await this.#batch()
    } finally {
      this.#running = false
    }
  }

  async #batch(): Promise<void> {
    let trx: Awaited<ReturnType<ReturnType<Kysely<Database>['startTransaction']>['execute']>>
    try {
      trx = await this.#db.startTransaction().execute()
    } catch (e) {
      // Could not even begin (database gone): every queued unit hears why.
      for (const u of this.#queue.splice(0)) u.reject(e)
      return
    }
    const done: Array<{ unit: Unit; value: unknown }> = []
    const started = performance.now()
    let units = 0
    let current: Unit | undefined
    try {
      for (;;) {
        const unit = (current = this.#queue.shift())
        if (unit === undefined) {
          // Let requests that arrived in this turn of the event loop join before committing.
          if (units >= this.#maxUnits || performance.now() - started >= this.#maxBatchMs) break
          await nextTurn()
          if (this.#queue.length === 0) break
          continue
        }
        units++
        await SAVEPOINT.execute(trx)
        let value: unknown
        try {
          value = await unit.work(trx)
        } catch (e) {
          // Undo this unit only. If SQLite already rolled the whole transaction back (a full disk,
          // an I/O error), this throws too and the batch fails below.
          await ROLLBACK_TO.execute(trx)
          await RELEASE.execute(trx)
          current = undefined
          unit.reject(e)
          continue
        }
        await RELEASE.execute(trx)
        current = undefined
        done.push({ unit, value })
        if (units >= this.#maxUnits || performance.now() - started >= this.#maxBatchMs) break
      }
      await trx.commit().execute()
    } catch (e) {
      await trx.rollback().execute().catch(() => {})
      current?.reject(e)
      for (const d of done) d.unit.reject(e)
      return
    }
    for (const d of done) d.unit.resolve(d.value)
  }
}
