/**
 * @module bench/lib/procs: every process the bench starts, and how it is stopped again.
 * Each child is tracked by PID; `killAll` ends them (SIGTERM, then SIGKILL) on exit or error.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
/**
 * Where the service under test lives: this checkout, or another tree given by
 * STOCKBRIDGE_BENCH_ROOT (e.g. an export of a commit, to measure it while this tree is being edited).
 */
export const SERVICE_ROOT = path.resolve(process.env.STOCKBRIDGE_BENCH_ROOT ?? ROOT)

const live = new Map<number, ChildProcess>()

export function track(child: ChildProcess): ChildProcess {
  if (child.pid !== undefined) {
    const pid = child.pid
    live.set(pid, child)
    child.once('exit', () => live.delete(pid))
  }
  return child
}

/** Synchronous: safe to call from an 'exit' handler. */
export function killAllSync(): void {
  for (const [pid] of live) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  live.clear()
}

/** Stop one child: SIGTERM, wait up to `graceMs`, then SIGKILL. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    process.kill(child.pid, 'SIGTERM')
  } catch {
    return
  }
  const timer = setTimeout(() => {
    try {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    } catch {
      // gone
    }
  }, graceMs)
  await exited
  clearTimeout(timer)
}

export async function killAll(): Promise<void> {
  await Promise.all([...live.values()].map((c) => stopChild(c, 3000)))
}

/** Resident set size (and its peak) of a process, from /proc/<pid>/status, in MB. */
export function rssOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
}

const CLOCK_TICKS_PER_SECOND = 100

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces, hence the last ')'): utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
}

/**
 * A process's main thread: time on a CPU and time runnable but waiting for one (ms), from
 * /proc/<pid>/task/<pid>/schedstat (nanoseconds). The wait is what other processes on the machine
 * cost it: a slow answer with a long wait was not slow for the process's own work.
 */
export function schedOf(pid: number): { runMs: number; waitMs: number } {
  const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number)
  return { runMs: run! / 1e6, waitMs: wait! / 1e6 }
}

export interface ServerHandle {
  readonly child: ChildProcess
  readonly pid: number
  readonly url: string
  /** The admin key printed on the first start of an empty database (null otherwise). */
  readonly adminKey: string | null
  stderr(): string
  stop(): Promise<void>
}

export interface ServerOptions {
  readonly databaseUrl: string
  readonly env?: Record<string, string>
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: ReadonlyArray<string>
  readonly timeoutMs?: number
  /** The tree to run the service from (default SERVICE_ROOT); bench/ab.ts runs two trees side by side. */
  readonly root?: string
}

/** Start `stockbridge serve` as a user would: its own node process, config from env, port 0. */
export async function startServer(o: ServerOptions): Promise<ServerHandle> {
  const child = track(
    spawn(process.execPath, [...(o.nodeFlags ?? []), '--import', 'tsx', 'src/cli/index.ts', 'serve'], {
      cwd: o.root ?? SERVICE_ROOT,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: o.databaseUrl, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  let out = ''
  let err = ''
  // BENCH_SERVER_LOG=<file>: keep every server's warnings there too (the post-mortem keeps only the last ones).
  const logTo = process.env.BENCH_SERVER_LOG
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
    if (err.length > 200_000) err = err.slice(-100_000)
    if (logTo) fs.appendFileSync(logTo, d)
  })
  const ready = await new Promise<{ url: string; adminKey: string | null }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${o.timeoutMs ?? 60_000} ms; stderr:\n${err.slice(-2000)}`)), o.timeoutMs ?? 60_000)
    const onData = (d: Buffer) => {
      out += d.toString()
      const url = /running at (http:\/\/\S+)/.exec(out)?.[1]
      if (!url) return
      const keyLine = /An admin API key was made[^\n]*\n\s*(\S+)/.exec(out)
      // The key is printed right after the URL line; wait for the blank line that ends the banner.
      if (!/\n\n/.test(out.slice(out.indexOf('running at')))) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.stdout!.resume()
      resolve({ url, adminKey: keyLine?.[1] ?? null })
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code, sig) => {
      clearTimeout(timer)
      reject(new Error(`server exited early (code ${code}, signal ${sig}); stderr:\n${err.slice(-2000)}`))
    })
  })
  const handle: ServerHandle = {
    child,
    pid: child.pid!,
    url: ready.url,
    adminKey: ready.adminKey,
    stderr: () => err,
    stop: () => stopChild(child, 15_000),
  }
  startedServers.push(handle)
  return handle
}

/** Every server started, for post-mortems when a phase fails. */
export const startedServers: ServerHandle[] = []

/** What the servers said on stderr, and whether they died: for a phase's failure report. */
export function serverPostMortem(): string {
  return startedServers
    .map((s) => {
      const died = s.child.exitCode !== null || s.child.signalCode !== null
      const tail = s.stderr().trim().slice(-3000)
      return died || tail ? `server ${s.pid}${died ? ` exited (code ${s.child.exitCode}, signal ${s.child.signalCode})` : ' alive'}${tail ? `; stderr:\n${tail}` : ''}` : ''
    })
    .filter(Boolean)
    .join('\n')
}

/** Run the CLI to completion (migrate, keys create …) and return stdout. */
export async function runCli(args: ReadonlyArray<string>, databaseUrl: string): Promise<string> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], {
      cwd: SERVICE_ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  if (code !== 0) throw new Error(`stockbridge ${args.join(' ')} failed (${code}): ${err.slice(-2000)}`)
  return out
}

export interface BareHandle {
  readonly pid: number
  readonly url: string
  stop(): Promise<void>
}

/** The bare Hono route on @hono/node-server (bench/bare-server.ts), started the same way as the service. */
export function startBare(): Promise<BareHandle> {
  return startScript('bench/bare-server.ts', [])
}

/** The minimal node:http + better-sqlite3 movement server (bench/minimal-server.ts) on the bench's database file. */
export function startMinimal(file: string, mode: 'tx' | 'group'): Promise<BareHandle> {
  return startScript('bench/minimal-server.ts', [JSON.stringify({ file, mode })])
}

/** The webhook receiver + SSE client (bench/event-sink.ts). */
export function startSink(spec: object): Promise<BareHandle> {
  return startScript('bench/event-sink.ts', [JSON.stringify(spec)])
}

/** A bench script that prints `listening http://…` once ready. */
async function startScript(script: string, args: ReadonlyArray<string>): Promise<BareHandle> {
  const child = track(spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env: { ...process.env }, stdio: ['ignore', 'pipe', 'inherit'] }))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 30_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', () => reject(new Error(`${script} exited early`)))
  })
  return { pid: child.pid!, url, stop: () => stopChild(child) }
}
