// Headers every response carries, set once before routing so errors, 404s and streamed answers
// get them too: no MIME sniffing, no referrer leaving the site, no framing, HSTS when the public
// address is https. API answers are never cached (login, registration and token rotation put
// credentials in the body; a route that serves cacheable files sets its own Cache-Control) and
// get a CSP that forbids everything, since no API answer is meant to render as a page.
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'

export const API_CSP = "default-src 'none'; frame-ancestors 'none'"
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

export function securityHeaders(ctx: AppContext) {
  const base = baseSecurityHeaders(ctx.config.publicUrl)
  return new Elysia({ name: 'http.security-headers', seed: ctx.id }).onRequest(({ request, set }) => {
    Object.assign(set.headers, base)
    if (isApiPath(new URL(request.url).pathname)) {
      set.headers['cache-control'] = 'no-store'
      set.headers['content-security-policy'] = API_CSP
    }
  })
}
