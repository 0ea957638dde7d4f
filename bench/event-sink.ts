/**
 * The far end of propagation, in its own process: a webhook receiver (answers 200 at once) and an
 * SSE client of stockbridge's /events stream. For every stock.changed event it records how long
 * after the event's created_at (taken inside the movement's transaction, same machine clock) it
 * arrived. GET /stats returns {webhook: ms[], sse: ms[], sseConnected}.
 *
 *   node --import tsx bench/event-sink.ts '{"sse": {"url": "http://127.0.0.1:P", "apiKey": "…"}}'
 */
import http from 'node:http'

interface SinkSpec {
  readonly sse?: { readonly url: string; readonly apiKey: string }
}
const spec = JSON.parse(process.argv[2] ?? '{}') as SinkSpec
const webhook: number[] = []
const sse: number[] = []
let sseConnected = false

const latencyOf = (body: string): number | null => {
  try {
    const e = JSON.parse(body) as { type?: string; created_at?: string }
    if (e.type !== 'stock.changed' || !e.created_at) return null
    return Date.now() - Date.parse(e.created_at)
  } catch {
    return null
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ webhook, sse, sseConnected }))
    return
  }
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (d: string) => (body += d))
  req.on('end', () => {
    const ms = latencyOf(body)
    if (ms !== null) webhook.push(ms)
    res.writeHead(200).end()
  })
})

async function followSse(url: string, apiKey: string): Promise<void> {
  const res = await fetch(`${url}/inventory/v1/events`, { headers: { 'x-api-key': apiKey, accept: 'text/event-stream' } })
  if (!res.ok || !res.body) throw new Error(`SSE: ${res.status}`)
  sseConnected = true
  const decoder = new TextDecoder()
  let buf = ''
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true })
    let at: number
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const message = buf.slice(0, at)
      buf = buf.slice(at + 2)
      const data = message
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n')
      const ms = data ? latencyOf(data) : null
      if (ms !== null) sse.push(ms)
    }
  }
}

server.listen(0, '127.0.0.1', () => {
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  process.stdout.write(`listening http://127.0.0.1:${port}\n`)
  if (spec.sse) followSse(spec.sse.url, spec.sse.apiKey).catch((e: unknown) => process.stderr.write(`SSE client: ${String(e)}\n`))
})
const stop = () => process.exit(0)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
