/** @module domain/api-key: who may call the API, and what they may do. */
import { invalid } from './errors.js'

export const SCOPES = Object.freeze(['read', 'write', 'admin'] as const)
export type Scope = (typeof SCOPES)[number]

export interface ApiKey {
  readonly id: string
  readonly name: string
  /** The first characters of the key, shown in listings so an operator can tell keys apart. */
  readonly prefix: string
  readonly scopes: ReadonlyArray<Scope>
  readonly createdAt: number
  readonly revokedAt: number | null
  readonly lastUsedAt: number | null
}

/** `admin` implies every other scope; `read` and `write` are independent, for least privilege. */
export function hasScope(granted: ReadonlyArray<Scope>, needed: Scope): boolean {
  return granted.includes('admin') || granted.includes(needed)
}

export function parseScopes(value: string): Scope[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean)
  if (parts.length === 0) throw invalid('/scopes', 'must name at least one scope')
  for (const p of parts) {
    if (!(SCOPES as ReadonlyArray<string>).includes(p)) throw invalid('/scopes', `unknown scope "${p}"; expected ${SCOPES.join(', ')}`)
  }
  return [...new Set(parts)] as Scope[]
}
