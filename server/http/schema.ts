// Schema helpers for the HTTP layer: answers several folders share, and `documented` for
// answers that are described but not checked. `oneOf` and `IsoTime` (protocol/) are re-exported
// for the routes' models.
import { type TSchema, Type } from '@sinclair/typebox'
import type { DocumentDecoration } from 'elysia'
import { IsoTime } from '../../protocol/index.ts'

export { IsoTime, oneOf } from '../../protocol/index.ts'

/** The answer of a change that has nothing else to say (a delete, a password change). */
export const OkAnswer = Type.Object({ ok: Type.Literal(true) })

/** A timestamp column in a response (db/schema/timestamps.ts): the protocol's ISO-8601 UTC, or null. */
export const NullableIsoTime = Type.Union([IsoTime, Type.Null()])

type Responses = NonNullable<DocumentDecoration['responses']>

/**
 * A documented answer for `detail.responses`, for routes whose body Elysia must not check or
 * cannot: event streams, WebSocket upgrades, downloads, Prometheus text, redirects, a provider's
 * answer passed through. The openapi plugin shows `detail.responses` as given when the route has
 * no `response` schema, so this documents without any check at run time.
 */
export function documented(
  status: number,
  description: string,
  content: Record<string, TSchema> = {},
  headers?: Record<string, TSchema>,
): Responses {
  return {
    [status]: {
      description,
      ...(headers && {
        headers: Object.fromEntries(Object.entries(headers).map(([name, schema]) => [name, { schema }])),
      }),
      ...(Object.keys(content).length && {
        content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])),
      }),
    },
  } as Responses
}
