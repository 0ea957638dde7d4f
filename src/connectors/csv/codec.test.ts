/** csvLine against csv-parse: every kind of cell an export writes reads back as it was (#14). */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { csvCell, csvLine, readCsv } from './codec.js'

async function readBack(text: string): Promise<Array<Record<string, string>>> {
  const out: Array<Record<string, string>> = []
  for await (const r of readCsv(Readable.from([Buffer.from(text)]), { maxBytes: 1 << 20, required: ['a'], known: ['a', 'b', 'c'] })) out.push({ ...r.fields })
  return out
}

describe('csvLine', () => {
  it('writes plain cells bare and numbers as numbers', () => {
    expect(csvLine(['SKU-1', 12, -3, null, undefined, ''])).toBe('SKU-1,12,-3,,,\r\n')
  })

  it('quotes separators, quotes, line breaks and edge spaces, and escapes formulas', () => {
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('a;b')).toBe('"a;b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"')
    expect(csvCell(' padded ')).toBe('" padded "')
    expect(csvCell('=1+2')).toBe("'=1+2")
    expect(csvCell('-5')).toBe("'-5")
    expect(csvCell('@x,y')).toBe('"\'@x,y"')
  })

  it('reads back through csv-parse exactly as written', async () => {
    const cells = ['plain', 'a,b', 'a;b', 'say "hi"', 'two\r\nlines', 'one\nline', ' padded ', '=SUM(A1)', '+1', '-2', '@home', '\ttab', 'ünïcødé ✓', '""', "'quoted", '']
    const text = csvLine(['a', 'b', 'c']) + cells.map((v, i) => csvLine([v, i, v])).join('')
    const rows = await readBack(text)
    expect(rows).toHaveLength(cells.length)
    rows.forEach((r, i) => expect(r).toEqual({ a: cells[i], b: String(i), c: cells[i] }))
  })
})

describe('readCsv line numbers', () => {
  it('counts empty lines and line breaks inside quoted cells', async () => {
    for (const eol of ['\r\n', '\n']) {
      const text = ['', 'a,b', '1,x', '', '2,"two', 'lines"', '3,y', '', '', '4,"a', 'b', 'c"', '5,z'].join(eol)
      const lines: Array<[number, string]> = []
      for await (const r of readCsv(Readable.from([Buffer.from(text)]), { maxBytes: 1 << 20, required: ['a'], known: ['a', 'b'] })) lines.push([r.line, r.fields.a!])
      expect(lines).toEqual([
        [3, '1'],
        [5, '2'],
        [7, '3'],
        [10, '4'],
        [13, '5'],
      ])
    }
  })
})
