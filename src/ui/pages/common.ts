/** @module ui/pages/common: pieces several pages share. */
import type { Warehouse } from '../../domain/warehouse.js'
import { badge, html, type Html } from '../html.js'

export function healthBadge(health: string): Html {
  return health === 'ok' ? badge('ok', 'healthy') : health === 'unhealthy' ? badge('bad', 'unhealthy') : badge('muted', 'unknown')
}

export function warehouseLabel(byId: ReadonlyMap<number, Warehouse>, id: number): string {
  const w = byId.get(id)
  return w ? `${w.code}` : `#${id}`
}

export function warehouseOptions(warehouses: ReadonlyArray<Warehouse>, selected: number | undefined, o: { any?: string; onlyActive?: boolean } = {}): Html {
  return html`${o.any ? html`<option value="">${o.any}</option>` : ''}${warehouses
    .filter((w) => !o.onlyActive || w.isActive)
    .map((w) => html`<option value="${w.id}"${w.id === selected ? html` selected` : ''}>${w.code} · ${w.name}${w.isActive ? '' : ' (inactive)'}</option>`)}`
}

/** A small form with just the CSRF token and one button: a POST action that needs no input. */
export function actionButton(action: string, csrf: string, label: string, o: { danger?: boolean; extra?: Html; hx?: string } = {}): Html {
  return html`<form class="inline" method="post" action="${action}"${o.hx ? html` hx-post="${action}" hx-target="${o.hx}" hx-swap="outerHTML"` : ''}>
<input type="hidden" name="_csrf" value="${csrf}">${o.extra ?? ''}<button type="submit" class="${o.danger ? 'danger' : 'secondary'}">${label}</button></form>`
}
