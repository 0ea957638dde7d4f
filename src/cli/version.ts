/** @module cli/version: the package version, found from src/ (tsx) as well as from a build in dist/. */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The version in the nearest package.json named stockbridge above this file. */
export function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const file = path.join(dir, 'package.json')
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'stockbridge' && pkg.version) return pkg.version
    }
    dir = path.dirname(dir)
  }
  return 'unknown'
}
