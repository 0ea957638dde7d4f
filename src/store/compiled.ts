/**
 * @module store/compiled: fixed-shape statements compiled once, then run with fresh parameters.
 *
 * Kysely builds and compiles a query tree on every call. On the movement path the same handful of
 * SQL shapes run thousands of times a second, and building them was about a fifth of a write's
 * CPU. Kysely has no prepared-query API, so this small one is written here: a statement is built
 * once per dialect (and per shape, where the input decides which clauses exist) with named slots
 * in place of values; each run puts the real values at the slots' parameter positions.
 */
import type { Compilable, CompiledQuery } from 'kysely'
import type { Executor } from './db.js'

/** A slot's stand-in value while the template is built: never sent to the database. */
const SLOT_MARK = '\u0000slot:'

/** `v('sku')` stands where the SKU will go; typed `never` so it fits wherever a value is expected. */
export type Slot<K extends string> = (name: K) => never

interface Template {
  readonly compiled: CompiledQuery
  /** Per parameter position: the name of the slot it takes, or a constant the builder fixed. */
  readonly params: ReadonlyArray<{ readonly slot: string } | { readonly value: unknown }>
}

const slot = ((name: string) => `${SLOT_MARK}${name}`) as Slot<string>

function templateOf(compiled: CompiledQuery): Template {
  const params = compiled.parameters.map((p) => (typeof p === 'string' && p.startsWith(SLOT_MARK) ? { slot: p.slice(SLOT_MARK.length) } : { value: p }))
  return { compiled, params }
}

/** Runs a statement's SQL with its parameters on a connection, synchronously; returns its rows. */
export type DirectRunner = (sql: string, parameters: ReadonlyArray<unknown>) => unknown[]

/**
 * Executors whose statements may skip Kysely's executor: a SQLite connection while a group commit
 * holds it (store/group-commit.ts). Kysely would take the connection again for each statement,
 * through its provider, plugins and several promise steps; the unit already holds it, and the
 * statement is the same prepared one (store/db.ts caches them by text), so running it directly is
 * the same work minus that (#13).
 */
const directRunners = new WeakMap<object, DirectRunner>()

/** Let compiled statements on `ex` run through `runner` until the returned function is called. */
export function runDirectlyOn(ex: object, runner: DirectRunner): () => void {
  directRunners.set(ex, runner)
  return () => void directRunners.delete(ex)
}

/** Bound on shapes kept per statement and dialect (IN-lists of many lengths would otherwise grow it). */
const MAX_SHAPES = 256

/** A value for every slot the shape uses (an array for numbered slots); a missing one throws at run time. */
export type SlotValues<K extends string> = Readonly<Partial<Record<K, unknown>>> | ReadonlyArray<unknown>

export interface CompiledStatement<K extends string, R, S> {
  /** The rows the statement returns (none for a statement without RETURNING). */
  run(ex: Executor, values: SlotValues<K>, shape: S): Promise<R[]>
}

/**
 * A statement whose SQL depends only on the dialect and on `shapeKey(shape)`. The builder must put
 * every varying value through `v(...)`; anything else it writes is fixed into the template.
 */
export function compiledStatement<K extends string, R, S = undefined>(
  build: (ex: Executor, v: Slot<K>, shape: S) => Compilable<R>,
  shapeKey: (shape: S) => string = () => '',
): CompiledStatement<K, R, S> {
  // Keyed by the dialect adapter: a transaction shares its database's adapter, and each dialect compiles differently.
  const byAdapter = new WeakMap<object, Map<string, Template>>()
  return {
    async run(ex, values, shape) {
      const adapter = ex.getExecutor().adapter
      let shapes = byAdapter.get(adapter)
      if (!shapes) byAdapter.set(adapter, (shapes = new Map()))
      const key = shapeKey(shape)
      let t = shapes.get(key)
      if (!t) {
        t = templateOf(build(ex, slot, shape).compile())
        if (shapes.size < MAX_SHAPES) shapes.set(key, t)
      }
      const vals = values as Record<string, unknown>
      const parameters = t.params.map((p) => {
        if (!('slot' in p)) return p.value
        const value = vals[p.slot]
        if (value === undefined) throw new Error(`No value for slot "${p.slot}"`)
        return value
      })
      const direct = directRunners.get(ex)
      if (direct) return direct(t.compiled.sql, parameters) as R[]
      const result = await ex.executeQuery<R>({ ...t.compiled, parameters } as CompiledQuery<R>)
      return result.rows
    },
  }
}
