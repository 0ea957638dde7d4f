/** @module cli/serve: run the service until SIGTERM/SIGINT, then stop gracefully. */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { createLogger, openRuntime } from '../runtime.js'
import { startServer } from '../server.js'
import { ADMIN_KEY_COMMAND, createFirstAdminKey, firstKeyToShow } from '../service/api-keys.js'
import { portMessage, portProblem } from './port-check.js'
import { loadDemoData } from '../service/demo.js'
import { countApiKeys } from '../store/api-key-repo.js'
import { listWarehouses } from '../store/warehouse-repo.js'

export function registerServe(program: Command, config: Config): void {
  program
    .command('serve')
    .description('Run the HTTP API')
    .option('--demo-if-empty', 'load the demo data set when the database holds no warehouses yet')
    .action(async (opts: { demoIfEmpty?: boolean }) => {
      // A busy port is found before anything is created, and said in one line without a stack.
      const busy = await portProblem(config.host, config.port)
      if (busy) return failStart(portMessage(config.port, busy))
      const log = createLogger(config)
      const rt = await openRuntime(config, log)
      if (rt.migrated.length) log.info({ applied: rt.migrated }, 'database migrated')
      if (opts.demoIfEmpty && (await listWarehouses(rt.store.db)).length === 0) {
        const s = await loadDemoData(rt.deps)
        log.info(s, 'loaded demo data')
      }
      let server
      try {
        server = await startServer(config, rt)
      } catch (e) {
        await rt.close()
        const code = (e as NodeJS.ErrnoException).code
        if (code === 'EADDRINUSE' || code === 'EACCES') return failStart(portMessage(config.port, code))
        throw e
      }
      // The very first start makes an admin key, so a newcomer can call the API at once. It is
      // made only once the port is bound, and kept until first used so the next start shows it again.
      const sealKey = config.security.keyEncryptionKey
      const firstKey = (await countApiKeys(rt.store.db)) === 0 ? { ...(await createFirstAdminKey(rt.deps, sealKey)), again: false } : null
      const pending = firstKey ?? (await firstKeyToShow(rt.deps, sealKey).then((k) => k && { ...k, again: true }))
      log.info({ url: server.url, database: rt.store.location }, 'stockbridge listening')
      process.stdout.write(`\nstockbridge is running at ${server.url}  (admin UI ${server.url}/admin, API ${server.url}/inventory/v1, docs ${server.url}/docs)\n`)
      if (pending && !pending.again) process.stdout.write(`An admin API key was made for this new database (shown at each start until it is first used):\n  ${pending.secret}\n\n`)
      else if (pending) process.stdout.write(`The first admin API key has not been used yet; here it is again (shown until it is first used):\n  ${pending.secret}\n\n`)
      else process.stdout.write(`Create an admin API key with: ${ADMIN_KEY_COMMAND}\n\n`)

      let stopping = false
      const stop = (signal: string) => {
        if (stopping) return
        stopping = true
        log.info({ signal }, 'shutting down')
        server
          .stop()
          .then(() => rt.close())
          .then(() => process.exit(0))
          .catch((e: unknown) => {
            log.error({ err: e }, 'shutdown failed')
            process.exit(1)
          })
      }
      process.on('SIGTERM', () => stop('SIGTERM'))
      process.on('SIGINT', () => stop('SIGINT'))
    })
}

/** One line on stderr and exit 1: no stack, nothing left running. */
function failStart(line: string): never {
  process.stderr.write(`${line}\n`)
  process.exit(1)
}
