/**
 * @module ui/pages/keys: API keys: create (the secret is shown once, in the answer to the create
 * or rotate, and never again), scopes, warehouses, revoke, rotate (#16). Admin scope only.
 */
import { isKeyActive, SCOPES, type ApiKey, type Scope } from '../../domain/api-key.js'
import { ValidationError } from '../../domain/errors.js'
import { createApiKey, listApiKeys, revokeApiKey, rotateApiKey, type CreatedApiKey } from '../../service/api-keys.js'
import { listWarehouses } from '../../service/catalog.js'
import { can, type UiContext } from '../context.js'
import { explainError, int, readForm, requiredText, statusOf } from '../forms.js'
import { badge, html, notice, when, type Html } from '../html.js'
import type { UiPage } from '../index.js'
import { actionButton } from './common.js'

function stateOf(k: ApiKey, now: number): Html {
  if (k.revokedAt !== null) return badge('muted', 'revoked')
  if (!isKeyActive(k, now)) return badge('muted', 'expired')
  return badge('ok', 'active')
}

function shownOnce(created: CreatedApiKey, verb: string): Html {
  return notice(
    'ok',
    html`<p><strong>${verb} key ${created.apiKey.name}</strong> (${created.apiKey.id}). Copy the secret now: it is shown this once and stored only as a hash.</p>
<label for="new-secret">Secret</label><code id="new-secret" class="secret" data-secret>${created.secret}</code>
<p class="hint">Signing secret for signed requests (also shown once): <code class="secret">${created.signingSecret}</code></p>`,
  )
}

export const keysPage: UiPage = {
  nav: { path: '/admin/keys', label: 'API keys' },
  register(ui, deps, render) {
    async function page(c: UiContext, outcome: Html | null = null, status: 200 | 201 | 403 | 404 | 409 | 422 | 400 | 502 = 200) {
      if (!can(c, 'admin')) return render(c, { title: 'API keys', current: '/admin/keys' }, html`${outcome ?? ''}<p class="muted">Listing and managing keys needs a key with the admin scope.</p>`, status === 200 ? 403 : status)
      const [keys, warehouses] = await Promise.all([listApiKeys(deps), listWarehouses(deps)])
      const now = deps.clock.now()
      const csrf = c.get('csrf')
      return render(
        c,
        { title: 'API keys', current: '/admin/keys' },
        html`${outcome ?? ''}
<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Scopes</th><th scope="col" class="hide-narrow">Warehouses</th><th scope="col" class="hide-narrow">Created</th><th scope="col" class="hide-narrow">Last used</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead><tbody>
${keys.map(
  (k) => html`<tr data-key="${k.id}"><td>${k.name}${k.id === c.get('key').id ? html` ${badge('muted', 'this session')}` : ''}</td><td><code>${k.prefix}…</code></td><td>${k.scopes.join(', ')}</td><td class="hide-narrow">${k.warehouses ? k.warehouses.join(', ') : 'all'}</td>
<td class="hide-narrow">${when(k.createdAt)}</td><td class="hide-narrow">${when(k.lastUsedAt)}</td><td>${stateOf(k, now)}${k.expiresAt ? html` <span class="hint">until ${when(k.expiresAt)}</span>` : ''}</td>
<td>${k.revokedAt === null ? html`${actionButton(`/admin/keys/${encodeURIComponent(k.id)}/rotate`, csrf, 'Rotate')} ${actionButton(`/admin/keys/${encodeURIComponent(k.id)}/revoke`, csrf, 'Revoke', { danger: true })}` : ''}</td></tr>`,
)}
</tbody></table></div>
<h2>New key</h2>
<form method="post" action="/admin/keys" class="card">
<input type="hidden" name="_csrf" value="${csrf}">
<div class="field"><label for="key-name">Name</label><input id="key-name" name="name" type="text" required maxlength="100" class="wide"></div>
<fieldset class="field"><legend>Scopes</legend>${SCOPES.map((s) => html`<label><input type="checkbox" name="scope_${s}"${s === 'read' ? html` checked` : ''}> ${s}</label> `)}
<p class="hint">read: every GET; write: movements, transfers, reservations; admin: everything, including warehouses and keys.</p></fieldset>
<fieldset class="field"><legend>Warehouses it may move stock in</legend>${warehouses.map((w) => html`<label><input type="checkbox" name="wh_${w.id}"> ${w.code}</label> `)}<p class="hint">None ticked: every warehouse.</p></fieldset>
<div class="field"><label for="key-days">Expires after (days, empty: never)</label><input id="key-days" name="expires_days" type="number" min="1" max="3650"></div>
<button type="submit">Create key</button>
</form>`,
        status,
      )
    }
    const sealKey = deps.sealKey ?? null
    ui.get('/keys', (c) => page(c))
    ui.post('/keys', async (c) => {
      if (!can(c, 'admin')) return page(c, notice('bad', 'This key lacks the admin scope.'), 403)
      try {
        const f = await readForm(c)
        const scopes = SCOPES.filter((s) => f[`scope_${s}`] === 'on') as Scope[]
        if (scopes.length === 0) throw new ValidationError([{ pointer: '/scopes', message: 'must include at least one scope' }])
        const warehouses = Object.keys(f).flatMap((k) => (/^wh_\d{1,10}$/.test(k) && f[k] === 'on' ? [Number(k.slice(3))] : []))
        const days = int(f, 'expires_days', { min: 1, max: 3650 })
        const created = await createApiKey(deps, requiredText(f, 'name', 100), scopes, { warehouses: warehouses.length ? warehouses : null, expiresInMs: days ? days * 86_400_000 : null, sealKey })
        return page(c, shownOnce(created, 'Created'), 201)
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
    ui.post('/keys/:id/revoke', async (c) => {
      if (!can(c, 'admin')) return page(c, notice('bad', 'This key lacks the admin scope.'), 403)
      try {
        await revokeApiKey(deps, c.req.param('id'))
        deps.verifier.invalidate()
        return page(c, notice('ok', html`Revoked ${c.req.param('id')}. Its sessions end with their next request.`))
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
    ui.post('/keys/:id/rotate', async (c) => {
      if (!can(c, 'admin')) return page(c, notice('bad', 'This key lacks the admin scope.'), 403)
      try {
        const created = await rotateApiKey(deps, c.req.param('id'), { sealKey })
        return page(c, shownOnce(created, 'Rotated; the old key keeps working until you revoke it. New'), 201)
      } catch (e) {
        return page(c, explainError(e), statusOf(e))
      }
    })
  },
}
