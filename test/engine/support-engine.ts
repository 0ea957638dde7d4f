/**
 * Helpers for the real-time engine suites: a real HTTP subscriber that records what it receives
 * and fails on purpose, a small Server-Sent Events client, the real server process, percentiles.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { StockChangedData } from '../../src/domain/events.js'

export interface Received {
  /** performance.now() when the whole body had arrived. */
  readonly at: number
  readonly n: number
  readonly headers: http.IncomingHttpHeaders
  readonly raw: string
  readonly body: { id: string; type: string; sequence: number; created_at: string; data: StockChangedData }
  /** What the subscriber answered (null: it never answered, or not yet). */
  status: number | null
}

export type Answer = { status: number; headers?: Record<string, string> } | 'hang'
/** What the subscriber does with the n-th request (1-based): answer (now or later) with a status, or hang. */
export type Behaviour = (n: number, r: Omit<Received, 'status'>) => Answer | Promise<Answer>

/**
 * A real local webhook subscriber on 127.0.0.1. It records every request it fully receives, and
 * answers as `behaviour` says. It can stop listening and come back on the same port.
 */
/** Promises that resolve once a condition holds, checked whenever something arrives. */
class Waiters {
  #list: Array<{ test: () => boolean; resolve: () => void }> = []

  /** Resolves once `test` holds, or rejects after `timeoutMs`. */
  waitFor(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (test()) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#list = this.#list.filter((w) => w !== waiter)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      const waiter = {
        test,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      this.#list.push(waiter)
    })
  }

  /** After something arrived: resolve every waiter whose condition now holds. */
  check(): void {
    const ready = this.#list.filter((w) => w.test())
    this.#list = this.#list.filter((w) => !ready.includes(w))
    for (const w of ready) w.resolve()
  }
}

export class Subscriber {
  readonly received: Received[] = []
  behaviour: Behaviour = () => ({ status: 200 })
  #server: http.Server
  #port = 0
  readonly #waiters = new Waiters()

  private constructor() {
    this.#server = this.#make()
  }

  static async start(behaviour?: Behaviour): Promise<Subscriber> {
    const s = new Subscriber()
    if (behaviour) s.behaviour = behaviour
    await s.listen()
    return s
  }

