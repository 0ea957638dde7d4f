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
  /** Warehouses this key may move stock in; null: every warehouse. */
  readonly warehouses: ReadonlyArray<number> | null
  /** Requests with this key must carry X-Timestamp, X-Nonce and X-Signature. */
  readonly requireSignature: boolean
  /** After this instant the key is refused like a revoked one; null: never expires. */
  readonly expiresAt: number | null
  /** The key this one replaced (`keys rotate`); the old one works until revoked or expired. */
  readonly rotatedFrom: string | null
  readonly createdAt: number
  readonly revokedAt: number | null
  readonly lastUsedAt: number | null
}

/** `admin` implies every other scope; `read` and `write` are independent, for least privilege. */
export function hasScope(granted: ReadonlyArray<Scope>, needed: Scope): boolean {
  return granted.includes('admin') || granted.includes(needed)
}

/** A key is usable when it is neither revoked nor past its expiry. */
export function isKeyActive(key: Pick<ApiKey, 'revokedAt' | 'expiresAt'>, now: number): boolean {
  return key.revokedAt === null && (key.expiresAt === null || now < key.expiresAt)
}

/** May a credential restricted to `allowed` (null: unrestricted) write to `warehouseId`? */
export function mayWriteWarehouse(allowed: ReadonlyArray<number> | null | undefined, warehouseId: number): boolean {
  return allowed === null || allowed === undefined || allowed.includes(warehouseId)
}

export function parseScopes(value: string): Scope[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean)
  if (parts.length === 0) throw invalid('/scopes', 'must name at least one scope')
  for (const p of parts) {
    if (!(SCOPES as ReadonlyArray<string>).includes(p)) throw invalid('/scopes', `unknown scope "${p}"; expected ${SCOPES.join(', ')}`)
  }
  return [...new Set(parts)] as Scope[]
}

/** `1,2,3` → [1, 2, 3]: positive 32-bit warehouse ids, at least one, no duplicates. */
export function parseWarehouseList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean)
  if (parts.length === 0) throw invalid('/warehouses', 'must name at least one warehouse id')
  const ids = parts.map((p) => {
    if (!/^\d{1,10}$/.test(p) || Number(p) < 1 || Number(p) > 2_147_483_647) throw invalid('/warehouses', `"${p.slice(0, 20)}" is not a warehouse id`)
    return Number(p)
  })
  return [...new Set(ids)].sort((a, b) => a - b)
}

const DURATION_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `90d`, `12h`, `30m`, `45s` → milliseconds (at most ten years). */
export function parseDuration(value: string, pointer = '/expires_in'): number {
  const m = /^(\d{1,6})([smhd])$/.exec(value.trim())
  if (!m) throw invalid(pointer, 'must be a whole number followed by s, m, h or d (e.g. 90d)')
  const ms = Number(m[1]) * DURATION_UNITS_MS[m[2] as keyof typeof DURATION_UNITS_MS]
  if (ms <= 0 || ms > 3650 * DURATION_UNITS_MS.d) throw invalid(pointer, 'must be more than zero and at most ten years')
  return ms
}
