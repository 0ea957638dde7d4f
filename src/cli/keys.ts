/** @module cli/keys: create, rotate, list and revoke API keys. */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { parseDuration, parseScopes, parseWarehouseList, type ApiKey } from '../domain/api-key.js'
import { ADMIN_KEY_COMMAND, createApiKey, listApiKeys, revokeApiKey, rotateApiKey, type CreatedApiKey } from '../service/api-keys.js'
import { withRuntime } from './with-runtime.js'

/** `--json`: one object for scripts; otherwise a description, the signing secret, and the key alone on the last line. */
function printCreated(created: CreatedApiKey, json: boolean | undefined, verb: string): void {
  const { apiKey: k, secret, signingSecret } = created
  if (json) {
    const out = { id: k.id, key: secret, signing_secret: signingSecret, scopes: k.scopes, warehouses: k.warehouses, require_signature: k.requireSignature, expires_at: iso(k.expiresAt), rotated_from: k.rotatedFrom }
    process.stdout.write(`${JSON.stringify(out)}\n`)
    return
  }
  const limits = [k.warehouses ? `warehouses ${k.warehouses.join(',')}` : 'all warehouses', k.requireSignature ? 'signatures required' : null, k.expiresAt ? `expires ${iso(k.expiresAt)}` : null].filter(Boolean).join('; ')
  process.stdout.write(
    `${verb} ${k.id} (${k.name}) with scopes ${k.scopes.join(',')}; ${limits}.${k.rotatedFrom ? ` ${k.rotatedFrom} keeps working until revoked.` : ''}\n` +
      `Signing secret (for X-Signature; shown once): ${signingSecret}\n` +
      `Store the key now; it is not shown again:\n${secret}\n`,
  )
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/** The header of `keys list`, one column per field of describeKey. */
const KEY_COLUMNS = ['ID', 'PREFIX', 'SCOPES', 'WAREHOUSES', 'STATE', 'LAST USED', 'NAME', 'NOTES'] as const

function describeKey(k: ApiKey, now: number): string {
  const state = k.revokedAt !== null ? `revoked ${iso(k.revokedAt)}` : k.expiresAt !== null && k.expiresAt <= now ? `expired ${iso(k.expiresAt)}` : k.expiresAt !== null ? `active until ${iso(k.expiresAt)}` : 'active'
  const used = k.lastUsedAt === null ? 'never used' : `last used ${iso(k.lastUsedAt)}`
  const where = k.warehouses ? `warehouses ${k.warehouses.join(',')}` : 'all warehouses'
  const extra = [k.requireSignature ? 'signed' : null, k.rotatedFrom ? `rotated from ${k.rotatedFrom}` : null].filter(Boolean).join(', ')
  return [k.id, `${k.prefix}…`, k.scopes.join(','), where, state, used, k.name, extra].join('\t')
}

export function registerKeys(program: Command, config: Config): void {
  const sealKey = config.security.keyEncryptionKey
  const keys = program.command('keys').description('Manage API keys')
  keys
    .command('create')
    .description('Create a key; the key itself is printed once, alone on the last line')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--scopes <scopes>', 'comma-separated: read, write, admin', 'read')
    .option('--warehouses <ids>', 'comma-separated warehouse ids the key may move stock in (default: all)')
    .option('--require-signature', 'refuse requests with this key unless they are signed (X-Timestamp, X-Nonce, X-Signature)')
    .option('--expires-in <duration>', 'lifetime, e.g. 90d, 12h, 30m')
    .option('--json', 'print {"id","key","signing_secret","scopes",…} as one JSON object')
    .action((opts: { name: string; scopes: string; warehouses?: string; requireSignature?: boolean; expiresIn?: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const created = await createApiKey(rt.deps, opts.name.slice(0, 100), parseScopes(opts.scopes), {
          warehouses: opts.warehouses === undefined ? null : parseWarehouseList(opts.warehouses),
          requireSignature: opts.requireSignature ?? false,
          expiresInMs: opts.expiresIn === undefined ? null : parseDuration(opts.expiresIn, '/expires-in'),
          sealKey,
        })
        printCreated(created, opts.json, 'Created')
      }),
    )
  keys
    .command('rotate <id>')
    .description('Make a new key with the same name, scopes and limits; the old one works until revoked (or --expire-old-in)')
    .option('--expire-old-in <duration>', 'let the old key lapse after this long, e.g. 7d')
    .option('--expires-in <duration>', 'lifetime of the new key')
    .option('--json', 'print the new key as one JSON object')
    .action((id: string, opts: { expireOldIn?: string; expiresIn?: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const created = await rotateApiKey(rt.deps, id, {
          expireOldInMs: opts.expireOldIn === undefined ? null : parseDuration(opts.expireOldIn, '/expire-old-in'),
          expiresInMs: opts.expiresIn === undefined ? null : parseDuration(opts.expiresIn, '/expires-in'),
          sealKey,
        })
        printCreated(created, opts.json, 'Rotated: created')
      }),
    )
  keys
    .command('list')
    .description('List keys (never their secrets)')
    .action(() =>
      withRuntime(config, async (rt) => {
        const now = rt.deps.clock.now()
        const all = await listApiKeys(rt.deps)
        if (all.length === 0) return void process.stdout.write(`No API keys. Make an admin key with: ${ADMIN_KEY_COMMAND}\n`)
        process.stdout.write(`${KEY_COLUMNS.join('\t')}\n`)
        for (const k of all) process.stdout.write(`${describeKey(k, now)}\n`)
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
