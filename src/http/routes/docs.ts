/** @module http/routes/docs: the OpenAPI document and a browsable page, served from local files only. */
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import type { App } from '../env.js'

const require = createRequire(import.meta.url)
// swagger-ui-dist ships the UI as static files; served from here so /docs works with no internet.
const UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'))
const UI_FILES: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stockbridge API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`

const INIT = `window.ui = SwaggerUIBundle({ url: '/inventory/v1/openapi.json', dom_id: '#ui', deepLinking: true, persistAuthorization: true })`

export function registerDocsRoutes(app: App): void {
  app.get('/docs', (c) => c.html(PAGE))
  app.get('/docs/init.js', (c) => c.body(INIT, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }))
  app.get('/docs/:file', (c) => {
    const file = c.req.param('file')
    const type = UI_FILES[file]
    if (!type) return c.notFound()
    return c.body(fs.readFileSync(path.join(UI_DIR, file)), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' })
  })
}
