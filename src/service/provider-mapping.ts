/**
 * @module service/provider-mapping: running a provider's JSONata mapping on a verified payload,
 * bounded in time, memory and output size.
 *
 * Mappings are code an admin writes, fed data a remote party sends, so evaluation is fenced twice:
 * - inside, jsonata's own guardrails (`timeout`, `stack`, `sequence`) stop loops, runaway
 *   recursion and huge ranges with an error that names the position in the expression;
 * - outside, the evaluation runs in a worker thread with a small heap (`resourceLimits`) and a
 *   wall-clock deadline: a native call the guardrails cannot interrupt (a backtracking `$match`)
 *   or an allocation bomb (`$a & $a` doubling) kills the worker, not the server. The worker is
 *   started once and reused (starting one costs ~50-200 ms here) and respawned after a kill.
 * Results cross back as a JSON string, so their size is checked before the main thread parses them.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import jsonata from 'jsonata'
import { DomainError } from '../domain/errors.js'

export const MAX_MAPPING_CHARS = 50_000

export interface MappingLimits {
  /** jsonata's own evaluation timeout; the worker is killed at twice this. */
  readonly timeoutMs: number
  readonly heapMb: number
  readonly maxOutputBytes: number
}

// 5 s: a 1,000-item mapping took up to ~1 s on the bench machine when it was heavily loaded (load
// average 18 on 2 cores), so a tighter bound would refuse honest payloads; hostile ones stop here.
export const DEFAULT_MAPPING_LIMITS: MappingLimits = Object.freeze({ timeoutMs: 5000, heapMb: 64, maxOutputBytes: 16 * 1024 * 1024 })

/** Where a mapping failed: jsonata's error code, the character position in the expression, the token there. */
export interface MappingFault {
  readonly code: string
  readonly message: string
  readonly position?: number | undefined
  readonly token?: string | undefined
}

export function mappingFailed(fault: MappingFault, what = 'The mapping failed'): DomainError {
  const where = fault.position !== undefined ? ` at position ${fault.position}${fault.token !== undefined ? ` ("${String(fault.token).slice(0, 40)}")` : ''}` : ''
  return new DomainError('mapping_failed', `${what}${where}: ${fault.message.slice(0, 300)}`, { mapping_error: fault })
}

function faultOf(e: unknown): MappingFault {
  const o = (e ?? {}) as { code?: unknown; message?: unknown; position?: unknown; token?: unknown }
  return {
    code: typeof o.code === 'string' ? o.code : 'error',
    message: typeof o.message === 'string' ? o.message : String(e),
    ...(typeof o.position === 'number' ? { position: o.position } : {}),
    ...(o.token !== undefined && o.token !== null ? { token: String(o.token).slice(0, 100) } : {}),
  }
}

/** Parse only (bounded by the expression's length): refuse a mapping that is not JSONata before it is stored. */
export function checkMappingSyntax(expression: string, pointer = '/mapping'): void {
  if (typeof expression !== 'string' || expression.trim() === '') throw new DomainError('validation_failed', `${pointer}: must be a JSONata expression`, { errors: [{ pointer, message: 'must be a JSONata expression' }] })
  if (expression.length > MAX_MAPPING_CHARS) throw new DomainError('validation_failed', `${pointer}: must be at most ${MAX_MAPPING_CHARS} characters`, { errors: [{ pointer, message: `must be at most ${MAX_MAPPING_CHARS} characters` }] })
  try {
    jsonata(expression)
  } catch (e) {
    throw mappingFailed(faultOf(e), 'The mapping is not valid JSONata')
  }
}

