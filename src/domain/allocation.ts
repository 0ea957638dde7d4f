/** @module domain/allocation: splitting a quantity across warehouses by priority, explainably. */
import { insufficientStock } from './errors.js'

export interface AllocationCandidate {
  readonly warehouseId: number
  readonly warehouseCode: string
  /** Lower numbers are served first; ties go to the lower warehouse id. */
  readonly priority: number
  readonly available: number
}

export interface AllocationLine {
  readonly warehouseId: number
  readonly quantity: number
}

export interface Allocation {
  readonly lines: ReadonlyArray<AllocationLine>
  /** Human-readable reason for each line, so a split can be explained to whoever asks. */
  readonly explanation: ReadonlyArray<string>
}

/**
 * Take the quantity from warehouses in priority order, as much as each has available.
 * Refuses with insufficient_stock (giving the total available) when all together fall short.
 */
export function allocateByPriority(sku: string, quantity: number, candidates: ReadonlyArray<AllocationCandidate>, allowsBackorders = false): Allocation {
  const ordered = [...candidates].sort((a, b) => a.priority - b.priority || a.warehouseId - b.warehouseId)
  const lines: AllocationLine[] = []
  const explanation: string[] = []
  let remaining = quantity
  for (const c of ordered) {
    if (remaining === 0) break
    const take = Math.min(remaining, Math.max(0, c.available))
    if (take === 0) {
      explanation.push(`${c.warehouseCode} (priority ${c.priority}) skipped: nothing available`)
      continue
    }
    lines.push({ warehouseId: c.warehouseId, quantity: take })
    explanation.push(`${c.warehouseCode} (priority ${c.priority}) gives ${take} of ${c.available} available`)
    remaining -= take
  }
  if (remaining > 0) {
    const first = ordered[0]
    if (allowsBackorders && first) {
      const existing = lines.find((l) => l.warehouseId === first.warehouseId)
      const merged = lines.filter((l) => l !== existing)
      merged.unshift({ warehouseId: first.warehouseId, quantity: (existing?.quantity ?? 0) + remaining })
      explanation.push(`${first.warehouseCode} backorders the remaining ${remaining}`)
      return { lines: merged, explanation }
    }
    const total = ordered.reduce((sum, c) => sum + Math.max(0, c.available), 0)
    throw insufficientStock(sku, null, quantity, total)
  }
  return { lines, explanation }
}
