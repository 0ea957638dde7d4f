/**
 * @module bench/lib/profile: where a server's CPU time went, from a V8 .cpuprofile (node --cpu-prof).
 * Two views: exclusive categories (each sample goes to the innermost frame that belongs to a known
 * layer) and inclusive markers (share of samples with a given function anywhere on the stack).
 */
import fs from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

type Rule = readonly [category: string, test: (f: CallFrame) => boolean]

const inPkg = (f: CallFrame, pkg: string) => f.url.includes(`/node_modules/${pkg}/`)

/** Checked in order for each frame, innermost frame first; the first frame that matches a rule decides. */
const LAYERS: ReadonlyArray<Rule> = [
  ['(garbage collector)', (f) => f.functionName === '(garbage collector)'],
  ['(idle)', (f) => f.functionName === '(idle)'],
  ['(program: native, unattributed)', (f) => f.functionName === '(program)'],
  ['better-sqlite3 prepare (statement compile)', (f) => f.functionName === 'prepare' && (f.url === '' || inPkg(f, 'better-sqlite3'))],
  // Native calls are charged to their JS caller: Kysely's SqliteConnection.executeQuery runs stmt.all/run.
  ['better-sqlite3 step (run/get/all, incl. SQLite I/O)', (f) => inPkg(f, 'better-sqlite3') || (f.url === '' && ['run', 'get', 'all', 'iterate', 'exec'].includes(f.functionName)) || (inPkg(f, 'kysely') && f.url.includes('sqlite-driver') && f.functionName === 'executeQuery')],
  ['pg driver', (f) => inPkg(f, 'pg') || inPkg(f, 'pg-protocol') || inPkg(f, 'pg-pool')],
  ['Kysely query compiler', (f) => inPkg(f, 'kysely') && /query-compiler|operation-node/.test(f.url)],
  ['Kysely builders/driver/plugins', (f) => inPkg(f, 'kysely')],
  ['zod (validation)', (f) => inPkg(f, 'zod')],
  ['@hono/zod-openapi', (f) => f.url.includes('/node_modules/@hono/zod-openapi/') || f.url.includes('/node_modules/@asteasolutions/')],
  ['@hono/node-server', (f) => f.url.includes('/node_modules/@hono/node-server/')],
  ['hono (router, context, middleware)', (f) => inPkg(f, 'hono')],
  ['pino / logging', (f) => inPkg(f, 'pino') || inPkg(f, 'sonic-boom') || inPkg(f, 'thread-stream') || f.url.includes('request-log')],
  ['JSON parse/stringify', (f) => f.url === '' && (f.functionName === 'stringify' || f.functionName === 'parse' || f.functionName === 'JSONStringify')],
  ['crypto (hashes, uuids)', (f) => /node:(internal\/)?crypto/.test(f.url) || f.functionName === 'randomUUID' || f.functionName === 'digest'],
  ['ulid', (f) => inPkg(f, 'ulid')],
  ['module loading (tsx loader hooks, lazy imports)', (f) => f.url.startsWith('node:internal/modules') || f.url.includes('/node_modules/tsx/') || f.url.includes('cjs-module-lexer')],
  ['web Request/streams (undici Request, ReadableStream for bodies)', (f) => /node:internal\/(webstreams|deps\/undici|worker\/js_transferable|abort_controller|event_target)/.test(f.url)],
  ['node http/net/streams', (f) => /node:(_http|net|internal\/(streams|http|stream_base|net|js_stream))|node:(stream|events)$/.test(f.url) || f.functionName === 'writev' || f.functionName === 'writeUtf8String'],
  ['async machinery (microtasks, nextTick)', (f) => f.url.startsWith('node:internal/process/task_queues') || f.functionName === 'runMicrotasks'],
  ['node internals (other)', (f) => f.url.startsWith('node:')],
  ['stockbridge src', (f) => f.url.includes('/src/')],
  ['other packages', (f) => f.url.includes('/node_modules/')],
]

/** Inclusive markers: a sample counts when any frame on its stack matches. */
const MARKERS: ReadonlyArray<Rule> = [
  ['Kysely SqliteConnection.executeQuery (prepare + step)', (f) => inPkg(f, 'kysely') && f.url.includes('sqlite-driver') && f.functionName === 'executeQuery'],
  ['better-sqlite3 prepare', (f) => f.functionName === 'prepare' && (f.url === '' || inPkg(f, 'better-sqlite3'))],
  ['Kysely compileQuery', (f) => inPkg(f, 'kysely') && f.functionName === 'compileQuery'],
  ['zod validator (request body/params)', (f) => inPkg(f, 'zod') && /safeParse|parse/.test(f.functionName)],
  ['Kysely query building (select/update/insert builders)', (f) => inPkg(f, 'kysely') && f.url.includes('query-builder')],
  ['API key verify (hash + cache)', (f) => f.functionName === 'verify' && f.url.includes('api-keys')],
  ['crypto.randomUUID (request id)', (f) => f.functionName === 'randomUUID'],
  ['Hono c.json (response body)', (f) => inPkg(f, 'hono') && f.functionName === 'json'],
  ['body read (c.req.json → undici Request)', (f) => (inPkg(f, 'hono') || f.url.includes('@hono/node-server')) && /^(json|text|arrayBuffer|cachedBody)$/.test(f.functionName) && !f.url.includes('context')],
  ['error objects + stack traces', (f) => f.url.includes('prepare_stack_trace') || f.functionName === 'captureStackTrace' || f.functionName === 'SqliteError'],
]