// The worker's whole program: CommonJS in an eval'd script, so it runs under tsx, vitest and the build alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const jsonata = require(workerData.jsonata)
const compiled = new Map()
parentPort.on('message', async (m) => {
  try {
    let expr = compiled.get(m.expression)
    if (!expr) {
      expr = jsonata(m.expression, { timeout: m.timeoutMs, stack: 500, sequence: 1000000 })
      if (compiled.size > 100) compiled.clear()
      compiled.set(m.expression, expr)
    }
    const result = await expr.evaluate(JSON.parse(m.payload))
    const text = JSON.stringify(result)
    if (text !== undefined && text.length > m.maxOutputBytes) {
      parentPort.postMessage({ id: m.id, fault: { code: 'output_too_large', message: 'The mapping produced more than ' + m.maxOutputBytes + ' bytes' } })
    } else {
      parentPort.postMessage({ id: m.id, text: text === undefined ? null : text })
    }
  } catch (e) {
    const o = e || {}
    parentPort.postMessage({ id: m.id, fault: { code: typeof o.code === 'string' ? o.code : 'error', message: typeof o.message === 'string' ? o.message : String(e), position: typeof o.position === 'number' ? o.position : undefined, token: o.token == null ? undefined : String(o.token).slice(0, 100) } })
  }
})
`

interface Job {
  readonly id: number
  readonly expression: string
  readonly payload: string
  readonly resolve: (v: unknown) => void
  readonly reject: (e: unknown) => void
}

/** One worker, one evaluation at a time, so a deadline always belongs to the job that ran over it. */
export class MappingRunner {
  readonly #limits: MappingLimits
  #worker: Worker | null = null
  #queue: Job[] = []
  #current: Job | null = null
  #timer: NodeJS.Timeout | null = null
  #nextId = 1
  #closed = false

  constructor(limits: MappingLimits = DEFAULT_MAPPING_LIMITS) {
    this.#limits = limits
  }

  /** The mapping's result (undefined when it produced nothing); throws `mapping_failed` with where it failed. */
  evaluate(expression: string, payloadText: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('The mapping runner is closed'))
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, expression, payload: payloadText, resolve, reject })
      this.#pump()
    })
  }

  /** Start the worker ahead of the first payload (a server does, so no delivery waits for a thread to boot). */
  warm(): void {
    if (!this.#closed) this.#worker ??= this.#spawn()
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const j of this.#queue.splice(0)) j.reject(new Error('The mapping runner closed'))
    await this.#kill()
  }

  #spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { jsonata: createRequire(import.meta.url).resolve('jsonata') },
      resourceLimits: { maxOldGenerationSizeMb: this.#limits.heapMb, maxYoungGenerationSizeMb: Math.max(4, Math.floor(this.#limits.heapMb / 4)), stackSizeMb: 4 },
    })
    w.unref()
    w.on('message', (m: { id: number; text?: string | null; fault?: MappingFault }) => {
      const job = this.#current
      if (!job || job.id !== m.id) return
      this.#finish()
      if (m.fault) job.reject(mappingFailed(m.fault))
      else {
        try {
          job.resolve(m.text === null || m.text === undefined ? undefined : JSON.parse(m.text))
        } catch (e) {
          job.reject(e)
        }
      }
    })
    w.on('error', (e: Error & { code?: string }) => this.#lost(w, e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? { code: 'out_of_memory', message: `The mapping needed more than ${this.#limits.heapMb} MB` } : { code: 'worker_failed', message: e.message }))
    w.on('exit', () => this.#lost(w, { code: 'worker_exited', message: 'The mapping worker stopped' }))
    return w
  }

  #lost(w: Worker, fault: MappingFault): void {
    if (this.#worker !== w) return
    this.#worker = null
    const job = this.#current
    if (job) {
      this.#finish()
      job.reject(mappingFailed(fault))
    }
    this.#pump()
  }

  #finish(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#current = null
    queueMicrotask(() => this.#pump())
  }

  async #kill(): Promise<void> {
    const w = this.#worker
    this.#worker = null
    if (w) await w.terminate()
  }

  #pump(): void {
    if (this.#current || this.#queue.length === 0 || this.#closed) return
    const job = this.#queue.shift()!
    this.#current = job
    this.#worker ??= this.#spawn()
    // The deadline covers a cold start too; jsonata's own timeout normally answers first, with a position.
    this.#timer = setTimeout(() => {
      if (this.#current !== job) return
      this.#finish()
      job.reject(mappingFailed({ code: 'timeout', message: `The mapping ran longer than ${this.#limits.timeoutMs * 2} ms and was stopped` }))
      void this.#kill()
    }, this.#limits.timeoutMs * 2 + 500)
    this.#worker.postMessage({ id: job.id, expression: job.expression, payload: job.payload, timeoutMs: this.#limits.timeoutMs, maxOutputBytes: this.#limits.maxOutputBytes })
  }
}

let shared: MappingRunner | null = null
let limits: MappingLimits = DEFAULT_MAPPING_LIMITS

/** Set the bounds (PROVIDER_MAPPING_TIMEOUT_MS, PROVIDER_MAPPING_HEAP_MB) before the first payload; a running worker is replaced. */
export function useMappingLimits(next: Partial<MappingLimits>): void {
  limits = Object.freeze({ ...limits, ...next })
  const old = shared
  shared = null
  void old?.close()
}

/** The process's runner, started on first use. */
export function mappingRunner(): MappingRunner {
  shared ??= new MappingRunner(limits)
  return shared
}

/** Stop the shared worker (shutdown, tests). */
export async function closeMappingRunner(): Promise<void> {
  const r = shared
  shared = null
  await r?.close()
}
