/**
 * The framework's floor: a Hono app on @hono/node-server whose routes do no work. The bench sends it
 * exactly the requests it sends stockbridge (same paths, bodies, headers, connections), so the
 * difference between the two is what stockbridge itself costs.
 */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'

const app = new Hono()
const answer = { success: true, data: null }
app.get('*', (c) => c.json(answer))
// Read the body as the framework hands it over (a real route must), then answer at once.
app.post('*', async (c) => {
  await c.req.text()
  return c.json(answer)
})

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.stdout.write(`listening http://127.0.0.1:${info.port}\n`)
})
const stop = () => server.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
