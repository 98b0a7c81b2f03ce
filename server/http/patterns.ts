// The string patterns request schemas check, each with the rule a refusal names. A field that
// fails one is refused in words (the message here, and `rule` so the UI words it in zh/en),
// never with the regular expression itself. Schemas take their patterns from here so the two
// cannot drift; an unlisted pattern is refused as `format` ("has an unexpected format").
import { Id, IsoTime } from '../../protocol/index.ts'

export const NAME_PATTERN = '^[A-Za-z0-9._-]+$'
export const USERNAME_PATTERN = '^[A-Za-z0-9._@-]+$'
/** No NUL: Postgres text cannot hold one (it would be a 500, not a 400). */
export const NO_NUL_PATTERN = '^[^\\u0000]*$'
export const NOT_BLANK_PATTERN = '\\S'
export const NOT_BLANK_NO_NUL_PATTERN = '^[^\\u0000]*\\S[^\\u0000]*$'
export const UPDATE_WINDOW_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$'

export const PATTERN_RULES = [
  'name_chars',
  'username_chars',
  'no_nul',
  'not_blank',
  'update_window',
  'id_chars',
  'timestamp',
  'format',
] as const
export type PatternRule = (typeof PATTERN_RULES)[number]

const RULES = new Map<string, { rule: PatternRule; words: string }>([
  [NAME_PATTERN, { rule: 'name_chars', words: 'may contain only letters, digits, ".", "_" and "-"' }],
  [
    USERNAME_PATTERN,
    { rule: 'username_chars', words: 'may contain only letters, digits, ".", "_", "@" and "-"' },
  ],
  [NO_NUL_PATTERN, { rule: 'no_nul', words: 'must not contain a NUL character' }],
  [NOT_BLANK_PATTERN, { rule: 'not_blank', words: 'must not be blank' }],
  [NOT_BLANK_NO_NUL_PATTERN, { rule: 'not_blank', words: 'must not be blank or contain a NUL character' }],
  [UPDATE_WINDOW_PATTERN, { rule: 'update_window', words: 'must be a UTC window like 22:00-04:00' }],
  [
    Id.pattern!,
    {
      rule: 'id_chars',
      words: 'must start with a letter or digit, then letters, digits, ".", "_", ":" or "-"',
    },
  ],
  [IsoTime.pattern!, { rule: 'timestamp', words: 'must be an ISO-8601 UTC time ending in Z' }],
])

/** What a value failing `pattern` is told, in words. */
export function patternRule(pattern: string): { rule: PatternRule; words: string } {
  return RULES.get(pattern) ?? { rule: 'format', words: 'has an unexpected format' }
}
