/** @module cli/keys: create, list and revoke API keys. */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { parseScopes } from '../domain/api-key.js'
import { createApiKey, listApiKeys, revokeApiKey } from '../service/api-keys.js'
import { withRuntime } from './with-runtime.js'

export function registerKeys(program: Command, config: Config): void {
  const keys = program.command('keys').description('Manage API keys')
  keys
    .command('create')
    .description('Create a key; the key itself is printed once, alone on the last line')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--scopes <scopes>', 'comma-separated: read, write, admin', 'read')
    .option('--json', 'print {"id","key","scopes"} as one JSON object')
    .action((opts: { name: string; scopes: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const { apiKey, secret } = await createApiKey(rt.deps, opts.name.slice(0, 100), parseScopes(opts.scopes))
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ id: apiKey.id, key: secret, scopes: apiKey.scopes })}\n`)
          return
        }
        process.stdout.write(`Created ${apiKey.id} (${apiKey.name}) with scopes ${apiKey.scopes.join(',')}. Store the key now; it is not shown again:\n${secret}\n`)
      }),
    )
  keys
    .command('list')
    .description('List keys (never their secrets)')
    .action(() =>
      withRuntime(config, async (rt) => {
        for (const k of await listApiKeys(rt.deps)) {
          const state = k.revokedAt === null ? 'active' : `revoked ${new Date(k.revokedAt).toISOString()}`
          const used = k.lastUsedAt === null ? 'never used' : `last used ${new Date(k.lastUsedAt).toISOString()}`
          process.stdout.write(`${k.id}\t${k.prefix}…\t${k.scopes.join(',')}\t${state}\t${used}\t${k.name}\n`)
        }
      }),
    )
  keys
    .command('revoke <id>')
    .description('Revoke a key; requests with it are refused from then on')
    .action((id: string) =>
      withRuntime(config, async (rt) => {
        await revokeApiKey(rt.deps, id)
        process.stdout.write(`Revoked ${id}\n`)
      }),
    )
}
