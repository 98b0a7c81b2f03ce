// Request and response schemas of the auth and users API.
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import { USER_ROLES, USER_STATUSES, users } from '../db/schema/index.ts'
import { NO_NUL_PATTERN, USERNAME_PATTERN } from '../http/patterns.ts'
import { IsoTime, NullableIsoTime, oneOf } from '../http/schema.ts'

export const Username = t.String({ minLength: 1, maxLength: 64, pattern: USERNAME_PATTERN })
export const NewPassword = t.String({ minLength: 8, maxLength: 256 })
export const Role = oneOf(USER_ROLES)
export const Status = oneOf(USER_STATUSES)

export const LoginBody = t.Object({
  // No NUL: Postgres text cannot hold it, and the failed-login lookup would error (500).
  username: t.String({ minLength: 1, maxLength: 256, pattern: NO_NUL_PATTERN }),
  password: t.String({ minLength: 1, maxLength: 1024 }),
})

export const ChangePasswordBody = t.Object({
  current_password: t.String({ minLength: 1, maxLength: 1024 }),
  new_password: NewPassword,
})

const user = createSelectSchema(users).properties

/** A user as the API shows them (auth/users.ts publicUser): the row's fields, timestamps as ISO strings. */
export const PublicUser = t.Object({
  id: user.id,
  username: user.username,
  display_name: user.displayName,
  email: user.email,
  role: user.role,
  status: user.status,
  tenant_id: user.tenantId,
  created_at: IsoTime,
  last_login_at: NullableIsoTime,
})

export const UserAnswer = t.Object({ user: PublicUser })

export const CreateUserBody = t.Object({
  username: Username,
  password: NewPassword,
  role: t.Optional(Role),
  tenant_id: t.Optional(t.Integer({ minimum: 1 })),
  display_name: t.Optional(t.String({ maxLength: 128 })),
  email: t.Optional(t.String({ maxLength: 256, format: 'email' })),
})

export const UpdateUserBody = t.Object(
  {
    password: t.Optional(NewPassword),
    role: t.Optional(Role),
    status: t.Optional(Status),
    tenant_id: t.Optional(t.Integer({ minimum: 1 })),
    display_name: t.Optional(t.Nullable(t.String({ maxLength: 128 }))),
    email: t.Optional(t.Nullable(t.String({ maxLength: 256, format: 'email' }))),
  },
  { minProperties: 1 },
)

export const UserIdParams = t.Object({ id: t.Integer({ minimum: 1 }) })
