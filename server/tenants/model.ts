// Request and response schemas of the tenants API, and the tenant filter listings share.
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import { tenants } from '../db/schema/index.ts'
import { NOT_BLANK_NO_NUL_PATTERN } from '../http/patterns.ts'
import { IsoTime } from '../http/schema.ts'

/** A Postgres integer: a larger number is a 400, not a database error. */
export const TenantId = t.Integer({ minimum: 1, maximum: 2_147_483_647 })
export const TenantIdParams = t.Object({ id: TenantId })
/** `?tenant_id=` on listings: only that tenant's rows. */
export const TenantFilterQuery = t.Object({ tenant_id: t.Optional(TenantId) })

const TenantName = t.String({ minLength: 1, maxLength: 100, pattern: NOT_BLANK_NO_NUL_PATTERN })

export const CreateTenantBody = t.Object({ name: TenantName })
export const UpdateTenantBody = t.Object({ name: TenantName })

const tenant = createSelectSchema(tenants).properties

/** A tenant with how many users and registered machines it holds (service.ts tenantView). */
export const PublicTenant = t.Object({
  id: tenant.id,
  name: tenant.name,
  created_at: IsoTime,
  users: t.Integer(),
  machines: t.Integer(),
})

export const TenantAnswer = t.Object({ tenant: PublicTenant })
export const TenantDeleted = t.Object({ id: tenant.id, deleted: t.Literal(true) })
