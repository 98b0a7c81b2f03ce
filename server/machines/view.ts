// The JSON shapes of machines, assignments and sessions in API answers (seed field names,
// ISO-8601 UTC timestamps).
import type { sessions } from '../db/schema/index.ts'
import type { MachineRole, MachineRow } from './access.ts'
import { allowedCliTools, detectedClis, machineIsolation } from './cli-policy.ts'
import { agentSessionLimit, sessionLimit } from './session-limit.ts'

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export function machineView(m: MachineRow, role?: MachineRole) {
  return {
    machine_id: m.machineId,
    machine_name: m.name,
    hostname: m.hostname,
    os_type: m.osType,
    os_version: m.osVersion,
    status: m.status,
    connected: m.connected,
    transport: m.transport,
    capabilities: m.capabilities,
    /** How well sessions are isolated there (sandbox / separate-user / none) and why. */
    isolation: machineIsolation(m),
    /** The known CLI tools its agent found: name, version, path. */
    cli_tools: detectedClis(m),
    /** What sessions may use: the admin's list, else the detected tools. */
    allowed_cli_tools: allowedCliTools(m),
    /** True when an admin set the list (false: it follows what the agent detects). */
    allowed_cli_tools_custom: m.allowedCliTools !== null,
    required_isolation: m.requiredIsolation,
    /** Sessions at once: the lower of the agent's limit and the admin's setting (null: no limit known). */
    max_sessions: sessionLimit(m),
    /** The agent's own limit, and the admin's setting (null: none set). */
    agent_max_sessions: agentSessionLimit(m),
    max_sessions_setting: m.maxSessions,
    agent_version: m.agentVersion,
    /** The agent can replace itself (agent.update): the build target it runs as. */
    self_update: typeof m.capabilities.update_target === 'string',
    /** The self-update in progress or the last one that failed; null: none. */
    update: m.updateState
      ? {
          state: m.updateState,
          version: m.updateVersion,
          error: m.updateError,
          force: m.updateForce,
          changed_at: iso(m.updateChangedAt),
        }
      : null,
    /** Automatic updates (null: the server's AGENT_AUTO_UPDATE) and their window (UTC; null: the server's). */
    auto_update: m.autoUpdate,
    update_window: m.updateWindow,
    /** The agent's working directory: where new sessions' project paths start. */
    work_dir: typeof m.systemInfo?.work_dir === 'string' ? m.systemInfo.work_dir : null,
    tenant_id: m.tenantId,
    /** Admin-given tags. */
    labels: m.labels,
    /** Recent load from heartbeats (CPU %, memory %, disk GB), oldest first. */
    load_history: m.loadHistory,
    /** Who may open terminals: the machine's admins only, or every assigned user. */
    terminal_access: m.terminalAccess,
    last_heartbeat: iso(m.lastHeartbeat),
    created_at: m.createdAt.toISOString(),
    ...(role === undefined ? {} : { current_user_permission: role === 'system_admin' ? 'admin' : role }),
  }
}

export interface AssignedUserRow {
  userId: number
  username: string
  displayName: string | null
  permission: 'user' | 'admin'
  createdAt: Date
}

export function assignedUserView(a: AssignedUserRow) {
  return {
    user_id: a.userId,
    username: a.username,
    display_name: a.displayName,
    permission: a.permission,
    assigned_at: a.createdAt.toISOString(),
  }
}

export function machineSessionView(s: typeof sessions.$inferSelect) {
  return {
    session_id: s.id,
    user_id: s.userId,
    status: s.status,
    project_path: s.projectPath,
    cli_tool: s.cliTool,
    model: s.model,
    title: s.title,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
    ended_at: iso(s.endedAt),
  }
}
