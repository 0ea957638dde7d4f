/** @module cli/alerts: alert channels and open alerts from the command line (#15). */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { channelView, createChannel, listChannels, removeChannel } from '../service/alert-channels.js'
import { testChannel } from '../connectors/alert-channels/test-message.js'
import { acknowledgeAlert, alertView, listAlerts } from '../service/alerts.js'
import { useAlertSealKey } from '../store/alert-repo.js'
import { withRuntime } from './with-runtime.js'

const out = (s: string): void => void process.stdout.write(`${s}\n`)
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean)

export function registerAlerts(program: Command, config: Config): void {
  useAlertSealKey(config.security.keyEncryptionKey)
  const alerts = program.command('alerts').description('Stock and operational alerts, and the channels they go to')
  alerts
    .command('list')
    .description('Alerts, newest first (default: open)')
    .option('--state <state>', 'open | acknowledged | closed | all', 'open')
    .option('--sku <sku>', 'only this SKU')
    .option('--json', 'print JSON')
    .action(async (o: { state: string; sku?: string; json?: boolean }) => {
      await withRuntime(config, async (rt) => {
        const rows = (await listAlerts(rt.deps, { state: o.state, sku: o.sku, limit: 500 })).map(alertView)
        if (o.json) return out(JSON.stringify(rows, null, 2))
        if (rows.length === 0) return out('no alerts')
        for (const a of rows) out(`${a.id}  ${a.status.padEnd(12)} ${a.kind.padEnd(16)} ${a.scope.padEnd(11)} ${a.sku ?? a.subject ?? ''}${a.warehouse_id !== null ? ` @${a.warehouse_id}` : ''}  available=${a.available ?? '-'} threshold=${a.threshold ?? '-'}  ${a.raised_at}`)
      })
    })
  alerts
    .command('ack <id>')
    .description('Acknowledge an open alert')
    .action(async (id: string) => {
      await withRuntime(config, async (rt) => out(`${(await acknowledgeAlert(rt.deps, id, 'cli')).id} acknowledged`))
    })

  const channels = alerts.command('channels').description('Where alerts go: email, Slack-compatible webhooks, signed webhooks')
  channels
    .command('add')
    .description('Add a channel')
    .requiredOption('--name <name>', 'a short name')
    .requiredOption('--kind <kind>', 'email | slack | webhook')
    .option('--url <url>', 'slack / webhook: where to POST')
    .option('--smtp-host <host>', 'email: SMTP server')
    .option('--smtp-port <port>', 'email: port (default 587)', (v) => Number(v))
    .option('--smtp-tls <mode>', 'email: implicit | starttls | none (default: implicit on 465, else starttls)')
    .option('--smtp-user <user>', 'email: login')
    .option('--smtp-password-env <VAR>', 'email: the environment variable holding the password (kept out of shell history)')
    .option('--from <address>', 'email: sender')
    .option('--to <addresses>', 'email: comma-separated recipients')
    .option('--digest <seconds>', 'send one digest per window instead of each alert at once', (v) => Number(v))
    .option('--kinds <kinds>', 'comma-separated alert kinds (default: all)')
    .option('--scopes <scopes>', 'comma-separated: level,total,operational (default: all)')
    .action(async (o: Record<string, string | number | undefined>) => {
      const kind = String(o.kind)
      let cfg: Record<string, unknown>
      if (kind === 'email') {
        const pwVar = o.smtpPasswordEnv as string | undefined
        if (pwVar !== undefined && process.env[pwVar] === undefined) throw new Error(`environment variable ${pwVar} is not set`)
        cfg = {
          host: o.smtpHost,
          ...(o.smtpPort !== undefined ? { port: o.smtpPort } : {}),
          ...(o.smtpTls !== undefined ? { tls: o.smtpTls } : {}),
          ...(o.smtpUser !== undefined ? { username: o.smtpUser } : {}),
          ...(pwVar !== undefined ? { password: process.env[pwVar] } : {}),
          from: o.from,
          to: o.to === undefined ? undefined : list(String(o.to)),
        }
      } else cfg = { url: o.url }
      await withRuntime(config, async (rt) => {
        const c = await createChannel(rt.deps, {
          name: String(o.name),
          kind,
          config: cfg,
          mode: o.digest !== undefined ? 'digest' : 'immediate',
          digestSeconds: o.digest as number | undefined,
          kinds: o.kinds === undefined ? undefined : list(String(o.kinds)),
          scopes: o.scopes === undefined ? undefined : list(String(o.scopes)),
        })
        out(JSON.stringify(channelView(c, true), null, 2))
      })
    })
  channels
    .command('list')
    .description('All channels (secrets masked)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      await withRuntime(config, async (rt) => {
        const rows = (await listChannels(rt.deps)).map((c) => channelView(c))
        if (o.json) return out(JSON.stringify(rows, null, 2))
        if (rows.length === 0) return out('no alert channels')
        for (const c of rows) out(`${c.id}  ${c.name.padEnd(20)} ${c.kind.padEnd(8)} ${c.mode === 'digest' ? `digest/${c.digest_seconds}s` : 'immediate'}  kinds=${c.kinds.join(',')} scopes=${c.scopes.join(',')}`)
      })
    })
  channels
    .command('remove <name>')
    .description('Remove a channel (by name or id) and its pending messages')
    .action(async (name: string) => {
      await withRuntime(config, async (rt) => {
        await removeChannel(rt.deps, name)
        out(`removed ${name}`)
      })
    })
  channels
    .command('test <name>')
    .description("Send a test message now and print the channel's answer (exit 1 when it fails)")
    .action(async (name: string) => {
      await withRuntime(config, async (rt) => {
        const r = await testChannel(rt.deps, name, config.delivery.timeoutMs)
        out(r.ok ? `ok: ${name} accepted the test message (${r.status ?? ''})` : `failed: ${name} answered ${r.status ?? 'nothing'}: ${r.detail}`)
        if (!r.ok) process.exitCode = 1
      })
    })
}
