// The one error shape of the HTTP API: services throw HttpError, the app's onError renders
// {"error":{"message","type"[,"field"]}} with the error's status. ErrorSchema is that shape
// for routes' response declarations (the OpenAPI document names it per status).
import { type Static, Type } from '@sinclair/typebox'

export const ErrorSchema = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    field: Type.Optional(Type.String()),
    rule: Type.Optional(Type.String()),
  }),
})

export type ErrorBody = Static<typeof ErrorSchema>

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = defaultType(status),
    readonly field?: string,
    readonly headers?: Record<string, string>,
    /** For a validation refusal: which rule the field broke (the UI words it per language). */
    readonly rule?: string,
  ) {
    super(message)
  }

  toBody(): ErrorBody {
    return {
      error: {
        message: this.message,
        type: this.type,
        ...(this.field ? { field: this.field } : {}),
        ...(this.rule ? { rule: this.rule } : {}),
      },
    }
  }
}

function defaultType(status: number): string {
  if (status === 400) return 'invalid_request'
  if (status === 401) return 'unauthorized'
  if (status === 403) return 'forbidden'
  if (status === 404) return 'not_found'
  if (status === 409) return 'conflict'
  if (status === 413) return 'payload_too_large'
  if (status === 415) return 'unsupported_media_type'
  if (status === 429) return 'rate_limited'
  if (status === 503) return 'unavailable'
  return status >= 500 ? 'internal_error' : 'error'
}

export const badRequest = (message: string, field?: string) =>
  new HttpError(400, message, 'invalid_request', field)
export const unauthorized = (message = 'Authentication required') => new HttpError(401, message)
export const forbidden = (message = 'You do not have permission to do this') => new HttpError(403, message)
export const notFound = (what = 'Resource') => new HttpError(404, `${what} not found`)
export const conflict = (message: string) => new HttpError(409, message)

export function errorResponse(err: HttpError): Response {
  return new Response(JSON.stringify(err.toBody()), {
    status: err.status,
    headers: { 'content-type': 'application/json', ...err.headers },
  })
}
