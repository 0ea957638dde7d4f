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

/**
 * The connection's own statements for the batch's bookkeeping (BEGIN, SAVEPOINT, …), run directly
 * instead of through Kysely: while a batch runs it holds the one connection, so nothing else can
 * interleave, and each unit saves two round trips through Kysely's executor.
 */
export type DirectStatement = (text: 'begin immediate' | 'commit' | 'rollback' | 'savepoint unit' | 'release savepoint unit' | 'rollback to savepoint unit') => void

export interface GroupCommitOptions {
  /** Run the bookkeeping statements on the raw connection (see DirectStatement); default: through Kysely. */
  readonly direct?: DirectStatement
  /**
   * Called with the connection when a batch takes it; the returned function when the batch lets
   * it go. While held, the units' statements may run on it directly (store/compiled.ts).
   */
  readonly onHold?: (conn: object) => () => void
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

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

export class GroupCommitter {
  readonly #db: Kysely<Database>
  readonly #maxUnits: number
  readonly #maxBatchMs: number
  readonly #direct: DirectStatement | undefined
  readonly #onHold: ((conn: object) => () => void) | undefined
  #queue: Unit[] = []
  #running = false

  constructor(db: Kysely<Database>, options: GroupCommitOptions = {}) {
    this.#db = db
    this.#maxUnits = options.maxUnits ?? 128
    this.#maxBatchMs = options.maxBatchMs ?? 10
    this.#direct = options.direct
    this.#onHold = options.onHold
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
    const done: Array<{ unit: Unit; value: unknown }> = []
    let current: Unit | undefined
    let units = 0
    try {
      await this.#db.connection().execute(async (conn) => {
        // The units only run queries on it; none of them opens a transaction of its own.
        const trx = conn as unknown as Transaction<Database>
        const direct = this.#direct
        const run = direct ? async (text: Parameters<DirectStatement>[0]) => direct(text) : async (text: Parameters<DirectStatement>[0]) => void (await sql.raw(text).execute(conn))
        // IMMEDIATE takes the write lock now (waiting up to busy_timeout for another process):
        // a deferred BEGIN would fail the whole batch with SQLITE_BUSY if another connection
        // wrote between the batch's first read and its first write.
        await run('begin immediate')
        const letGo = this.#onHold?.(conn)
        try {
          const started = performance.now()
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
            await run('savepoint unit')
            let value: unknown
            try {
              value = await unit.work(trx)
            } catch (e) {
              // Undo this unit only. If SQLite already rolled the whole transaction back (a full
              // disk, an I/O error), this throws too and the batch fails below.
              await run('rollback to savepoint unit')
              await run('release savepoint unit')
              current = undefined
              unit.reject(e)
              continue
            }
            await run('release savepoint unit')
            current = undefined
            done.push({ unit, value })
            if (units >= this.#maxUnits || performance.now() - started >= this.#maxBatchMs) break
          }
          await run('commit')
        } catch (e) {
          await run('rollback').catch(() => {})
          throw e
        } finally {
          letGo?.()
        }
      })
    } catch (e) {
      // Nothing of this batch committed: its units hear why. When not even BEGIN went through
      // (database locked past busy_timeout, or gone), every unit still queued hears it too.
      current?.reject(e)
      for (const d of done) d.unit.reject(e)
      if (units === 0) for (const u of this.#queue.splice(0)) u.reject(e)
      return
    }
    for (const d of done) d.unit.resolve(d.value)
  }
}