  #make(): http.Server {
    return http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const base = { at: performance.now(), n: this.received.length + 1, headers: req.headers, raw, body: JSON.parse(raw) as Received['body'] }
        const answer = this.behaviour(base.n, base)
        const entry = { ...base, status: null as number | null }
        this.received.push(entry)
        const reply = (a: Answer) => {
          if (a === 'hang') return
          entry.status = a.status
          if (!res.destroyed) {
            res.writeHead(a.status, { 'content-type': 'text/plain', ...(a.headers ?? {}) })
            res.end('ok')
          }
          this.#check()
        }
        if (answer instanceof Promise) void answer.then(reply)
        else reply(answer)
        this.#check()
      })
    })
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`
  }

  get listening(): boolean {
    return this.#server.listening
  }

  /** Listen (again): first on an ephemeral port, later on the same one. */
  async listen(): Promise<void> {
    if (this.#server.listening) return
    if (this.#port !== 0) this.#server = this.#make()
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#port, '127.0.0.1', () => resolve())
    })
    this.#port = (this.#server.address() as AddressInfo).port
  }

  /** Stop listening and drop every connection: deliveries now fail with connection refused. */
  async down(): Promise<void> {
    if (!this.#server.listening) return
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    this.#server.closeAllConnections()
    await closed
  }

  /** Resolves once `test` holds (checked after every request), or rejects after `timeoutMs`. */
  waitFor(test: () => boolean, timeoutMs: number, what = 'the subscriber to receive what was expected'): Promise<void> {
    return this.#waiters.waitFor(test, timeoutMs, what)
  }

  #check(): void {
    this.#waiters.check()
  }

  /** Received requests of one SKU, in arrival order. */
  of(sku: string): Received[] {
    return this.received.filter((r) => r.body.data.sku === sku)
  }

  async close(): Promise<void> {
    await this.down()
  }
}

/** Versions must never go back: each SKU's received versions, in arrival order, are non-decreasing. */
export function versionRegressions(received: ReadonlyArray<Received>): string[] {
  const last = new Map<string, number>()
  const out: string[] = []
  for (const r of received) {
    const { sku, version } = r.body.data
    const prev = last.get(sku) ?? 0
    if (version < prev) out.push(`${sku}: v${version} after v${prev}`)
    last.set(sku, Math.max(prev, version))
  }
  return out
}

export interface SseMessage {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
  readonly at: number
}

/** A Server-Sent Events client over fetch: messages are queued as they are parsed. */
export class SseClient {
  readonly messages: SseMessage[] = []
  readonly status: number
  readonly #abort: AbortController
  readonly #waiters = new Waiters()
  #done: Promise<void>

  private constructor(res: Response, abort: AbortController) {
    this.status = res.status
    this.#abort = abort
    this.#done = this.#pump(res)
  }

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const abort = new AbortController()
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
    return new SseClient(res, abort)
  }

  async #pump(res: Response): Promise<void> {
    if (!res.body) return
    const decoder = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true })
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          let id: string | undefined
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue
            const [field, ...rest] = line.split(':')
            const value = rest.join(':').replace(/^ /, '')
            if (field === 'id') id = value
            else if (field === 'event') event = value
            else if (field === 'data') data.push(value)
          }
          if (data.length === 0 && id === undefined) continue
          this.messages.push({ id, event, data: data.join('\n'), at: performance.now() })
          this.#waiters.check()
        }
      }
    } catch {
      // Aborted by close(): the stream simply ends.
    }
  }

  /** The `stock.changed` messages parsed so far. */
  events(): Array<{ id: number; body: { id: string; sequence: number; data: StockChangedData }; at: number }> {
    return this.messages.filter((m) => m.event === 'stock.changed').map((m) => ({ id: Number(m.id), body: JSON.parse(m.data) as { id: string; sequence: number; data: StockChangedData }, at: m.at }))
  }

  waitFor(test: () => boolean, timeoutMs: number, what = 'SSE messages'): Promise<void> {
    return this.#waiters.waitFor(test, timeoutMs, what)
  }

  async close(): Promise<void> {
    this.#abort.abort()
    await this.#done
  }
}

export function percentile(values: ReadonlyArray<number>, p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export function latencySummary(values: ReadonlyArray<number>): { n: number; p50: number; p99: number; max: number } {
  const r = (x: number) => Math.round(x * 100) / 100
  return { n: values.length, p50: r(percentile(values, 50)), p99: r(percentile(values, 99)), max: r(Math.max(...values)) }
}

/** Bounded polling, for real processes where no in-process event can be awaited. */
export async function pollUntil<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..')

export interface ServerProcess {
  readonly proc: ChildProcess
  readonly pid: number
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string
  output(): string
}

/** Start `stockbridge serve` as a real process; resolves once it prints its URL. */
export function startServerProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<ServerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'serve'], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()))
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()))
  return new Promise<ServerProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${out}`))
    }, timeoutMs)
    const onData = () => {
      const m = /stockbridge is running at (http:\/\/\S+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      proc.stdout!.off('data', onData)
      resolve({ proc, pid: proc.pid!, url: m[1]!, output: () => out })
    }
    proc.stdout!.on('data', onData)
    proc.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`server exited (${code ?? signal}) before starting:\n${out}`))
    })
  })
}

/** SIGKILL one process we started, by its pid, and wait until it is gone. */
export async function killHard(p: ServerProcess | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return
  const exited = new Promise<void>((resolve) => p.proc.once('exit', () => resolve()))
  try {
    process.kill(p.pid, 'SIGKILL')
  } catch {
    return
  }
  await exited
}
