/** docs/providers.md shows each built-in preset's example, signed: the doc stays true to the presets (#14). */
import { createHmac } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import jsonata from 'jsonata'
import { describe, expect, it } from 'vitest'
import { PROVIDER_PRESETS } from '../../src/service/provider-presets.js'

const DOC = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/providers.md'), 'utf8')
const SECRET = 'example-secret-0123456789'

describe('docs/providers.md', () => {
  for (const p of Object.values(PROVIDER_PRESETS)) {
    it(`shows ${p.name}'s example with a signature that verifies under the example secret`, () => {
      const body = JSON.stringify(p.example)
      expect(DOC).toContain(`### \`${p.name}\``)
      expect(DOC).toContain(`--data-binary '${body}'`)
      expect(DOC).toContain(`-H '${p.header}: ${createHmac('sha256', SECRET).update(body).digest(p.encoding)}'`)
    })

    it(`${p.name}'s mapping turns its example into movements`, async () => {
      const out = (await jsonata(p.mapping).evaluate(p.example)) as { movements: unknown[] }
      expect(out.movements.length).toBeGreaterThan(0)
      for (const m of out.movements) expect(m).toMatchObject({ sku: expect.any(String), quantity: expect.any(Number), change_type: expect.any(String) })
    })
  }
})
