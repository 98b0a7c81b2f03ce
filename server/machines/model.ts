// Request and response schemas of the machines API and agent registration (seed field names).
import { t } from 'elysia'
import { MachineId } from '../../protocol/index.ts'
import { MACHINE_PERMISSIONS } from '../db/schema/index.ts'
import { oneOf } from '../http/schema.ts'

export const MachineIdParams = t.Object({ id: MachineId })
export const MachineUserParams = t.Object({ id: MachineId, user_id: t.Integer({ minimum: 1 }) })

export const RegisterTokenBody = t.Object({ tenant_id: t.Integer({ minimum: 1 }) })

export const AgentRegisterBody = t.Object({
  registration_token: t.String({ minLength: 1, maxLength: 256 }),
  machine_id: MachineId,
  machine_name: t.String({ maxLength: 200 }),
  hostname: t.String({ minLength: 1, maxLength: 255 }),
  os_type: t.String({ minLength: 1, maxLength: 64 }),
  os_version: t.String({ maxLength: 255 }),
  capabilities: t.Record(t.String(), t.Unknown()),
  agent_version: t.String({ minLength: 1, maxLength: 64 }),
})

export const AssignBody = t.Object({
  user_id: t.Integer({ minimum: 1 }),
  permission: t.Optional(oneOf(MACHINE_PERMISSIONS)),
})

export const BrowseQuery = t.Object({ path: t.Optional(t.String({ minLength: 1, maxLength: 4096 })) })
