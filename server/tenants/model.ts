// Request and response schemas of the tenants API, and the tenant filter listings share.
import { t } from 'elysia'
import { NOT_BLANK_NO_NUL_PATTERN } from '../http/patterns.ts'

/** A Postgres integer: a larger number is a 400, not a database error. */
export const TenantId = t.Integer({ minimum: 1, maximum: 2_147_483_647 })
export const TenantIdParams = t.Object({ id: TenantId })
/** `?tenant_id=` on listings: only that tenant's rows. */
export const TenantFilterQuery = t.Object({ tenant_id: t.Optional(TenantId) })

const TenantName = t.String({ minLength: 1, maxLength: 100, pattern: NOT_BLANK_NO_NUL_PATTERN })

export const CreateTenantBody = t.Object({ name: TenantName })
export const UpdateTenantBody = t.Object({ name: TenantName })

export const PublicTenant = t.Object({
  id: t.Integer(),
  name: t.String(),
  created_at: t.String(),
  users: t.Integer(),
  machines: t.Integer(),
})
