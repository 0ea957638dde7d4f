/** @module cli/with-runtime: one database session per command. */
import type { Config } from '../config.js'
import { createLogger, openRuntime, type Runtime } from '../runtime.js'

/** Open the configured database for one command and always close it afterwards. */
export async function withRuntime<T>(config: Config, work: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = await openRuntime(config, createLogger({ ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel }))
  try {
    return await work(rt)
  } finally {
    await rt.close()
  }
}
