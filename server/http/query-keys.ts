// Unknown query parameters on the API are refused with a 400 naming the parameter. Elysia drops
// keys a route's query schema does not name, so `?stauts=active` would otherwise be a 200 that
// quietly listed everything. A route's allowed keys are its query schema's; a route without one
// takes none; a schema that says `additionalProperties: true` takes any (the OpenID Connect
// callback, whose parameters are the provider's). The LLM proxy passes its query through to the
// provider, so it is left alone. The same table finds the parameter a validation error is about
// when Elysia's own error has lost its name (`failingQueryParameter`).
import { Value } from '@sinclair/typebox/value'
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

interface RouteQuery {
  /** The keys it takes; null: any key (an open schema). */
  allowed: ReadonlySet<string> | null
  /** Each key's schema, as Elysia checks and decodes it. */
  properties: Record<string, unknown>
}

/** Each route's query parameters; one table per server instance. */
export type QueryKeyTable = Map<string, RouteQuery>

export const createQueryKeyTable = (): QueryKeyTable => new Map()

const routeKey = (method: string, path: string) => `${method.toUpperCase()} ${path}`

function routeQuery(schema: unknown): RouteQuery {
  const object = schema as
    | { properties?: Record<string, unknown>; additionalProperties?: unknown }
    | undefined
  const properties = object?.properties ?? {}
  return {
    allowed: object?.additionalProperties === true ? null : new Set(Object.keys(properties)),
    properties,
  }
}

/** Records every route's query parameters; called once the app has all its routes. */
export function learnQueryKeys(ctx: AppContext, routes: readonly RouteLike[]): void {
  const table = ctx.state.queryKeys
  table.clear()
  for (const route of routes) table.set(routeKey(route.method, route.path), routeQuery(route.hooks?.query))
}

function queryOf(ctx: AppContext, method: string, route: string): RouteQuery | undefined {
  const table = ctx.state.queryKeys
  return (
    table.get(routeKey(method, route)) ?? (method === 'HEAD' ? table.get(routeKey('GET', route)) : undefined)
  )
}

/**
 * The query parameter of this request that fails its schema, when a validation error does not
 * say: a value of the right form but out of range (`?limit=0`) fails in Elysia's decode, whose
 * error has no path. Each parameter is decoded alone with its own schema; the first that fails
 * is the one.
 */
export function failingQueryParameter(ctx: AppContext, request: Request, route: string): string | null {
  const query = queryOf(ctx, request.method, route)
  if (!query) return null
  const params = new URL(request.url).searchParams
  for (const key of new Set(params.keys())) {
    const schema = query.properties[key]
    if (!schema) continue
    const values = params.getAll(key)
    try {
      Value.Decode(schema as never, values.length === 1 ? values[0] : values)
    } catch {
      return key
    }
  }
  return null
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
      const allowed = queryOf(ctx, request.method, route)?.allowed
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
