// Shared building blocks of the wire contract: version, identifiers, timestamps and limits.
// Depends on TypeBox only, so the compiled agent never bundles server code.
import { type SchemaOptions, type Static, type TLiteral, type TUnion, Type } from '@sinclair/typebox'

type Literals<T extends readonly string[]> = { [K in keyof T]: TLiteral<T[K]> }

/**
 * A union of string literals typed as the tuple it is, so Elysia infers its values (a union of
 * a mapped array reads as never there). Not t.UnionEnum: that quietly defaults an absent
 * optional field to its first value, which would, for instance, turn an omitted role into
 * `system_admin`.
 */
export function oneOf<const T extends readonly string[]>(
  values: T,
  options?: SchemaOptions,
): TUnion<[...Literals<T>]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as unknown as TUnion<[...Literals<T>]>
}

/** Bumped on any incompatible change; sent in every hello. */
export const PROTOCOL_VERSION = 1

/** Largest frame (one WebSocket message or one long-poll body) either side accepts. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Most output records one session.output batch may carry. */
export const MAX_OUTPUT_RECORDS_PER_BATCH = 1000
/** Most events one long-poll request may carry. */
export const MAX_EVENTS_PER_POLL = 1000
/** Largest `data` of one output record, in characters. */
export const MAX_OUTPUT_DATA_CHARS = 256 * 1024

/** ISO-8601 UTC with a trailing Z, e.g. 2026-01-02T03:04:05.678Z. */
export const IsoTime = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$',
  description: 'ISO-8601 UTC timestamp ending in Z',
})

/** Identifiers chosen by either side (uuids in practice); URL-safe, bounded. */
export const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' })

/** The agent-generated machine id (a uuid from the installer). */
export const MachineId = Id

/** Free-form facts about the host (cpu_cores, memory_gb, disk, load...); JSON object. */
export const SystemInfo = Type.Record(Type.String(), Type.Unknown())
export type SystemInfo = Static<typeof SystemInfo>
