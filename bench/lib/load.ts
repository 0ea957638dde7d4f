/** @module bench/lib/load: run one autocannon load in a child process (bench/load-worker.ts). */
import { spawn } from 'node:child_process'
import { cpuMsOf, ROOT, track } from './procs.js'

export type Scenario = 'update' | 'hot' | 'read-one' | 'read-batch'

export interface LoadSpec {
  readonly url: string
  readonly scenario: Scenario
  readonly connections: number
  /** Seconds of measured load (ignored when `amount` is set). */
  readonly duration?: number
  /** Stop after this many requests instead of after `duration`. */
  readonly amount?: number
  readonly warmupSeconds?: number
  readonly apiKey?: string
  readonly skuPrefix?: string
  readonly skuCount?: number
  readonly warehouseId?: number
  readonly hotSku?: string
  readonly batchSize?: number
  /** Requests per second, evenly paced (open loop, not autocannon: see load-worker.ts), e.g. 100 changes/s. */
  readonly overallRate?: number
}

export interface LoadResult {
  readonly seconds: number
  /** 2xx responses. */
  readonly ok: number
  readonly okPerSec: number
  readonly statusCounts: Record<string, number>
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly resets: number
  /** Latencies in ms. */
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly avg: number
  /** CPU the load generator itself used (it shares the machine's cores with the server). */
  readonly loadgenCpuMs: number
  /** CPU the server process used per response during the measured load (when measured). */
  serverCpuMsPerReq?: number
  loadgenCpuMsPerReq?: number
}

/**
 * A warm-up load (discarded) then the measured load, with the target process's CPU time read
 * around the measured part only, so CPU per request is not diluted by start-up or warm-up.
 */
export async function measure(spec: LoadSpec, targetPid?: number): Promise<LoadResult> {
  let cpu0 = 0
  const r = await runLoad(spec, () => {
    if (targetPid !== undefined) cpu0 = cpuMsOf(targetPid)
  })
  const responses = Object.values(r.statusCounts).reduce((a, b) => a + b, 0) || 1
  if (targetPid !== undefined) r.serverCpuMsPerReq = Math.round(((cpuMsOf(targetPid) - cpu0) / responses) * 1000) / 1000
  r.loadgenCpuMsPerReq = Math.round((r.loadgenCpuMs / responses) * 1000) / 1000
  return r
}

/** One load; `onMeasureStart` runs when the warm-up is over and the measured run begins. */
export async function runLoad(spec: LoadSpec, onMeasureStart?: () => void): Promise<LoadResult> {
  const child = track(spawn(process.execPath, ['--import', 'tsx', 'bench/load-worker.ts', JSON.stringify(spec)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }))
  let out = ''
  let err = ''
  let started = false
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
    if (!started && out.includes('measuring\n')) {
      started = true
      onMeasureStart?.()
    }
  })
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  if (code !== 0) throw new Error(`load generator failed (${code}): ${err.slice(-2000)}`)
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as LoadResult
}

/** Status codes other than the expected ones, e.g. "500×3, 422×1"; empty when there are none. */
export function unexpected(r: LoadResult, expected: ReadonlyArray<number> = [200]): string {
  const bad = Object.entries(r.statusCounts).filter(([code]) => !expected.includes(Number(code)))
  const parts = bad.map(([code, n]) => `${code}×${n}`)
  if (r.errors) parts.push(`errors×${r.errors}`)
  if (r.timeouts) parts.push(`timeouts×${r.timeouts}`)
  return parts.join(', ')
}
