// Finds and reads the built UI's files (ui-svelte/build) for the SPA server: safe path
// resolution, content types and cache policy. node:fs keeps it runnable on Deno as well.
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'

/** SvelteKit puts content-hashed bundles here; a hash change is a new URL, so cache forever. */
export const IMMUTABLE_PREFIX = '/_app/immutable/'
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable'
/** Everything else (index.html, version.json, favicon) may change with a redeploy. */
export const REVALIDATE_CACHE = 'no-cache'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream'
}

/** The file under `root` a URL path names, or null when it escapes the root or is malformed. */
export function resolveUnder(root: string, urlPath: string): string | null {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    return null
  }
  if (decoded.includes('\0')) return null
  const full = normalize(join(root, decoded))
  return full.startsWith(root.endsWith(sep) ? root : root + sep) ? full : null
}

export interface StaticFile {
  body: Uint8Array<ArrayBuffer>
  etag: string
}

/** A regular file's bytes and a validator, or null when there is no such file. */
export async function readStaticFile(path: string): Promise<StaticFile | null> {
  const info = await stat(path).catch(() => null)
  if (!info?.isFile()) return null
  // readFile allocates a fresh, plain ArrayBuffer; the cast only tells the DOM typings so.
  const body = (await readFile(path)) as Uint8Array<ArrayBuffer>
  return { body, etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"` }
}
