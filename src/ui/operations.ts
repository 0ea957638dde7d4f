/**
 * @module ui/operations: long store operations (reconcile, sync, mapping) started from the UI run
 * in the background of this process; the page polls their progress. Progress lives in memory on
 * the node that runs the work; the outcome of a reconcile is also stored as a run (see Stores).
 */
import { randomBytes } from 'node:crypto'
import { html, notice, num, type Html } from './html.js'

interface Operation {
  readonly id: string
  readonly label: string
  readonly keyId: string
  done: number
  total: number
  state: 'running' | 'done' | 'failed'
  outcome: Html | null
  readonly startedAt: number
}

const operations = new Map<string, Operation>()
const KEEP = 200

export type Progress = (done: number, total: number) => void

/** Start `work` now; its outcome (or failure) is rendered by `describe`. */
export function startOperation(label: string, keyId: string, now: number, work: (progress: Progress) => Promise<Html>, describeFailure: (e: unknown) => Html): Operation {
  const op: Operation = { id: randomBytes(12).toString('base64url'), label, keyId, done: 0, total: 0, state: 'running', outcome: null, startedAt: now }
  operations.set(op.id, op)
  if (operations.size > KEEP) operations.delete(operations.keys().next().value as string)
  work((done, total) => {
    op.done = done
    op.total = total
  }).then(
    (outcome) => {
      op.state = 'done'
      op.outcome = outcome
    },
    (e: unknown) => {
      op.state = 'failed'
      try {
        op.outcome = describeFailure(e)
      } catch {
        op.outcome = notice('bad', 'The operation failed; the error is in the server log.')
      }
    },
  )
  return op
}

/** An operation is visible only to the session's key that started it. */
export function findOperation(id: string, keyId: string): Operation | undefined {
  const op = operations.get(id)
  return op && op.keyId === keyId ? op : undefined
}

export function renderOperation(op: Operation): Html {
  return op.state === 'running' ? renderProgress(`/admin/ops/${op.id}`, op.label, op.done, op.total) : renderOutcome(op.label, op.state, op.outcome ?? '')
}

/** A finished operation: its outcome, no more polling. */
export function renderOutcome(label: string, state: 'done' | 'failed', outcome: Html | string): Html {
  return html`<section id="op" class="card" data-op-state="${state}" aria-live="polite"><h2>${label}</h2>${outcome}</section>`
}

/** A running operation (in memory or a job): a progress bar the page polls at `pollPath`. */
export function renderProgress(pollPath: string, label: string, done: number, total: number): Html {
  const pct = total > 0 ? Math.round((done / total) * 100) : null
  return html`<section id="op" class="card" data-op-state="running" aria-live="polite" aria-busy="true" hx-get="${pollPath}" hx-trigger="every 500ms" hx-swap="outerHTML">
<h2>${label}</h2>
<label for="op-progress">${pct === null ? 'Starting…' : `${num(done)} of ${num(total)} (${pct} %)`}</label>
<progress id="op-progress" max="${total || 1}"${total > 0 ? html` value="${done}"` : ''}></progress>
</section>`
}
