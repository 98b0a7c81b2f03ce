// The API's documentation page at /api/docs, readable without internet: Swagger UI's files come
// from the swagger-ui-dist npm package and are served from here (the openapi plugin's own page
// loads its viewer from a CDN, so it only renders the JSON spec, at /api/docs/json). The page
// runs no inline script, so its CSP (http/security-headers.ts) allows scripts from here only.
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { DOCS_ASSETS, DOCS_PAGE, readDocsAsset } from './assets.ts'

export const DOCS_PATH = '/api/docs'
export const DOCS_SPEC_PATH = `${DOCS_PATH}/json`

export function apiDocsRoutes(ctx: AppContext) {
  return new Elysia({ name: 'api-docs', seed: ctx.id, prefix: DOCS_PATH })
    .get('/', () => new Response(DOCS_PAGE, { headers: { 'content-type': 'text/html; charset=utf-8' } }), {
      detail: { hide: true },
    })
    .get(
      '/assets/:file',
      async ({ params, set }) => {
        const asset = DOCS_ASSETS[params.file]
        if (!asset) throw new HttpError(404, `No documentation asset ${params.file}`, 'not_found')
        set.headers['content-type'] = asset.type
        // The file names carry no version, but a server serves one package version until it restarts.
        set.headers['cache-control'] = 'public, max-age=3600'
        return new Response(await readDocsAsset(params.file))
      },
      { detail: { hide: true } },
    )
}
