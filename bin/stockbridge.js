#!/usr/bin/env node
// Runs the compiled CLI from dist/ when `npm run build` made one; otherwise the TypeScript
// sources through tsx, so `npx stockbridge` also works without a build step.
// STOCKBRIDGE_FROM_SOURCE=1 forces the sources (a dist/ older than your changes would be stale).
import fs from 'node:fs'

const dist = new URL('../dist/cli/index.js', import.meta.url)
if (process.env.STOCKBRIDGE_FROM_SOURCE !== '1' && fs.existsSync(dist)) {
  await import(dist.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/index.ts')
}
