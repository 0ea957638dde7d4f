/** @module cli/stock: read a SKU's stock from the command line. */
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { parseSku } from '../domain/sku.js'
import { getStock } from '../service/stock.js'
import { stockJson } from '../http/views.js'
import { withRuntime } from './with-runtime.js'

export function registerStock(program: Command, config: Config): void {
  const stock = program.command('stock').description('Read stock')
  stock
    .command('get <sku>')
    .description('Totals and every warehouse of one SKU')
    .option('--warehouse <id>', 'one warehouse only')
    .option('--json', 'print the API\'s JSON (GET /stock/{sku}: snake_case, ISO-8601 times)')
    .action((sku: string, opts: { warehouse?: string; json?: boolean }) =>
      withRuntime(config, async (rt) => {
        const wh = opts.warehouse === undefined ? undefined : Number(opts.warehouse)
        if (wh !== undefined && (!Number.isSafeInteger(wh) || wh <= 0)) throw new Error('--warehouse must be a positive whole number')
        const v = await getStock(rt.deps, parseSku(sku, 'SKU'), wh)
        if (opts.json) {
          // The API's shape, so a script reads the same fields from the CLI and from HTTP.
          process.stdout.write(`${JSON.stringify(stockJson(v, wh), null, 2)}\n`)
          return
        }
        process.stdout.write(`${v.product.sku}  product ${v.product.productId}${v.product.parentId ? ` (parent ${v.product.parentId})` : ''}${v.product.name ? `  ${v.product.name}` : ''}\n`)
        process.stdout.write(`total  on hand ${v.totals.onHand}  reserved ${v.totals.reserved}  available ${v.totals.available}\n`)
        for (const l of v.levels) {
          process.stdout.write(`  ${String(l.warehouseCode ?? l.warehouseId).padEnd(12)} on hand ${String(l.onHand).padStart(6)}  reserved ${String(l.reserved).padStart(5)}  available ${String(l.available).padStart(6)}${l.isLowStock ? '  LOW' : ''}\n`)
        }
      }),
    )
}
