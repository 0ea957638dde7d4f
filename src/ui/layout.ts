/** @module ui/layout: the page shell: head, skip link, navigation, main. */
import type { UiContext } from './context.js'
import { html, type Html } from './html.js'

export interface NavEntry {
  readonly path: string
  readonly label: string
}

export interface PageOptions {
  readonly title: string
  /** The nav entry to mark as current. */
  readonly current?: string
  /** Extra stylesheets and scripts under /admin/assets (uPlot on the SKU page). */
  readonly styles?: ReadonlyArray<string>
  readonly scripts?: ReadonlyArray<string>
}

// htmx 4 injects a <style> for its request indicators unless told not to; the CSP forbids inline
// styles, and admin.css carries the indicator rule instead.
const HTMX_CONFIG = '{"includeIndicatorCSS":false,"defaultSwap":"outerHTML"}'

function head(title: string, styles: ReadonlyArray<string>, scripts: ReadonlyArray<string>, csrf: string | null): Html {
  return html`<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · stockbridge</title>
<meta name="htmx-config" content="${HTMX_CONFIG}">
${csrf ? html`<meta name="csrf-token" content="${csrf}">` : ''}
<link rel="stylesheet" href="/admin/assets/admin.css">
${styles.map((s) => html`<link rel="stylesheet" href="/admin/assets/${s}">`)}
<script src="/admin/assets/htmx.min.js" defer></script>
${scripts.map((s) => html`<script src="/admin/assets/${s}" defer></script>`)}
<script src="/admin/assets/admin.js" defer></script>
</head>`
}

export function renderPage(c: UiContext, nav: ReadonlyArray<NavEntry>, o: PageOptions, body: Html): Html {
  const key = c.get('key')
  const csrf = c.get('csrf')
  return html`<!doctype html>
<html lang="en">
${head(o.title, o.styles ?? [], o.scripts ?? [], csrf)}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/admin">stockbridge</a>
  <nav aria-label="Main">
    <ul>
      ${nav.map((n) => html`<li><a href="${n.path}"${n.path === o.current ? html` aria-current="page"` : ''}>${n.label}</a></li>`)}
    </ul>
  </nav>
  <form class="who" method="post" action="/admin/logout">
    <input type="hidden" name="_csrf" value="${csrf}">
    <span class="muted" title="${key.id}">${key.name} · ${key.scopes.join(', ')}</span>
    <button type="submit" class="link">Log out</button>
  </form>
</header>
<main id="main" tabindex="-1">
<h1>${o.title}</h1>
${body}
</main>
</body>
</html>`
}

/** The login page and error pages shown without a session. */
export function renderBare(title: string, body: Html, csrf: string | null = null): Html {
  return html`<!doctype html>
<html lang="en">
${head(title, [], [], csrf)}
<body class="bare">
<main id="main">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`
}
