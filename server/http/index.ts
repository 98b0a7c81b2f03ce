// Cross-cutting HTTP behaviour for the whole app: security headers on every response, one JSON
// error shape for every 4xx/5xx (validation errors name their field) and one structured log
// line per request; unknown query parameters are refused (query-keys.ts). Query strings are
// never logged: a Google-style client puts its key there.
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { type ErrorBody, errorResponse, HttpError } from '../errors.ts'
import { bodyLimits } from './body-limit.ts'
import { patternRule } from './patterns.ts'
import { failingQueryParameter, unknownQueryGuard } from './query-keys.ts'
import { securityHeaders } from './security-headers.ts'

interface FailedSchema {
  pattern?: unknown
  type?: unknown
  minimum?: unknown
  maximum?: unknown
  anyOf?: FailedSchema[]
}

interface ValidationLike {
  all?: Array<{ path?: string; summary?: string; message?: string; schema?: FailedSchema; value?: unknown }>
  type?: string
  message: string
}

/**
 * What an integer field takes, in words: `?limit=abc` would otherwise read "should be one of:
 * 'integer', 'integer'" (a query integer is a string or a number to Elysia).
 */
function integerWords(schema: FailedSchema | undefined): string | null {
  const integer = schema?.type === 'integer' ? schema : schema?.anyOf?.find((s) => s.type === 'integer')
  if (!integer) return null
  const min = typeof integer.minimum === 'number' ? integer.minimum : null
  const max = typeof integer.maximum === 'number' ? integer.maximum : null
  if (min !== null && max !== null) return `must be a whole number from ${min} to ${max}`
  if (min !== null) return `must be a whole number of at least ${min}`
  if (max !== null) return `must be a whole number of at most ${max}`
  return 'must be a whole number'
}

/**
 * The first failing field of an Elysia validation error, as `field` and a sentence. `name` is the
 * field when the error itself has no path (a query value that failed in its decode, which names
 * neither: `failingQueryParameter`).
 */
export function describeValidation(error: ValidationLike, name?: string | null): HttpError {
  const first = error.all?.[0]
  const path = (first?.path ?? '').replace(/^\//, '').replaceAll('/', '.') || (name ?? '')
  const where = error.type && error.type !== 'body' ? error.type : 'body'
  const field = path || where
  const pattern = first?.schema?.pattern
  // A failed pattern is told in words, never as the regular expression.
  const broken = typeof pattern === 'string' ? patternRule(pattern) : null
  // An integer given but not taken (a missing one is told as missing).
  const integer = first?.value !== undefined ? integerWords(first.schema) : null
  const detail = broken?.words ?? integer ?? first?.summary ?? first?.message ?? 'is invalid'
  const message = path ? `Invalid ${field}: ${detail}` : `Invalid request ${where}: ${detail}`
  return new HttpError(400, message, 'validation_error', field, undefined, broken?.rule)
}

/**
 * Postgres "data exception" codes that only a request's own values cause: a NUL character in
 * text (22021) or in JSON (22P05), a number too large for its column (22003). Same codes on
 * PGlite and postgres-js; drizzle puts the driver error in `cause`.
 */
const BAD_VALUE_SQLSTATES = new Set(['22021', '22P05', '22003'])
const sqlState = (error: unknown) => String((error as { cause?: { code?: unknown } } | null)?.cause?.code)

const startTimes = new WeakMap<Request, number>()

export function httpBase(ctx: AppContext) {
  const log = ctx.log.child({ component: 'http' })
  return new Elysia({ name: 'http.base', seed: ctx.id })
    .use(securityHeaders(ctx))
    .use(bodyLimits(ctx))
    .use(unknownQueryGuard(ctx))
    .onRequest(({ request }) => {
      startTimes.set(request, performance.now())
    })
    .onError({ as: 'global' }, ({ code, error, request, route, set }) => {
      let httpError: HttpError
      if (error instanceof HttpError) httpError = error
      else if (code === 'VALIDATION') {
        const validation = error as unknown as ValidationLike
        const name = validation.type === 'property' ? failingQueryParameter(ctx, request, route) : null
        httpError = describeValidation(validation, name)
      }
      // A route's own parser may refuse a body with its own error (e.g. 413); Elysia wraps it.
      else if (code === 'PARSE' && (error as Error).cause instanceof HttpError)
        httpError = (error as Error).cause as HttpError
      else if (code === 'PARSE')
        httpError = new HttpError(400, 'The request body is not valid JSON', 'invalid_json', 'body')
      else if (code === 'NOT_FOUND')
        httpError = new HttpError(
          404,
          `No route for ${request.method} ${new URL(request.url).pathname}`,
          'not_found',
        )
      else if (code === 'INVALID_COOKIE_SIGNATURE')
        httpError = new HttpError(
          401,
          'Your session cookie is not valid; please log in again',
          'unauthorized',
        )
      else if (BAD_VALUE_SQLSTATES.has(sqlState(error))) {
        log.warn('value refused by the database', {
          path: new URL(request.url).pathname,
          code: sqlState(error),
        })
        httpError = new HttpError(
          400,
          'A value in the request cannot be stored (a NUL character, or a number out of range)',
          'invalid_request',
        )
      } else if (typeof code === 'number')
        httpError = new HttpError(code, (error as unknown as Error).message || 'Request failed')
      else {
        log.error('unhandled error', { method: request.method, path: new URL(request.url).pathname, error })
        httpError = new HttpError(500, 'Internal server error', 'internal_error')
      }
      set.status = httpError.status
      return errorResponse(httpError)
    })
    .onAfterResponse({ as: 'global' }, ({ request, set, responseValue }) => {
      const started = startTimes.get(request)
      const status = responseValue instanceof Response ? responseValue.status : Number(set.status ?? 200)
      log.info('request', {
        method: request.method,
        path: new URL(request.url).pathname,
        status,
        ms: started === undefined ? undefined : Math.round((performance.now() - started) * 100) / 100,
      })
    })
}

export type { ErrorBody }
