/** @module http/middleware/request-log: one structured line per request (debug), errors at warn. */
import type { MiddlewareHandler } from 'hono'
import type { Logger } from '../../service/deps.js'
import type { AppEnv } from '../env.js'

export function logRequests(log: Logger): MiddlewareHandler<AppEnv> {
  return async function requestLog(c, next) {
    const started = performance.now()
    await next()
    const entry = {
      request_id: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      actor: c.get('principal')?.actor,
    }
    if (c.res.status >= 500) log.warn(entry, 'request failed')
    else log.debug(entry, 'request')
  }
}
