// How many sessions a machine may run at once: the agent's own limit (its max_sessions
// capability) and the admin's setting, the lower of the two; none when neither says.
import type { MachineRow } from './access.ts'

export function agentSessionLimit(m: MachineRow): number | null {
  const reported = (m.capabilities as Record<string, unknown>).max_sessions
  return typeof reported === 'number' && Number.isFinite(reported) && reported > 0 ? reported : null
}

export function sessionLimit(m: MachineRow): number | null {
  const limits = [agentSessionLimit(m), m.maxSessions].filter((n): n is number => n !== null && n > 0)
  return limits.length ? Math.min(...limits) : null
}
