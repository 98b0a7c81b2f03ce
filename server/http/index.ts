// Cross-cutting HTTP behaviour for the whole app: one JSON error shape for every 4xx/5xx
// (validation errors name their field) and one structured log line per request. Query
// strings are never logged: a Google-style client puts its key there.
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { type ErrorBody, errorResponse, HttpError } from '../errors.ts'

interface ValidationLike {
  all?: Array<{ path?: string; summary?: string; message?: string }>
  type?: string
  message: string
}

/** The first failing field of an Elysia validation error, as `field` and a sentence. */
export function describeValidation(error: ValidationLike): HttpError {
  const first = error.all?.[0]
  const path = (first?.path ?? '').replace(/^\//, '').replaceAll('/', '.')
  const where = error.type && error.type !== 'body' ? error.type : 'body'
  const field = path || where
  const detail = first?.summary ?? first?.message ?? 'is invalid'
  const message = path ? `Invalid ${field}: ${detail}` : `Invalid request ${where}: ${detail}`
  return new HttpError(400, message, 'validation_error', field)
}

const startTimes = new WeakMap<Request, number>()

export function httpBase(ctx: AppContext) {
  const log = ctx.log.child({ component: 'http' })
  return new Elysia({ name: 'http.base', seed: ctx.id })
    .onRequest(({ request }) => {
      startTimes.set(request, performance.now())
    })
    .onError({ as: 'global' }, ({ code, error, request, set }) => {
      let httpError: HttpError
      if (error instanceof HttpError) httpError = error
      else if (code === 'VALIDATION') httpError = describeValidation(error as unknown as ValidationLike)
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
      else if (typeof code === 'number')
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
