// Finds the built UI's files (ui-svelte/build) for the SPA server: safe path resolution and the
// cache policy; http/static-file.ts serves them with the same rules as the downloads.
import { join, normalize, sep } from 'node:path'

/** SvelteKit puts content-hashed bundles here; a hash change is a new URL, so cache forever. */
export const IMMUTABLE_PREFIX = '/_app/immutable/'
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable'
/** Everything else (index.html, version.json, favicon) may change with a redeploy. */
export const REVALIDATE_CACHE = 'no-cache'

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
