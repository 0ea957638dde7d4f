/** @module domain/warehouse: a place that holds stock, served in priority order. */
export interface Warehouse {
  readonly id: number
  readonly code: string
  readonly name: string
  readonly location: string | null
  /** Lower numbers are allocated from first. */
  readonly priority: number
  readonly isActive: boolean
  readonly createdAt: number
  readonly updatedAt: number
}
