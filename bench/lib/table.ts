/** @module bench/lib/table: the result rows, the printed table and bench/results.json. */

export interface Row {
  readonly name: string
  /** null: no figure (not built yet, skipped, failed). */
  readonly value: number | null
  readonly unit: string
  /** The raw limit measured in the same run (null when there is none). */
  readonly limit: number | null
  /** value / limit. For rates, 1.0 means as fast as the raw limit; for times and sizes, 1.0 means no overhead. */
  readonly ratio: number | null
  /** What the limit is. */
  readonly limitOf?: string
  /** The mission's target, as text (e.g. "≥ 5000"). */
  readonly target?: string
  /** Whether the value meets the target; null when there is no target or no value. */
  readonly met?: boolean | null
  readonly note?: string
}

export interface Target {
  readonly op: '>=' | '<=' | '<' | '='
  readonly bound: number
}

export const atLeast = (bound: number): Target => ({ op: '>=', bound })
export const below = (bound: number): Target => ({ op: '<', bound })
export const atMost = (bound: number): Target => ({ op: '<=', bound })
export const exactly = (bound: number): Target => ({ op: '=', bound })

function describe(t: Target, unit: string): string {
  const sym = { '>=': '≥', '<=': '≤', '<': '<', '=': '=' }[t.op]
  return `${sym} ${t.bound.toLocaleString('en-US')} ${unit}`
}

function meets(t: Target, v: number): boolean {
  switch (t.op) {
    case '>=':
      return v >= t.bound
    case '<=':
      return v <= t.bound
    case '<':
      return v < t.bound
    case '=':
      return v === t.bound
  }
}

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100)

export function row(name: string, value: number | null, unit: string, limit: number | null, extra: { limitOf?: string; target?: Target; note?: string } = {}): Row {
  const ratio = value !== null && limit !== null && limit !== 0 ? Math.round((value / limit) * 1000) / 1000 : null
  return {
    name,
    value: value === null ? null : round(value),
    unit,
    limit: limit === null ? null : round(limit),
    ratio,
    ...(extra.limitOf ? { limitOf: extra.limitOf } : {}),
    ...(extra.target ? { target: describe(extra.target, unit), met: value === null ? null : meets(extra.target, value) } : {}),
    ...(extra.note ? { note: extra.note } : {}),
  }
}

const fmt = (v: number | null) => (v === null ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: 2 }))

export function renderTable(rows: ReadonlyArray<Row>): string {
  const header = ['figure', 'value', 'unit', 'raw limit (same run)', 'ratio', 'target', 'ok', 'note']
  const cells = rows.map((r) => [
    r.name,
    r.value === null ? (r.note?.startsWith('not built yet') ? 'not built yet' : 'n/a') : fmt(r.value),
    r.unit,
    r.limit === null ? '—' : `${fmt(r.limit)}${r.limitOf ? ` (${r.limitOf})` : ''}`,
    r.ratio === null ? '—' : r.ratio.toFixed(2),
    r.target ?? '',
    r.met === undefined || r.met === null ? '' : r.met ? 'yes' : 'MISSED',
    r.value === null && r.note?.startsWith('not built yet') ? r.note.slice('not built yet'.length).replace(/^[:;,]\s*/, '') : (r.note ?? ''),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const numeric = new Set([1, 4])
  const line = (c: ReadonlyArray<string>) => `| ${c.map((x, i) => (numeric.has(i) ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join(' | ')} |`
  return [line(header), `|${widths.map((w, i) => (numeric.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`, ...cells.map(line)].join('\n')
}
