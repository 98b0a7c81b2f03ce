// Headers every response carries, set once before routing so errors, 404s and streamed answers
// get them too: no MIME sniffing, no referrer leaving the site, no framing, HSTS when the public
// address is https. API answers are never cached (login, registration and token rotation put
// credentials in the body; a route that serves cacheable files sets its own Cache-Control) and
// get a CSP that forbids everything, since no API answer is meant to render as a page, except
// the documentation page (api-docs/), which may run the viewer's scripts from this server only.
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'

export const API_CSP = "default-src 'none'; frame-ancestors 'none'"
/** /api/docs: Swagger UI from this origin (its files are served here, no CDN), the spec fetched from here. */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
/** One year, as browsers' preload lists expect; only sent when PUBLIC_URL is https. */
const HSTS = 'max-age=31536000; includeSubDomains'

export function baseSecurityHeaders(publicUrl: string | undefined): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'x-frame-options': 'DENY',
    ...(publicUrl?.startsWith('https://') ? { 'strict-transport-security': HSTS } : {}),
  }
}

const isApiPath = (pathname: string) => pathname === '/api' || pathname.startsWith('/api/')
const isDocsPage = (pathname: string) =>
  pathname === '/api/docs' || pathname === '/api/docs/' || pathname.startsWith('/api/docs/assets/')

export function securityHeaders(ctx: AppContext) {
  const base = baseSecurityHeaders(ctx.config.publicUrl)
  return new Elysia({ name: 'http.security-headers', seed: ctx.id }).onRequest(({ request, set }) => {
    Object.assign(set.headers, base)
    const { pathname } = new URL(request.url)
    if (isApiPath(pathname)) {
      set.headers['cache-control'] = 'no-store'
      set.headers['content-security-policy'] = isDocsPage(pathname) ? DOCS_CSP : API_CSP
    }
  })
}
