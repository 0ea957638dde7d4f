/**
 * @module ui/session: login, logout, the session cookie and the CSRF check (#16).
 *
 * - The cookie holds a random token (HttpOnly, SameSite=Strict, Path=/admin, Secure over HTTPS);
 *   the session row (service/admin-sessions) holds its hash, the key and the CSRF token.
 * - Every form carries the session's CSRF token in `_csrf`; a POST without the right one is
 *   refused with 403 before any handler runs. SameSite=Strict already keeps other sites' forms
 *   from carrying the cookie; the token also stops a same-site page (another port, a subdomain).
 * - The login form has no session yet: its token is a double-submit cookie of its own.
 */
import { randomBytes } from 'node:crypto'
import type { Context, Hono, MiddlewareHandler } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { equalsConstantTime } from '../security/constant-time.js'
import { closeAdminSession, openAdminSession, resumeAdminSession, DEFAULT_SESSION_POLICY } from '../service/admin-sessions.js'
import type { UiDeps, UiEnv } from './context.js'
import { renderBare } from './layout.js'
import { html, notice } from './html.js'

export const SESSION_COOKIE = 'sb_admin'
const LOGIN_COOKIE = 'sb_admin_login'

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https'
}

function cookieOptions(c: Context, maxAgeSeconds: number) {
  return { path: '/admin', httpOnly: true, sameSite: 'Strict' as const, secure: isHttps(c), maxAge: maxAgeSeconds }
}

/** Only `/admin…` paths, never `//host` or a scheme: a `next` parameter cannot send the user away. */
function safeNext(v: string | undefined): string {
  return v && /^\/admin(\/[^\\]*)?(\?.*)?$/.test(v) && !v.startsWith('//') ? v : '/admin'
}

async function formOf(c: Context): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return {}
  const body = await c.req.parseBody()
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v
  return out
}

function loginPage(c: Context, status: 200 | 401 | 403, message: string | null, next: string) {
  const token = randomBytes(24).toString('base64url')
  setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, 1800))
  return c.html(
    renderBare(
      'Sign in',
      html`${message ? notice('bad', message) : ''}
<form method="post" action="/admin/login" class="card narrow">
  <input type="hidden" name="_csrf" value="${token}">
  <input type="hidden" name="next" value="${next}">
  <label for="api_key">API key</label>
  <input id="api_key" name="api_key" type="password" autocomplete="current-password" required autofocus spellcheck="false" placeholder="sbk_…">
  <p class="hint">The key is exchanged for a session and not kept in the browser. A key with only the read scope sees everything and changes nothing.</p>
  <button type="submit">Sign in</button>
</form>`,
    ),
    status,
  )
}

export function registerLogin(ui: Hono<UiEnv>, deps: UiDeps): void {
  const policy = deps.session ?? DEFAULT_SESSION_POLICY
  ui.get('/login', (c) => loginPage(c, 200, null, safeNext(c.req.query('next'))))
  ui.post('/login', async (c) => {
    const form = await formOf(c)
    const expected = getCookie(c, LOGIN_COOKIE)
    const next = safeNext(form.next)
    if (!expected || !form._csrf || !equalsConstantTime(expected, form._csrf)) return loginPage(c, 403, 'The sign-in form expired; please try again.', next)
    const opened = await openAdminSession(deps, deps.verifier, form.api_key ?? '', policy)
    if (!opened) return loginPage(c, 401, 'That API key is unknown, revoked or expired.', next)
    deleteCookie(c, LOGIN_COOKIE, { path: '/admin' })
    setCookie(c, SESSION_COOKIE, opened.token, cookieOptions(c, Math.floor((opened.expiresAt - deps.clock.now()) / 1000)))
    return c.redirect(next, 303)
  })
}

/** Resume the session or send the browser to the login page; refuse a POST without the CSRF token. */
export function requireSession(deps: UiDeps): MiddlewareHandler<UiEnv> {
  const policy = deps.session ?? DEFAULT_SESSION_POLICY
  return async function adminSession(c, next) {
    const token = getCookie(c, SESSION_COOKIE)
    const session = token ? await resumeAdminSession(deps, token, policy) : null
    if (!session) {
      if (token) deleteCookie(c, SESSION_COOKIE, { path: '/admin' })
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.html(renderBare('Signed out', html`<p>Your session ended. <a href="/admin/login">Sign in again</a>.</p>`), 401)
      const target = `/admin/login?next=${encodeURIComponent(new URL(c.req.url).pathname + new URL(c.req.url).search)}`
      // htmx follows redirects inside fetch; a full-page navigation is what a lapsed session needs.
      if (c.req.header('hx-request')) return c.body(null, 204, { 'hx-redirect': target })
      return c.redirect(target, 303)
    }
    c.set('key', session.key)
    c.set('csrf', session.csrfToken)
    if (c.req.method === 'POST') {
      const form = await formOf(c)
      const presented = form._csrf ?? c.req.header('x-csrf-token') ?? ''
      if (!presented || !equalsConstantTime(presented, session.csrfToken)) {
        return c.html(renderBare('Refused', html`${notice('bad', 'This form did not carry a valid CSRF token, so nothing was changed. Reload the page and try again.')}`), 403)
      }
    }
    await next()
  }
}

export function registerLogout(ui: Hono<UiEnv>, deps: UiDeps): void {
  ui.post('/logout', async (c) => {
    const token = getCookie(c, SESSION_COOKIE)
    if (token) await closeAdminSession(deps, token)
    deleteCookie(c, SESSION_COOKIE, { path: '/admin' })
    return c.redirect('/admin/login', 303)
  })
}
