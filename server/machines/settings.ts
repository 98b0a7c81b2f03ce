// A machine's session policy, set by a system admin: which CLI tools its sessions may use (null =
// the known adapters its agent found) and the isolation level it must give them; and its
// labels; and how many sessions it may run at once (below the agent's own limit). Audited.
// Every admin change to a machine's own row (these settings, terminal access, an update request)
// goes through `changeMachineRow`: written, told to the live machine lists, audited.
import { eq } from 'drizzle-orm'
import type { IsolationLevel } from '../../protocol/index.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { remoteMachines } from '../db/schema/index.ts'
import { type MachineChangeKind, publishMachineChange } from '../live/bus.ts'
import { type MachineRow, requireMachineUse } from './access.ts'
import { machineView } from './view.ts'

export interface MachineSettingsInput {
  allowedCliTools?: string[] | null
  requiredIsolation?: IsolationLevel
  autoUpdate?: boolean | null
  updateWindow?: string | null
  labels?: string[]
  maxSessions?: number | null
}

export interface MachineRowChange {
  set: Partial<typeof remoteMachines.$inferInsert>
  /** What the live machine lists hear. */
  kind: MachineChangeKind
  /** The audit event and its details (the values set and what they were). */
  event: string
  details: Record<string, unknown>
}

/** Writes an admin's change to the machine's row, announces it, audits it; returns the row. */
export async function changeMachineRow(
  ctx: AppContext,
  actor: Actor,
  machine: Pick<MachineRow, 'machineId' | 'tenantId'>,
  change: MachineRowChange,
): Promise<MachineRow> {
  const [updated] = await ctx.db
    .update(remoteMachines)
    .set(change.set)
    .where(eq(remoteMachines.machineId, machine.machineId))
    .returning()
  await publishMachineChange(ctx, change.kind, machine.machineId)
  await ctx.audit(change.event, actor, { type: 'machine', id: machine.machineId }, change.details, {
    tenantId: machine.tenantId,
  })
  return updated!
}

export async function updateMachineSettings(
  ctx: AppContext,
  actor: Actor,
  user: UserRow,
  machineId: string,
  input: MachineSettingsInput,
) {
  const { machine, role } = await requireMachineUse(ctx, user, machineId)
  const changes = {
    ...(input.allowedCliTools !== undefined
      ? { allowedCliTools: input.allowedCliTools === null ? null : [...new Set(input.allowedCliTools)] }
      : {}),
    ...(input.requiredIsolation !== undefined ? { requiredIsolation: input.requiredIsolation } : {}),
    ...(input.autoUpdate !== undefined ? { autoUpdate: input.autoUpdate } : {}),
    ...(input.updateWindow !== undefined ? { updateWindow: input.updateWindow } : {}),
    ...(input.labels !== undefined ? { labels: [...new Set(input.labels)] } : {}),
    ...(input.maxSessions !== undefined ? { maxSessions: input.maxSessions } : {}),
  }
  const updated = await changeMachineRow(ctx, actor, machine, {
    set: { ...changes, updatedAt: ctx.now() },
    kind: 'settings',
    event: 'machine.settings',
    details: {
      allowed_cli_tools: changes.allowedCliTools,
      required_isolation: changes.requiredIsolation,
      auto_update: changes.autoUpdate,
      update_window: changes.updateWindow,
      labels: changes.labels,
      max_sessions: changes.maxSessions,
      previous: {
        allowed_cli_tools: machine.allowedCliTools,
        required_isolation: machine.requiredIsolation,
        auto_update: machine.autoUpdate,
        update_window: machine.updateWindow,
        labels: machine.labels,
        max_sessions: machine.maxSessions,
      },
    },
  })
  return machineView(updated, role)
}
