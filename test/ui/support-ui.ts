/** Helpers for the admin UI suites: signing in over plain HTTP, and reading tokens out of pages. */
import { expect } from 'vitest'

type Fetcher = (path: string, init?: RequestInit) => Promise<Response> | Response

/** The cookies a response sets, as `name=value` pairs ready for a Cookie header. */
export function cookiesOf(res: Response): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';')
    const i = pair!.indexOf('=')
    out.set(pair!.slice(0, i), pair!.slice(i + 1))
  }
  return out
}

export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html)
  if (!m) throw new Error('no CSRF token in the page')
  return m[1]!
}

export function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  return { body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
}

export interface Signed {
  /** The Cookie header of the session. */
  readonly cookie: string
  /** The session's raw cookie value. */
  readonly token: string
  readonly csrf: string
  readonly loginResponse: Response
}

/** Sign in the way a browser does: load the form, post the key with the form's token. */
export async function signIn(fetcher: Fetcher, key: string): Promise<Signed> {
  const page = await fetcher('/admin/login')
  expect(page.status).toBe(200)
  const loginCookie = cookiesOf(page).get('sb_admin_login')!
  const f = form({ _csrf: csrfOf(await page.text()), api_key: key, next: '/admin' })
  const res = await fetcher('/admin/login', { method: 'POST', body: f.body, headers: { ...f.headers, cookie: `sb_admin_login=${loginCookie}` } })
  expect(res.status).toBe(303)
  const token = cookiesOf(res).get('sb_admin')
  if (!token) throw new Error('no session cookie after sign-in')
  const cookie = `sb_admin=${token}`
  const home = await fetcher('/admin', { headers: { cookie } })
  expect(home.status).toBe(200)
  return { cookie, token, csrf: csrfOf(await home.text()), loginResponse: res }
}
