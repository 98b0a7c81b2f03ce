// /api/tenants: tenant administration, system admins only (system admins are global).
import { Elysia, t } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import {
  CreateTenantBody,
  PublicTenant,
  TenantAnswer,
  TenantDeleted,
  TenantIdParams,
  UpdateTenantBody,
} from './model.ts'
import { createTenant, deleteTenant, listTenants, updateTenant } from './service.ts'

export function tenantsRoutes(ctx: AppContext) {
  return new Elysia({ name: 'tenants', seed: ctx.id, prefix: '/api/tenants' })
    .use(authGuard(ctx))
    .get('/', async () => ({ tenants: await listTenants(ctx) }), {
      auth: 'system_admin',
      response: t.Object({ tenants: t.Array(PublicTenant) }),
      detail: { summary: 'List tenants with their user and machine counts' },
    })
    .post(
      '/',
      async ({ body, actor, set }) => {
        const tenant = await createTenant(ctx, actor, { name: body.name })
        set.status = 201
        return { tenant }
      },
      {
        auth: 'system_admin',
        body: CreateTenantBody,
        response: { 201: TenantAnswer },
        detail: { summary: 'Create a tenant' },
      },
    )
    .patch(
      '/:id',
      async ({ params, body, actor }) => ({ tenant: await updateTenant(ctx, actor, params.id, body) }),
      {
        auth: 'system_admin',
        params: TenantIdParams,
        body: UpdateTenantBody,
        response: TenantAnswer,
        detail: { summary: 'Rename a tenant' },
      },
    )
    .delete('/:id', ({ params, actor }) => deleteTenant(ctx, actor, params.id), {
      auth: 'system_admin',
      params: TenantIdParams,
      response: TenantDeleted,
      detail: { summary: 'Delete a tenant that has no users and no machines' },
    })
}
