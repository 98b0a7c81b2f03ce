// Remote machines and who may use them: machines keyed by the agent-generated machine_id,
// their agent tokens (hashed), user assignments and one-time registration tokens (hashed).
import { sql } from 'drizzle-orm'
import { boolean, index, integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core'
import { AGENT_UPDATE_STATES, ISOLATION_LEVELS } from '../../../protocol/index.ts'
import { belongsToUser, tenants, users } from './identity.ts'
import { createdAt, tz } from './timestamps.ts'

export const MACHINE_STATUSES = ['online', 'offline'] as const
export type MachineStatus = (typeof MACHINE_STATUSES)[number]
export const AGENT_TRANSPORTS = ['websocket', 'long_poll'] as const
export type AgentTransport = (typeof AGENT_TRANSPORTS)[number]
export const MACHINE_PERMISSIONS = ['user', 'admin'] as const
export type MachinePermission = (typeof MACHINE_PERMISSIONS)[number]
/** Who may open a terminal on the machine besides system admins: its admins, or every assigned user. */
export const TERMINAL_ACCESS = ['admins', 'assigned'] as const
export type TerminalAccess = (typeof TERMINAL_ACCESS)[number]
/**
 * Where a machine's self-update stands: `requested` (an admin asked; waiting for the machine to
 * be online and idle), `sent` (agent.update queued), then what the agent reports.
 */
export const MACHINE_UPDATE_STATES = ['requested', 'sent', ...AGENT_UPDATE_STATES] as const
export type MachineUpdateState = (typeof MACHINE_UPDATE_STATES)[number]
export const AGENT_TOKEN_REVOKE_REASONS = ['revoked', 'deregistered'] as const
export type AgentTokenRevokeReason = (typeof AGENT_TOKEN_REVOKE_REASONS)[number]

/** One heartbeat's load: when, CPU busy %, memory used %, free and total disk (GB). */
export interface LoadSample {
  at: string
  cpu_percent: number | null
  memory_percent: number | null
  disk_free_gb: number | null
  disk_total_gb: number | null
}

export const remoteMachines = pgTable(
  'remote_machines',
  {
    machineId: text('machine_id').primaryKey(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    hostname: text('hostname').notNull(),
    osType: text('os_type').notNull(),
    osVersion: text('os_version').notNull(),
    capabilities: jsonb('capabilities').$type<Record<string, unknown>>().notNull().default({}),
    agentVersion: text('agent_version').notNull(),
    status: text('status', { enum: MACHINE_STATUSES }).notNull().default('offline'),
    connected: boolean('connected').notNull().default(false),
    transport: text('transport', { enum: AGENT_TRANSPORTS }),
    /** Bumped on every new connection, so a late "closed" from an old one cannot mark us offline. */
    connectionEpoch: integer('connection_epoch').notNull().default(0),
    lastHeartbeat: tz('last_heartbeat'),
    systemInfo: jsonb('system_info').$type<Record<string, unknown>>().notNull().default({}),
    /** Recent load from heartbeats, oldest first, bounded (agents/load-history.ts). */
    loadHistory: jsonb('load_history').$type<LoadSample[]>().notNull().default([]),
    /** Free-form tags an admin gives the machine (gpu, team-a, ...), for finding and grouping. */
    labels: jsonb('labels').$type<string[]>().notNull().default([]),
    terminalAccess: text('terminal_access', { enum: TERMINAL_ACCESS }).notNull().default('admins'),
    /** CLI tools sessions may use; null = the known adapters the agent found (the default). */
    allowedCliTools: jsonb('allowed_cli_tools').$type<string[]>(),
    /** Sessions it may run at once, set by an admin; null: the agent's own limit. The lower applies. */
    maxSessions: integer('max_sessions'),
    /** Sessions are refused unless the machine isolates at least this well. */
    requiredIsolation: text('required_isolation', { enum: ISOLATION_LEVELS }).notNull().default('none'),
    /** The self-update in progress or the last one that failed (server/updates/); null: none. */
    updateState: text('update_state', { enum: MACHINE_UPDATE_STATES }),
    /** The version that update installs. */
    updateVersion: text('update_version'),
    /** Why it failed or was rolled back. */
    updateError: text('update_error'),
    /** An admin asked for it: sent regardless of auto-update and the window, again after a failure. */
    updateRequested: boolean('update_requested').notNull().default(false),
    /** Sent even while sessions are live (they are cut). */
    updateForce: boolean('update_force').notNull().default(false),
    updateChangedAt: tz('update_changed_at'),
    /** 'HH:MM-HH:MM' (UTC) when automatic updates may go out; null: the server's AGENT_UPDATE_WINDOW. */
    updateWindow: text('update_window'),
    /** Automatic updates for this machine; null: the server's AGENT_AUTO_UPDATE. */
    autoUpdate: boolean('auto_update'),
    createdAt: createdAt(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    /** Set when a system admin deregisters the machine; the row stays for history and audit. */
    deletedAt: tz('deleted_at'),
  },
  (t) => [
    index('remote_machines_tenant_idx').on(t.tenantId),
    index('remote_machines_online_idx').on(t.lastHeartbeat).where(sql`${t.status} = 'online'`),
  ],
)

/** `machine_id` of a row that belongs to a machine: required, and deleted with the machine. */
export function belongsToMachine() {
  return text('machine_id')
    .notNull()
    .references(() => remoteMachines.machineId, { onDelete: 'cascade' })
}

/** Agent tokens, SHA-256 only; revoked rows stay so a revoked agent learns why it must stop. */
export const agentTokens = pgTable(
  'agent_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    machineId: belongsToMachine(),
    createdAt: createdAt(),
    revokedAt: tz('revoked_at'),
    revokedReason: text('revoked_reason', { enum: AGENT_TOKEN_REVOKE_REASONS }),
    /** Per machine, +1 on every token issued: an agent applies only a rotation newer than its own. */
    version: integer('version').notNull().default(1),
    /** Issued by a rotation and not yet used by the agent; its first use revokes the older tokens. */
    pending: boolean('pending').notNull().default(false),
    /** A rotation replaced this token; it keeps working until the grace period after its next use. */
    supersededAt: tz('superseded_at'),
    /** End of a superseded token's grace period. */
    expiresAt: tz('expires_at'),
  },
  (t) => [index('agent_tokens_machine_idx').on(t.machineId)],
)

export const machineAssignments = pgTable(
  'machine_assignments',
  {
    machineId: belongsToMachine(),
    userId: belongsToUser(),
    permission: text('permission', { enum: MACHINE_PERMISSIONS }).notNull().default('user'),
    assignedBy: integer('assigned_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.machineId, t.userId] }),
    index('machine_assignments_user_idx').on(t.userId),
  ],
)

/** One-time registration tokens: SHA-256 only; consumed by setting used_at in one UPDATE. */
export const registrationTokens = pgTable(
  'registration_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    expiresAt: tz('expires_at').notNull(),
    usedAt: tz('used_at'),
    usedByMachineId: text('used_by_machine_id'),
  },
  (t) => [index('registration_tokens_expires_idx').on(t.expiresAt)],
)
