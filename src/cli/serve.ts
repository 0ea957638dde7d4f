/** @module cli/serve: run the service until SIGTERM/SIGINT, then stop gracefully. */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { createLogger, openRuntime } from '../runtime.js'
import { startServer } from '../server.js'
import { createApiKey } from '../service/api-keys.js'
import { loadDemoData } from '../service/demo.js'
import { countApiKeys } from '../store/api-key-repo.js'
import { listWarehouses } from '../store/warehouse-repo.js'

export function registerServe(program: Command, config: Config): void {
  program
    .command('serve')
    .description('Run the HTTP API')
    .option('--demo-if-empty', 'load the demo data set when the database holds no warehouses yet')
    .action(async (opts: { demoIfEmpty?: boolean }) => {
      const log = createLogger(config)
      const rt = await openRuntime(config, log)
      if (rt.migrated.length) log.info({ applied: rt.migrated }, 'database migrated')
      if (opts.demoIfEmpty && (await listWarehouses(rt.store.db)).length === 0) {
        const s = await loadDemoData(rt.deps)
        log.info(s, 'loaded demo data')
      }
      // The very first start makes an admin key, so a newcomer can call the API at once.
      const firstKey = (await countApiKeys(rt.store.db)) === 0 ? await createApiKey(rt.deps, 'admin (first start)', ['admin'], { sealKey: config.security.keyEncryptionKey }) : null
      const server = await startServer(config, rt)
      log.info({ url: server.url, database: rt.store.location }, 'stockbridge listening')
      process.stdout.write(`\nstockbridge is running at ${server.url}  (admin UI ${server.url}/admin, API ${server.url}/inventory/v1, docs ${server.url}/docs)\n`)
      if (firstKey) process.stdout.write(`An admin API key was made for this new database; it is not shown again:\n  ${firstKey.secret}\n\n`)
      else process.stdout.write('Create an API key with: npm run cli -- keys create --name me --scopes read,write\n\n')

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
