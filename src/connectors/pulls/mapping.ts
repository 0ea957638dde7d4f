/**
 * @module connectors/pulls/mapping: a pull source's JSONata mapping, evaluated with bounds.
 * A mapping turns one response page into `[{ sku, quantity }]`. JSONata (the `jsonata` package)
 * is a full language, so an expression written by an admin could loop or allocate without end:
 * every evaluation step passes a hook that stops it past a time budget or a nesting depth, and
 * the result is cut off past a size. (The provider mappings of the supply branch evaluate the same
 * way; the two are meant to share one evaluator at merge.)
 */
import jsonata from 'jsonata'

/** The seed's `External_API_Client::sync_from_warehouse` format: `{"inventory_items":[{"sku","quantity"}]}`. */
export const DEFAULT_PULL_MAPPING = 'inventory_items.{ "sku": sku, "quantity": quantity }'

export interface MappingLimits {
  /** Wall time one evaluation may take. */
  readonly timeMs: number
  /** Nesting of evaluation steps (recursion), a guard against runaway user functions. */
  readonly depth: number
  /** Items one page may map to. */
  readonly items: number
}

export const DEFAULT_MAPPING_LIMITS: MappingLimits = Object.freeze({ timeMs: 2000, depth: 300, items: 100_000 })

export class MappingError extends Error {
  /** Where in the expression it failed (character offset), when JSONata says. */
  readonly position: number | null
  constructor(message: string, position: number | null = null, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MappingError'
    this.position = position
  }
}

interface JsonataError {
  message?: string
  position?: number
  code?: string
}

/** Compile an expression, or throw a MappingError saying where it is wrong. */
export function compileMapping(expression: string): jsonata.Expression {
  try {
    return jsonata(expression)
  } catch (e) {
    const je = e as JsonataError
    throw new MappingError(`The mapping does not compile: ${je.message ?? String(e)}`, typeof je.position === 'number' ? je.position : null, { cause: e })
  }
}

/** Evaluate a compiled mapping against one document, bounded in time, depth and result size. */
export async function evaluateBounded(expr: jsonata.Expression, input: unknown, limits: MappingLimits = DEFAULT_MAPPING_LIMITS): Promise<unknown> {
  const started = Date.now()
  let depth = 0
  const bindings = expr as unknown as { assign(name: symbol, value: unknown): void }
  bindings.assign(Symbol.for('jsonata.__evaluate_entry'), () => {
    depth++
    if (depth > limits.depth) throw new MappingError(`The mapping nests deeper than ${limits.depth} steps (runaway recursion?)`)
    if (Date.now() - started > limits.timeMs) throw new MappingError(`The mapping ran longer than ${limits.timeMs} ms`)
  })
  bindings.assign(Symbol.for('jsonata.__evaluate_exit'), () => {
    depth--
  })
  try {
    return await expr.evaluate(input)
  } catch (e) {
    if (e instanceof MappingError) throw e
    const je = e as JsonataError
    throw new MappingError(`The mapping failed: ${je.message ?? String(e)}`, typeof je.position === 'number' ? je.position : null, { cause: e })
  }
}

/** One item of a mapped page, as the bulk-sync service checks it (sku and a whole count). */
export interface MappedCount {
  readonly sku: unknown
  readonly quantity: unknown
}

/** The mapping's result as a list of counts: undefined is none, one object is one item. */
export function countsOf(result: unknown, limits: MappingLimits = DEFAULT_MAPPING_LIMITS): MappedCount[] {
  if (result === undefined || result === null) return []
  const list = Array.isArray(result) ? result : [result]
  if (list.length > limits.items) throw new MappingError(`The mapping produced ${list.length} items; a page may produce at most ${limits.items}`)
  return list.map((it: unknown) => {
    if (typeof it !== 'object' || it === null || Array.isArray(it)) return { sku: null, quantity: it }
    const o = it as Record<string, unknown>
    // Warehouse APIs often send counts as numeric strings ("12"); whole numbers only.
    const q = typeof o.quantity === 'string' && /^\s*\d{1,10}\s*$/.test(o.quantity) ? Number(o.quantity) : o.quantity
    return { sku: typeof o.sku === 'number' ? String(o.sku) : o.sku, quantity: q }
  })
}

/** Compile, evaluate and normalise in one go. */
export async function mapPage(expression: string | null, body: unknown, limits: MappingLimits = DEFAULT_MAPPING_LIMITS): Promise<MappedCount[]> {
  const expr = compileMapping(expression ?? DEFAULT_PULL_MAPPING)
  return countsOf(await evaluateBounded(expr, body, limits), limits)
}
