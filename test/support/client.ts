// The one HTTP client for server tests: Eden Treaty over app.handle, typed from the server's App,
// so a test calls a route by name (client.api.tokens.post(...)) instead of building a Request.
// A test that must send what Eden cannot express (a malformed body, a raw header) uses
// server.request and says why.
import { treaty } from '@elysiajs/eden'
import type { App } from '../../server/app.ts'

/**
 * Calls go to app.handle at `url`: http://localhost (the host the test server trusts, as
 * server.request uses), or a listening server's own url, so links the server builds from the
 * request's host point at it. parseDate off keeps timestamps the ISO strings the server sent, as
 * the tests compare them.
 */
export const testClient = (app: App, url = 'http://localhost') =>
  treaty<App>(url, {
    fetcher: ((input: RequestInfo | URL, init?: RequestInit) =>
      app.handle(new Request(input, init))) as typeof fetch,
    parseDate: false,
  })

/**
 * The same client over a real socket, for servers a test reaches by address only: a second
 * instance, a server in its own process, a forwarder in front of several. `headers` go with every
 * call (a login cookie, the Origin the browser would send).
 */
export const remoteClient = (url: string, headers: Record<string, string> = {}) =>
  treaty<App>(url, { parseDate: false, headers })

/** The API as a signed-in browser: its login cookie, and the Origin of the page it loaded (`url`). */
export const browserApi = (url: string, cookie: string, origin = url) =>
  remoteClient(url, { cookie, origin }).api

/** Request options for calling as the holder of a login cookie (none: logged out). */
export const withCookie = (cookie?: string) => ({ headers: cookie ? { cookie } : {} })
/** Request options for calling with a bearer token (a personal access token, an agent token). */
export const withBearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

/** A response body as `Response.json()` gives it: tests read many shapes and their assertions check them. */
// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
export type Json = any

/** Status, headers and body of an Eden call, whichever way it went: the data on success, else the error body. */
export async function reply<Body = Json>(
  call: Promise<{ status: number; headers?: HeadersInit; data: unknown; error: { value: unknown } | null }>,
): Promise<{ status: number; headers: Headers; body: Body }> {
  const res = await call
  return {
    status: res.status,
    headers: new Headers(res.headers),
    body: (res.error ? res.error.value : res.data) as Body,
  }
}