export interface ProfileSummary {
  readonly file: string
  readonly wallMs: number
  readonly busyMs: number
  readonly layers: ReadonlyArray<{ name: string; ms: number; pctOfBusy: number }>
  readonly markers: ReadonlyArray<{ name: string; ms: number; pctOfBusy: number }>
  readonly topSelf: ReadonlyArray<{ name: string; ms: number; pctOfBusy: number }>
}

/**
 * Summarise the samples taken while requests were being served: from the first sample inside
 * @hono/node-server plus `skipSeconds` (the load's warm-up) to the last one, so start-up (module
 * loading, migrations) and shutdown are left out. Middleware frames are not used as markers: an
 * async middleware stays on the stack of everything it calls synchronously, which would overstate it.
 */
export function summarizeProfile(file: string, skipSeconds = 0): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const serving = new Set<number>()
  for (const n of p.nodes) {
    if (!n.callFrame.url.includes('/node_modules/@hono/node-server/')) continue
    const stack = [n.id]
    while (stack.length) {
      const id = stack.pop()!
      if (serving.has(id)) continue
      serving.add(id)
      stack.push(...(byId.get(id)?.children ?? []))
    }
  }
  const times: number[] = []
  let t = p.startTime
  for (const d of p.timeDeltas) times.push((t += d))
  let first = -1
  let last = -1
  p.samples.forEach((id, i) => {
    if (!serving.has(id)) return
    if (first < 0) first = i
    last = i
  })
  const from = first < 0 ? p.startTime : times[first]! + skipSeconds * 1e6
  const to = last < 0 ? p.endTime : times[last]!
  const layerMs = new Map<string, number>()
  const markerMs = new Map<string, number>()
  const selfMs = new Map<string, number>()
  let wall = 0
  let idle = 0
  p.samples.forEach((id, i) => {
    if (times[i]! < from || times[i]! > to) return
    const dt = (p.timeDeltas[i] ?? 0) / 1000
    wall += dt
    const stack: CallFrame[] = []
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur)!.callFrame)
    const leaf = stack[0]!
    if (leaf.functionName === '(idle)') {
      idle += dt
      return
    }
    const selfName = `${leaf.functionName || '(anonymous)'} ${leaf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/src\//, 'src/')}:${leaf.lineNumber + 1}`
    selfMs.set(selfName, (selfMs.get(selfName) ?? 0) + dt)
    let layer = 'unattributed'
    outer: for (const f of stack) {
      for (const [name, test] of LAYERS) {
        if (test(f)) {
          layer = name
          break outer
        }
      }
    }
    layerMs.set(layer, (layerMs.get(layer) ?? 0) + dt)
    for (const [name, test] of MARKERS) if (stack.some(test)) markerMs.set(name, (markerMs.get(name) ?? 0) + dt)
  })
  const busy = wall - idle
  const list = (m: Map<string, number>, n = 50) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), pctOfBusy: Math.round((ms / busy) * 1000) / 10 }))
  return { file, wallMs: Math.round(wall), busyMs: Math.round(busy), layers: list(layerMs), markers: list(markerMs), topSelf: list(selfMs, 25) }
}

export function renderProfile(s: ProfileSummary): string {
  const lines = [`CPU profile ${s.file}`, `  wall ${s.wallMs} ms, busy (not idle) ${s.busyMs} ms (${((s.busyMs / s.wallMs) * 100).toFixed(0)}% of one core)`, '  by layer (innermost known frame, % of busy):']
  for (const l of s.layers) lines.push(`    ${l.pctOfBusy.toFixed(1).padStart(5)}%  ${l.name}`)
  lines.push('  inclusive (function anywhere on the stack, % of busy):')
  for (const m of s.markers) lines.push(`    ${m.pctOfBusy.toFixed(1).padStart(5)}%  ${m.name}`)
  lines.push('  top self time:')
  for (const t of s.topSelf.slice(0, 15)) lines.push(`    ${t.pctOfBusy.toFixed(1).padStart(5)}%  ${t.name}`)
  return lines.join('\n')
}
