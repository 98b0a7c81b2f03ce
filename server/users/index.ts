// /api/users: user administration, system admins only.
import { Elysia, t } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import { CreateUserBody, PublicUser, UpdateUserBody, UserAnswer, UserIdParams } from '../auth/model.ts'
import type { AppContext } from '../context/index.ts'
import { OkAnswer } from '../http/schema.ts'
import { createUser, deleteUser, listUsers, updateUser } from './service.ts'

export function usersRoutes(ctx: AppContext) {
  return new Elysia({ name: 'users', seed: ctx.id, prefix: '/api/users' })
    .use(authGuard(ctx))
    .get('/', async ({ query }) => ({ users: await listUsers(ctx, { tenantId: query.tenant_id }) }), {
      auth: 'system_admin',
      query: t.Object({ tenant_id: t.Optional(t.Integer({ minimum: 1 })) }),
      response: t.Object({ users: t.Array(PublicUser) }),
      detail: { summary: 'List users' },
    })
    .post(
      '/',
      async ({ body, actor, set }) => {
        const user = await createUser(ctx, actor, {
          username: body.username,
          password: body.password,
          role: body.role,
          tenantId: body.tenant_id,
          displayName: body.display_name,
          email: body.email,
        })
        set.status = 201
        return { user }
      },
      {
        auth: 'system_admin',
        body: CreateUserBody,
        response: { 201: UserAnswer },
        detail: { summary: 'Create a user' },
      },
    )
    .patch(
      '/:id',
      async ({ params, body, actor }) => ({
        user: await updateUser(ctx, actor, params.id, {
          password: body.password,
          role: body.role,
          status: body.status,
          tenantId: body.tenant_id,
          displayName: body.display_name,
          email: body.email,
        }),
      }),
      {
        auth: 'system_admin',
        params: UserIdParams,
        body: UpdateUserBody,
        response: UserAnswer,
        detail: { summary: 'Update a user' },
      },
    )
    .delete(
      '/:id',
      async ({ params, actor }) => {
        await deleteUser(ctx, actor, params.id)
        return { ok: true as const }
      },
      {
        auth: 'system_admin',
        params: UserIdParams,
        response: OkAnswer,
        detail: { summary: 'Delete a user' },
      },
    )
}
