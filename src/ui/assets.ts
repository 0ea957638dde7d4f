/**
 * @module ui/assets: the UI's static files, all from npm packages or this folder, served locally
 * (no CDN: the UI works offline). Read and gzipped once at start; answered with a long cache
 * lifetime keyed on content (ETag), gzip when the browser takes it.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { Context } from 'hono'

const require = createRequire(import.meta.url)
const here = dirname(fileURLToPath(import.meta.url))

function packageFile(pkg: string, file: string): string {
  return join(dirname(require.resolve(`${pkg}/package.json`)), file)
}

const SOURCES: Record<string, { path: () => string; type: string }> = {
  // htmx 4 (htmx.org 4.x): fetch-based, explicit inheritance, colon-separated event names.
  'htmx.min.js': { path: () => packageFile('htmx.org', 'dist/htmx.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': { path: () => packageFile('uplot', 'dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: () => packageFile('uplot', 'dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  'admin.css': { path: () => join(here, 'assets', 'admin.css'), type: 'text/css; charset=utf-8' },
  'admin.js': { path: () => join(here, 'assets', 'admin.js'), type: 'text/javascript; charset=utf-8' },
}

interface Asset {
  readonly body: Buffer
  readonly gzip: Buffer
  readonly type: string
  readonly etag: string
}

let loaded: Map<string, Asset> | null = null

function assets(): Map<string, Asset> {
  if (loaded) return loaded
  const m = new Map<string, Asset>()
  for (const [name, s] of Object.entries(SOURCES)) {
    const body = readFileSync(s.path())
    m.set(name, { body, gzip: gzipSync(body, { level: 9 }), type: s.type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` })
  }
  loaded = m
  return m
}

export const ASSET_NAMES = Object.keys(SOURCES)

export function serveAsset(c: Context, name: string): Response {
  const a = assets().get(name)
  if (!a) return c.text('Not found', 404)
  const headers: Record<string, string> = { 'content-type': a.type, etag: a.etag, 'cache-control': 'public, max-age=3600', vary: 'accept-encoding' }
  if (c.req.header('if-none-match') === a.etag) return c.body(null, 304, headers)
  if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) return c.body(new Uint8Array(a.gzip), 200, { ...headers, 'content-encoding': 'gzip' })
  return c.body(new Uint8Array(a.body), 200, headers)
}
