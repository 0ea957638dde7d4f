/** @module store/warehouse-repo: warehouses, the places stock lives. */
import type { Warehouse } from '../domain/warehouse.js'
import type { Executor } from './db.js'
import { pastCursor } from './keyset.js'

interface WarehouseRow {
  id: number
  code: string
  name: string
  location: string | null
  priority: number
  is_active: number
  created_at: number | string
  updated_at: number | string
}

function toWarehouse(r: WarehouseRow): Warehouse {
  return {
    id: Number(r.id),
    code: r.code,
    name: r.name,
    location: r.location,
    priority: Number(r.priority),
    isActive: Number(r.is_active) === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

export async function listWarehouses(ex: Executor): Promise<Warehouse[]> {
  const rows = await ex.selectFrom('warehouse').selectAll().orderBy('priority').orderBy('id').execute()
  return rows.map(toWarehouse)
}

/** One page in allocation order, after the (priority, id) key `after` (#12). */
export async function listWarehousePage(ex: Executor, take: number, after?: { readonly priority: number; readonly id: number }): Promise<Warehouse[]> {
  const rows = await ex
    .selectFrom('warehouse')
    .selectAll()
    .$if(after !== undefined, (qb) => qb.where((eb) => pastCursor(eb, '>', 'priority', after!.priority, 'id', after!.id)))
    .orderBy('priority')
    .orderBy('id')
    .limit(take)
    .execute()
  return rows.map(toWarehouse)
}

export async function findWarehouse(ex: Executor, id: number): Promise<Warehouse | undefined> {
  const row = await ex.selectFrom('warehouse').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toWarehouse(row) : undefined
}

export async function findWarehouseByCode(ex: Executor, code: string): Promise<Warehouse | undefined> {
  const row = await ex.selectFrom('warehouse').selectAll().where('code', '=', code).executeTakeFirst()
  return row ? toWarehouse(row) : undefined
}

export interface NewWarehouse {
  readonly code: string
  readonly name: string
  readonly location: string | null
  readonly priority: number
  readonly isActive: boolean
}

export async function insertWarehouse(ex: Executor, w: NewWarehouse, now: number): Promise<Warehouse> {
  const row = await ex
    .insertInto('warehouse')
    .values({ code: w.code, name: w.name, location: w.location, priority: w.priority, is_active: w.isActive ? 1 : 0, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow()
  return toWarehouse(row)
}

export type WarehousePatch = Partial<NewWarehouse>

export async function updateWarehouse(ex: Executor, id: number, p: WarehousePatch, now: number): Promise<Warehouse | undefined> {
  const row = await ex
    .updateTable('warehouse')
    .set({
      ...(p.code !== undefined ? { code: p.code } : {}),
      ...(p.name !== undefined ? { name: p.name } : {}),
      ...(p.location !== undefined ? { location: p.location } : {}),
      ...(p.priority !== undefined ? { priority: p.priority } : {}),
      ...(p.isActive !== undefined ? { is_active: p.isActive ? 1 : 0 } : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst()
  return row ? toWarehouse(row) : undefined
}
