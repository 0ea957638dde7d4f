/**
 * Summarise a .cpuprofile of the server by layer (see lib/profile.ts).
 *   npx tsx bench/profile-summary.ts FILE.cpuprofile [warm-up seconds to skip]
 */
import { renderProfile, summarizeProfile } from './lib/profile.js'

const [file, skip] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [skip-seconds]\n')
  process.exit(2)
}
process.stdout.write(`${renderProfile(summarizeProfile(file, Number(skip ?? 0)))}\n`)
