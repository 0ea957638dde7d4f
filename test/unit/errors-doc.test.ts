import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CATALOG } from '../../src/domain/errors.js'

describe('docs/errors.md', () => {
  const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const)

  it('lists every error code with its status', () => {
    for (const [code, { status }] of Object.entries(ERROR_CATALOG)) expect(rows).toContainEqual([code, status])
  })
  it('lists no code the service does not have', () => {
    for (const [code] of rows) expect(Object.keys(ERROR_CATALOG)).toContain(code)
  })
})
