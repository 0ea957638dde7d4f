/** promtool (Debian's prometheus package; .ci/run installs it where missing): lint metrics text and rule files. */
import { spawnSync } from 'node:child_process'

export const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool'

export function promtool(args: ReadonlyArray<string>, input?: string): { status: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { input, encoding: 'utf8', timeout: 30_000 })
  if (r.error) throw new Error(`promtool could not run (${PROMTOOL}): ${r.error.message}`)
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}
