// Schema helpers for the HTTP layer. `oneOf` exists because Elysia's t.UnionEnum quietly
// defaults an absent optional field to its first value, which would, for instance, turn
// an omitted role into `system_admin`.
import { type SchemaOptions, type TLiteral, type TUnion, Type } from '@sinclair/typebox'

type Literals<T extends readonly string[]> = { [K in keyof T]: TLiteral<T[K]> }

export function oneOf<const T extends readonly string[]>(
  values: T,
  options?: SchemaOptions,
): TUnion<[...Literals<T>]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as unknown as TUnion<[...Literals<T>]>
}

/** The answer of a change that has nothing else to say (a delete, a password change). */
export const OkAnswer = Type.Object({ ok: Type.Literal(true) })

/** A timestamp as every response sends it: ISO-8601 UTC (db/schema/timestamps.ts). */
export const IsoTime = Type.String({ description: 'ISO-8601 UTC timestamp' })
export const NullableIsoTime = Type.Union([IsoTime, Type.Null()])
