/** @module cli: the `stockbridge` command. Each subcommand calls the services, never the HTTP layer. */
import { Command, Option } from 'commander'
import { ConfigError, loadConfig, type Config } from '../config.js'
import { withRuntime } from './with-runtime.js'
import { DomainError } from '../domain/errors.js'
import { registerServe } from './serve.js'
import { registerKeys } from './keys.js'
import { registerStock } from './stock.js'
import { registerStores } from './stores.js'
import { registerEvents } from './events.js'
import { registerAlerts } from './alerts.js'
import { registerProviders } from './providers.js'
import { registerWarehouses } from './warehouses.js'
import { registerCsv } from './csv.js'
import { loadDemoData } from '../service/demo.js'
import { packageVersion } from './version.js'

function main(argv: ReadonlyArray<string>): Promise<unknown> {
  // The version needs no configuration: answer it even when the environment is incomplete.
  if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) return Promise.resolve(void process.stdout.write(`${packageVersion()}\n`))
  let config: Config
  try {
    config = loadConfig(process.env)
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`)
      process.exit(2)
    }
    throw e
  }
  const program = new Command('stockbridge').description('One true stock figure per SKU and warehouse.').version(packageVersion(), '-V, --version', 'print the version').showHelpAfterError()
  registerServe(program, config)
  program
    .command('migrate')
    .description('Create or update the database schema')
    .action(() =>
      withRuntime(config, async (rt) => {
        process.stdout.write(rt.migrated.length ? `Applied: ${rt.migrated.join(', ')}\n` : 'Schema already up to date\n')
      }),
    )
  program
    .command('demo')
    .description('Load 3 warehouses, ~1,000 SKUs and some history into an empty database')
    .action(() =>
      withRuntime(config, async (rt) => {
        const s = await loadDemoData(rt.deps)
        process.stdout.write(`Loaded ${s.warehouses} warehouses, ${s.skus} SKUs, ${s.movements} movements\n`)
      }),
    )
  registerKeys(program, config)
  registerStock(program, config)
  registerStores(program, config)
  registerEvents(program, config)
  registerAlerts(program, config)
  registerProviders(program, config)
  registerWarehouses(program, config)
  registerCsv(program, config)
  program.addOption(new Option('--no-color').hideHelp())
  return program.parseAsync(argv as string[])
}

main(process.argv).catch((e: unknown) => {
  if (e instanceof DomainError) process.stderr.write(`error (${e.code}): ${e.message}\n`)
  else process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n${e instanceof Error && e.cause ? `cause: ${String(e.cause)}\n` : ''}`)
  process.exit(1)
})
