// /api/tokens: personal access tokens for scripts. Everyone manages their own; system admins
// may list and revoke anyone's. The secret is in the create answer only.
import { Elysia, t } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import { createToken, listTokens, revokeToken } from '../auth/pats.ts'
import type { AppContext } from '../context/index.ts'
import { CreateTokenBody, ListTokensQuery, PublicToken, TokenIdParams } from './model.ts'

export function tokensRoutes(ctx: AppContext) {
  return new Elysia({ name: 'tokens', seed: ctx.id, prefix: '/api/tokens' })
    .use(authGuard(ctx))
    .post(
      '/',
      async ({ body, user, actor, set }) => {
        const created = await createToken(ctx, user, actor, {
          name: body.name,
          expiresInDays: body.expires_in_days,
          scopes: body.scopes,
        })
        set.status = 201
        return created
      },
      {
        auth: true,
        body: CreateTokenBody,
        response: { 201: t.Object({ token: t.String(), personal_access_token: PublicToken }) },
        detail: { summary: 'Create a personal access token (the secret is shown once)' },
      },
    )
    .get(
      '/',
      async ({ query, user }) => ({
        tokens: await listTokens(ctx, user, { userId: query.user_id, all: query.all }),
      }),
      {
        auth: true,
        query: ListTokensQuery,
        response: t.Object({ tokens: t.Array(PublicToken) }),
        detail: { summary: "List one's personal access tokens (system admins: anyone's)" },
      },
    )
    .delete(
      '/:id',
      async ({ params, user, actor }) => ({
        personal_access_token: await revokeToken(ctx, user, actor, params.id),
      }),
      {
        auth: true,
        params: TokenIdParams,
        response: t.Object({ personal_access_token: PublicToken }),
        detail: { summary: 'Revoke a personal access token' },
      },
    )
}
