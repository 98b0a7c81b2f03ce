// Unknown query parameters on the API are refused with a 400 naming the parameter. Elysia drops
// keys a route's query schema does not name, so `?stauts=active` would otherwise be a 200 that
// quietly listed everything. A route's allowed keys are its query schema's; a route without one
// takes none; a schema that says `additionalProperties: true` takes any (the OpenID Connect
// callback, whose parameters are the provider's). The LLM proxy passes its query through to the
// provider, so it is left alone.
import { Elysia } from 'elysia'
import { LLM_PROXY_PATH } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'

interface RouteLike {
  method: string
  path: string
  hooks?: { query?: unknown }
}

/** An unknown name is echoed in the error only this far. */
const MAX_NAME_CHARS = 100

/** Each route's allowed keys (null: any key, an open schema); one table per server instance. */
export type QueryKeyTable = Map<string, ReadonlySet<string> | null>

export const createQueryKeyTable = (): QueryKeyTable => new Map()

const routeKey = (method: string, path: string) => `${method.toUpperCase()} ${path}`

function schemaKeys(schema: unknown): ReadonlySet<string> | null {
  const object = schema as
    | { properties?: Record<string, unknown>; additionalProperties?: unknown }
    | undefined
  if (object?.additionalProperties === true) return null
  return new Set(Object.keys(object?.properties ?? {}))
}

/** Records every route's allowed query keys; called once the app has all its routes. */
export function learnQueryKeys(ctx: AppContext, routes: readonly RouteLike[]): void {
  const table = ctx.state.queryKeys
  table.clear()
  for (const route of routes) table.set(routeKey(route.method, route.path), schemaKeys(route.hooks?.query))
}

const checked = (pathname: string) =>
  pathname.startsWith('/api/') && pathname !== LLM_PROXY_PATH && !pathname.startsWith(`${LLM_PROXY_PATH}/`)

export function unknownQueryGuard(ctx: AppContext) {
  // beforeHandle runs after authentication (transform), so a caller without credentials still
  // gets 401 first, as with every other validation.
  return new Elysia({ name: 'http.query-keys', seed: ctx.id }).onBeforeHandle(
    { as: 'global' },
    ({ request, route }) => {
      const url = new URL(request.url)
      if (!url.search || !checked(url.pathname)) return
      const table = ctx.state.queryKeys
      const allowed =
        table.get(routeKey(request.method, route)) ??
        (request.method === 'HEAD' ? table.get(routeKey('GET', route)) : undefined)
      if (!allowed) return
      for (const key of url.searchParams.keys()) {
        if (allowed.has(key)) continue
        const known = [...allowed].map((k) => `'${k}'`).join(', ')
        const name = key.slice(0, MAX_NAME_CHARS)
        throw new HttpError(
          400,
          `Unknown query parameter '${name}'; this endpoint takes ${known || 'none'}`,
          'validation_error',
          name,
        )
      }
    },
  )
}
