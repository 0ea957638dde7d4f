/**
 * @module store/sqlite-checkpointer: SQLite WAL checkpoints on a worker thread.
 *
 * better-sqlite3 is synchronous, so SQLite's automatic checkpoint (every 1,000 WAL pages) copied
 * pages back into the database file and fsynced it on the event loop, inside whichever commit
 * crossed the threshold: every request waiting behind it stalled. Here a worker thread with its own
 * connection runs PASSIVE checkpoints (which never block writers or readers) five times a second,
 * and the serving connection checkpoints only at a ten times higher bound. If the worker fails,
 * the serving connection goes back to SQLite's default threshold.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type SQLite from 'better-sqlite3'

/** SQLite's own default threshold, in pages; restored on the serving connection if the worker fails. */
const AUTO_CHECKPOINT_PAGES = 1000

// CommonJS run by the worker (eval: no file to resolve, whether the service runs from .ts or .js).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 5000')
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message || e) })
  }
}, workerData.intervalMs)
parentPort.on('message', (m) => {
  if (m !== 'stop') return
  clearInterval(timer)
  try { db.close() } catch {}
  parentPort.close()
})
`

export interface Checkpointer {
  stop(): Promise<void>
}

/**
 * The serving connection still checkpoints when the WAL passes this many pages (~40 MiB). Under
 * steady writes a passive checkpoint never finds the whole WAL copied, so the WAL would never
 * start over; this bound lets the writer finish the job (the worker has copied nearly every frame
 * by then, so it is quick) and restart the WAL. A worker that checkpointed with RESTART instead
 * would take the write lock and fail the serving connection's open transactions with SQLITE_BUSY.
 */
const WRITER_CHECKPOINT_PAGES = 10_000

export function startCheckpointer(sqlite: SQLite.Database, file: string, intervalMs = 200): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  sqlite.pragma(`wal_autocheckpoint = ${WRITER_CHECKPOINT_PAGES}`)
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, intervalMs } })
  let failed = false
  const fallBack = () => {
    if (failed || !sqlite.open) return
    failed = true
    sqlite.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`)
  }
  worker.on('message', (m: { error?: string }) => {
    // A busy checkpoint is retried on the next tick; any other failure hands the job back.
    if (m.error && !/busy|locked/i.test(m.error)) fallBack()
  })
  worker.on('error', fallBack)
  worker.on('exit', fallBack)
  // The process may end while the worker still runs (tests, CLI commands that never close).
  worker.unref()
  return {
    async stop() {
      failed = true
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
      // Held until it has gone: a process with nothing else to do must not exit halfway through a close.
      worker.ref()
      worker.postMessage('stop')
      let timer: NodeJS.Timeout | undefined
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))])
      clearTimeout(timer)
      await worker.terminate()
    },
  }
}
