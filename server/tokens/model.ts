// Request and response schemas of /api/tokens (personal access tokens).
import { t } from 'elysia'
import { PAT_SCOPES } from '../db/schema/index.ts'
import { NOT_BLANK_PATTERN } from '../http/patterns.ts'
import { oneOf } from '../http/schema.ts'

export const CreateTokenBody = t.Object({
  name: t.String({ minLength: 1, maxLength: 100, pattern: NOT_BLANK_PATTERN }),
  /** Required: every token expires; the server's PAT_MAX_TTL_DAYS is the upper bound. */
  expires_in_days: t.Integer({ minimum: 1 }),
  scopes: t.Array(oneOf(PAT_SCOPES), { minItems: 1, maxItems: PAT_SCOPES.length }),
})

export const PublicToken = t.Object({
  id: t.Integer(),
  name: t.String(),
  user_id: t.Integer(),
  username: t.String(),
  token_prefix: t.String(),
  scopes: t.Array(oneOf(PAT_SCOPES)),
  created_at: t.String(),
  expires_at: t.String(),
  last_used_at: t.Nullable(t.String()),
  revoked_at: t.Nullable(t.String()),
})

export const ListTokensQuery = t.Object({
  user_id: t.Optional(t.Integer({ minimum: 1 })),
  all: t.Optional(t.Boolean()),
})

export const TokenIdParams = t.Object({ id: t.Integer({ minimum: 1 }) })
