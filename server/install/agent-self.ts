// What an installer may ask with the agent token it just obtained: how the server sees this
// machine (so install.sh can wait until it is online without admin credentials), and
// deregistering it (so uninstall.sh can clean up after itself). Nothing else.
import { eq } from 'drizzle-orm'
import type { AgentIdentity } from '../agents/guard.ts'
import type { AppContext } from '../context/index.ts'
import { remoteMachines } from '../db/schema/index.ts'
import { notFound } from '../errors.ts'
import { deleteMachine, type EndMachineSessions } from '../machines/lifecycle.ts'

export async function agentSelfStatus(ctx: AppContext, agent: AgentIdentity) {
  const [machine] = await ctx.db
    .select({
      name: remoteMachines.name,
      status: remoteMachines.status,
      connected: remoteMachines.connected,
      lastHeartbeat: remoteMachines.lastHeartbeat,
    })
    .from(remoteMachines)
    .where(eq(remoteMachines.machineId, agent.machineId))
  if (!machine) throw notFound('Machine')
  return {
    machine_id: agent.machineId,
    machine_name: machine.name,
    status: machine.status,
    connected: machine.connected,
    last_heartbeat: machine.lastHeartbeat?.toISOString() ?? null,
  }
}

/** The agent's own machine leaves the server exactly as when a system admin deletes it. */
export function deregisterSelf(ctx: AppContext, agent: AgentIdentity, endSessions: EndMachineSessions) {
  return deleteMachine(ctx, agent.actor, agent.machineId, endSessions)
}
