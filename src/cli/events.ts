/** @module cli/events: webhook subscriptions and dead letters from the command line. */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { createSubscription, deleteSubscription, getDeadLetter, listDeadLetters, listSubscriptions, replayDeadLetter } from '../service/subscriptions.js'
import { withRuntime } from './with-runtime.js'

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString())

export function registerEvents(program: Command, config: Config): void {
  const subs = program.command('subscriptions').description('Outbound webhook subscriptions')
  subs
    .command('add')
    .description('Subscribe a URL to stock.changed events; prints the signing secret once')
    .requiredOption('--url <url>', 'where to POST events')
    .option('--skus <skus>', 'comma-separated SKUs (default: all)')
    .option('--warehouses <ids>', 'comma-separated warehouse ids (default: all)')
    .option('--json', 'print JSON')
    .action((o: { url: string; skus?: string; warehouses?: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const warehouses = o.warehouses?.split(',').map((s) => Number(s.trim()))
        if (warehouses?.some((n) => !Number.isSafeInteger(n) || n <= 0)) throw new Error('--warehouses must be positive whole numbers')
        const s = await createSubscription(rt.deps, { url: o.url, skus: o.skus?.split(',').map((x) => x.trim()).filter(Boolean), warehouses })
        if (o.json) process.stdout.write(`${JSON.stringify({ id: s.id, url: s.url, secret: s.secret })}\n`)
        else process.stdout.write(`Created ${s.id} → ${s.url}. Signing secret (shown once):\n${s.secret}\n`)
      }),
    )
  subs
    .command('list')
    .description('List subscriptions')
    .action(() =>
      withRuntime(config, async (rt) => {
        for (const s of await listSubscriptions(rt.deps)) {
          process.stdout.write(`${s.id}\t${s.url}\t${s.events.join(',')}\tskus=${s.skus?.join(',') ?? 'all'}\twarehouses=${s.warehouses?.join(',') ?? 'all'}\n`)
        }
      }),
    )
  subs
    .command('remove <id>')
    .description('Remove a subscription and its pending deliveries')
    .action((id: string) =>
      withRuntime(config, async (rt) => {
        await deleteSubscription(rt.deps, id)
        process.stdout.write(`Removed ${id}\n`)
      }),
    )

  const dl = program.command('deadletters').description('Deliveries that failed for good')
  dl.command('list')
    .description('List dead letters (newest first)')
    .option('--target <id>', 'only this subscription or store')
    .option('--all', 'include replayed ones')
    .action((o: { target?: string; all?: boolean }) =>
      withRuntime(config, async (rt) => {
        const rows = (await listDeadLetters(rt.deps, { targetId: o.target, includeReplayed: Boolean(o.all), limit: 500 })).items
        if (rows.length === 0) process.stdout.write('No dead letters\n')
        for (const d of rows) {
          process.stdout.write(`${d.id}\t${d.targetId}\t${d.sku}\tseq ${d.eventSeq}\t${d.attempts} attempts\t${d.lastStatus ?? '-'}\t${d.lastError ?? ''}\t${iso(d.createdAt)}\treplayed ${iso(d.replayedAt)}\n`)
        }
      }),
    )
  dl.command('show <id>')
    .description('One dead letter with the event it carried')
    .action((id: string) =>
      withRuntime(config, async (rt) => {
        process.stdout.write(`${JSON.stringify(await getDeadLetter(rt.deps, id), null, 2)}\n`)
      }),
    )
  dl.command('replay <id>')
    .description("Queue the SKU's newest figure for that target again")
    .action((id: string) =>
      withRuntime(config, async (rt) => {
        const r = await replayDeadLetter(rt.deps, id)
        process.stdout.write(`Queued event ${r.eventSeq} again; a running server delivers it\n`)
      }),
    )
}
