/**
 * Real server processes for multi-node tests: `stockbridge serve` started with tsx, ready once it
 * prints its URL, stopped by PID. Every process started here is remembered, so a suite's
 * afterAll can kill whatever is still running with killAllNodes().
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const READY = /stockbridge is running at (http:\/\/\S+)/

export interface NodeProcess {
  readonly name: string
  readonly pid: number
  /** Base URL, e.g. http://127.0.0.1:41234 (the port the OS chose for PORT=0). */
  readonly url: string
  /** Everything the process wrote so far (stdout and stderr), for failure messages. */
  output(): string
  /** Resolves when the process has exited, with its code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const running = new Set<ChildProcess>()

/** Start `stockbridge serve` with these environment variables; resolves once it listens. */
export function startNode(name: string, env: Readonly<Record<string, string>>, readyTimeoutMs = 90_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let out = ''
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  child.stdout!.on('data', (d: string) => (out += d))
  child.stderr!.on('data', (d: string) => (out += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child)
      resolve({ code, signal })
    })
  })
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal)
    return exited
  }
  return new Promise<NodeProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill()
      reject(new Error(`${name} did not start within ${readyTimeoutMs} ms:\n${out}`))
    }, readyTimeoutMs)
    const onData = () => {
      const m = READY.exec(out)
      if (!m) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      resolve({ name, pid: child.pid!, url: m[1]!, output: () => out, exited, kill })
    }
    child.stdout!.on('data', onData)
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${out}`))
    })
  })
}

/** SIGKILL every process startNode started that is still running, by PID, and wait for each. */
export async function killAllNodes(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          process.kill(child.pid!, 'SIGKILL')
        }),
    ),
  )
}
