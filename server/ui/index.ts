// Serves the built browser UI (ui-svelte/build) at `/`: real files with their content type and
// cache policy, index.html for any other page path (the SPA routes on the client) with its
// Content-Security-Policy, JSON 404s under /api, and a plain page saying how to build the UI
// when it has not been built. The headers every response gets come from http/security-headers.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { contentTypeOf, serveFile } from '../http/static-file.ts'
import { NOT_BUILT_CSP, pagePolicy } from './csp.ts'
import { IMMUTABLE_CACHE, IMMUTABLE_PREFIX, REVALIDATE_CACHE, resolveUnder } from './static.ts'

export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui-svelte/build', import.meta.url))

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Open ACE: UI not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The web UI has not been built</h1>
<p>The API is running, but this server has no built UI to show. On the server, run:</p>
<pre style="background:#f3f4f6;padding:1rem;border-radius:6px">bun run build:ui</pre>
<p>then reload this page. The API itself answers under <code>/api</code> (see <a href="/api/docs">/api/docs</a>).</p>
</body></html>`

/** A built file, or null when there is none; a page carries the policy its own inline scripts need. */
async function serveUiFile(request: Request, path: string, cacheControl: string): Promise<Response | null> {
  if (!contentTypeOf(path).startsWith('text/html')) return serveFile(request, { path, cacheControl })
  const body = await readFile(path).catch(() => null)
  if (!body) return null
  return serveFile(request, { path, cacheControl, headers: { 'content-security-policy': pagePolicy(body) } })
}

export interface UiOptions {
  /** The built UI folder; tests point it elsewhere. */
  dir?: string
}

export function uiRoutes(ctx: AppContext, options: UiOptions = {}) {
  const root = options.dir ?? DEFAULT_UI_DIR
  const serve = async ({ request }: { request: Request }) => {
    const pathname = new URL(request.url).pathname
    if (pathname === '/api' || pathname.startsWith('/api/')) {
      throw new HttpError(404, `No route for ${request.method} ${pathname}`, 'not_found')
    }
    const path = resolveUnder(root, pathname)
    if (path === null) throw new HttpError(400, 'Malformed path', 'invalid_request')
    const cache = pathname.startsWith(IMMUTABLE_PREFIX) ? IMMUTABLE_CACHE : REVALIDATE_CACHE
    const file = pathname.endsWith('/') ? null : await serveUiFile(request, path, cache)
    if (file) return file
    // A missing bundle is a real 404: answering index.html would hand the browser HTML as JS.
    if (pathname.startsWith('/_app/')) throw new HttpError(404, `No file ${pathname}`, 'not_found')
    const index = await serveUiFile(request, `${root}/index.html`, REVALIDATE_CACHE)
    if (index) return index
    return new Response(NOT_BUILT_PAGE, {
      status: 503,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': NOT_BUILT_CSP,
      },
    })
  }
  return new Elysia({ name: 'ui', seed: ctx.id })
    .get('/', serve, { detail: { hide: true } })
    .get('/*', serve, { detail: { hide: true } })
}
