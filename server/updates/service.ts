// Agent self-update on the server: offering agent.update to a machine (one decision in
// policy.ts, taken under the machine's row lock so instances never send it twice), an admin's
// "update now" for one machine or every outdated one, and what the agent reports back (its
// hello and agent.update_status frames), stored on the machine for the admin views.
import { and, count, eq, inArray, isNull, ne, sql } from 'drizzle-orm'
import type { AgentFrameOf, AgentUpdateStatus } from '../../protocol/index.ts'
import { queueCommand } from '../agents/commands.ts'
import type { AgentIdentity } from '../agents/guard.ts'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { agentCommands, LIVE_SESSION_STATUSES, remoteMachines, sessions } from '../db/schema/index.ts'
import { HttpError, notFound } from '../errors.ts'
import { publishMachineChange } from '../live/bus.ts'
import { changeMachineRow } from '../machines/settings.ts'
import { machineView } from '../machines/view.ts'
import {
  decideUpdate,
  UPDATE_FAILED,
  UPDATE_IN_FLIGHT,
  type UpdateDecision,
  type UpdateRefusal,
  updateRefusal,
} from './policy.ts'
import { servedRelease } from './release.ts'

const REFUSALS: Record<UpdateRefusal, { message: (v: string) => string; type: string }> = {
  not_built: {
    message: () =>
      'This server serves no agent binaries to update to. On the server, run: bun run build:agent',
    type: 'agent_not_built',
  },
  current: {
    message: (v) => `The agent already runs version ${v}, the one this server serves`,
    type: 'agent_current',
  },
  unsupported: {
    message: (v) =>
      `The agent (version ${v}) cannot update itself: it predates self-update, runs from source or on Windows. Reinstall it with the install script`,
    type: 'self_update_unsupported',
  },
  no_binary: {
    message: () =>
      "This server has no binary for the machine's OS and architecture. On the server, run: bun run build:agent",
    type: 'agent_not_built',
  },
}

const isLive = inArray(sessions.status, [...LIVE_SESSION_STATUSES])

/**
 * Takes the decision for one machine and, when it says so, queues agent.update. Most hellos
 * come from agents that are current or cannot update themselves: that is seen without a lock.
 */
export async function offerUpdate(ctx: AppContext, machineId: string): Promise<UpdateDecision> {
  const release = await servedRelease(ctx)
  const [unlocked] = await ctx.db
    .select()
    .from(remoteMachines)
    .where(and(eq(remoteMachines.machineId, machineId), isNull(remoteMachines.deletedAt)))
  if (!unlocked) return { skip: 'not_built' }
  const refusal = updateRefusal(release, unlocked)
  if (refusal) return { skip: refusal }
  return ctx.transaction(async (tx) => {
    const [machine] = await tx
      .select()
      .from(remoteMachines)
      .where(and(eq(remoteMachines.machineId, machineId), isNull(remoteMachines.deletedAt)))
      .for('update')
    if (!machine) return { skip: 'not_built' } as UpdateDecision
    const [live] = await tx
      .select({ n: count() })
      .from(sessions)
      .where(and(eq(sessions.remoteMachineId, machineId), isLive))
    const decision = decideUpdate({
      release,
      machine,
      liveSessions: live?.n ?? 0,
      defaults: ctx.config.agentUpdates,
      now: ctx.now(),
    })
    if (!('send' in decision)) return decision
    // An older offer the agent has not taken yet is replaced, not stacked.
    await tx
      .delete(agentCommands)
      .where(
        and(
          eq(agentCommands.machineId, machineId),
          eq(agentCommands.kind, 'agent.update'),
          ne(agentCommands.status, 'acked'),
        ),
      )
    await queueCommand(ctx, machineId, { type: 'agent.update', ...decision.send }, { tx, sessionId: null })
    await tx
      .update(remoteMachines)
      .set({
        updateState: 'sent',
        updateVersion: decision.send.version,
        updateError: null,
        updateChangedAt: ctx.now(),
      })
      .where(eq(remoteMachines.machineId, machineId))
    tx.afterCommit(() => publishMachineChange(ctx, 'update', machineId))
    tx.afterCommit(() =>
      ctx.log.info('agent update sent', {
        machine_id: machineId,
        version: decision.send.version,
        force: decision.send.force,
      }),
    )
    return decision
  })
}

/** Offers the update and logs (never throws): for triggers that must not fail the caller. */
export async function offerUpdateQuietly(ctx: AppContext, machineId: string): Promise<void> {
  await offerUpdate(ctx, machineId).catch((error) =>
    ctx.log.warn('agent update offer failed', { machine_id: machineId, error }),
  )
}

/** An admin's "update now": 409 with why when it cannot be done, else sent now or when possible. */
export async function requestUpdate(
  ctx: AppContext,
  actor: Actor,
  machineId: string,
  options: { force?: boolean } = {},
) {
  const release = await servedRelease(ctx)
  const [machine] = await ctx.db
    .select()
    .from(remoteMachines)
    .where(and(eq(remoteMachines.machineId, machineId), isNull(remoteMachines.deletedAt)))
  if (!machine) throw notFound('Machine')
  const refusal = updateRefusal(release, machine)
  if (refusal)
    throw new HttpError(409, REFUSALS[refusal].message(machine.agentVersion), REFUSALS[refusal].type)
  const force = options.force === true
  const inFlight = machine.updateState !== null && UPDATE_IN_FLIGHT.has(machine.updateState)
  await changeMachineRow(ctx, actor, machine, {
    set: {
      updateRequested: true,
      updateForce: force,
      // An update the agent is working on keeps its state; anything else starts over.
      ...(inFlight && machine.updateVersion === release!.version
        ? {}
        : { updateState: 'requested' as const, updateVersion: release!.version, updateError: null }),
      updateChangedAt: ctx.now(),
    },
    kind: 'update',
    event: 'machine.update',
    details: { version: release!.version, from: machine.agentVersion, force },
  })
  const decision = await offerUpdate(ctx, machineId)
  const [after] = await ctx.db.select().from(remoteMachines).where(eq(remoteMachines.machineId, machineId))
  return {
    machine_id: machineId,
    update: machineView(after!).update,
    /** sent: agent.update is on its way; waiting: until the machine is online / has no live session. */
    outcome: 'send' in decision ? 'sent' : 'wait' in decision ? `waiting_${decision.wait}` : decision.skip,
  }
}

/** "Update all outdated": every machine whose agent can update itself and runs another version. */
export async function requestUpdateAll(ctx: AppContext, actor: Actor, options: { force?: boolean } = {}) {
  const release = await servedRelease(ctx)
  if (!release) throw new HttpError(409, REFUSALS.not_built.message(''), REFUSALS.not_built.type)
  const machines = await ctx.db
    .select({ machineId: remoteMachines.machineId })
    .from(remoteMachines)
    .where(
      and(
        isNull(remoteMachines.deletedAt),
        ne(remoteMachines.agentVersion, release.version),
        sql`(${remoteMachines.capabilities} ->> 'update_target') is not null`,
      ),
    )
    .orderBy(remoteMachines.machineId)
  const requested = []
  const skipped = []
  for (const { machineId } of machines) {
    try {
      requested.push(await requestUpdate(ctx, actor, machineId, options))
    } catch (error) {
      if (!(error instanceof HttpError)) throw error
      skipped.push({ machine_id: machineId, reason: error.message })
    }
  }
  return { version: release.version, requested, skipped }
}

/** A final outcome clears the admin's request, so a failed version is not retried on its own. */
function statusColumns(ctx: AppContext, status: AgentUpdateStatus) {
  const final = UPDATE_FAILED.has(status.state)
  return {
    updateState: status.state,
    updateVersion: status.version,
    updateError: status.reason ?? null,
    updateChangedAt: ctx.now(),
    ...(final ? { updateRequested: false, updateForce: false } : {}),
  }
}

/**
 * agent.update_status: where the agent's update stands now. A progress report arriving after
 * the agent already runs that version (spooled before the restart, sent by the new binary) is
 * history and changes nothing.
 */
export async function recordUpdateStatus(
  ctx: AppContext,
  agent: AgentIdentity,
  frame: AgentFrameOf<'agent.update_status'>,
) {
  const { type: _type, id: _id, ...status } = frame
  const where = eq(remoteMachines.machineId, agent.machineId)
  const [machine] = await ctx.db
    .select({ agentVersion: remoteMachines.agentVersion })
    .from(remoteMachines)
    .where(where)
  if (!machine || (machine.agentVersion === status.version && !UPDATE_FAILED.has(status.state))) return
  await ctx.db.update(remoteMachines).set(statusColumns(ctx, status)).where(where)
  await publishMachineChange(ctx, 'update', agent.machineId)
  if (UPDATE_FAILED.has(status.state))
    ctx.log.warn('agent update failed', {
      machine_id: agent.machineId,
      version: status.version,
      reason: status.reason,
    })
}

/**
 * After a hello (agents/frames.ts stored the version): the update it carries, or its success
 * (the agent now runs the version it was updating to), or an update the agent lost (it
 * restarted meanwhile); then the machine is offered the update if it should get one.
 */
export async function updateOnHello(ctx: AppContext, agent: AgentIdentity, frame: AgentFrameOf<'hello'>) {
  const [machine] = await ctx.db
    .select()
    .from(remoteMachines)
    .where(eq(remoteMachines.machineId, agent.machineId))
  if (!machine) return
  const where = eq(remoteMachines.machineId, agent.machineId)
  if (frame.update) {
    await ctx.db.update(remoteMachines).set(statusColumns(ctx, frame.update)).where(where)
  } else if (machine.updateState && machine.updateVersion === frame.agent_version) {
    await ctx.db
      .update(remoteMachines)
      .set({
        updateState: null,
        updateError: null,
        updateRequested: false,
        updateForce: false,
        updateChangedAt: ctx.now(),
      })
      .where(where)
    ctx.log.info('agent updated', { machine_id: agent.machineId, version: frame.agent_version })
  } else if (
    machine.updateState &&
    machine.updateState !== 'sent' &&
    UPDATE_IN_FLIGHT.has(machine.updateState)
  ) {
    await ctx.db
      .update(remoteMachines)
      .set({ updateState: machine.updateRequested ? 'requested' : null })
      .where(where)
  } else if (machine.updateState === 'sent') {
    const [open] = await ctx.db
      .select({ n: count() })
      .from(agentCommands)
      .where(
        and(
          eq(agentCommands.machineId, agent.machineId),
          eq(agentCommands.kind, 'agent.update'),
          ne(agentCommands.status, 'acked'),
        ),
      )
    if (!open?.n)
      await ctx.db
        .update(remoteMachines)
        .set({ updateState: machine.updateRequested ? 'requested' : null })
        .where(where)
  }
  // The hello's version, capabilities and system info, and whatever it did to the update.
  await publishMachineChange(ctx, 'hello', agent.machineId)
  await offerUpdateQuietly(ctx, agent.machineId)
}

/** Offers the update to every online machine that runs another version and is not updating. */
export async function offerUpdatesToIdleMachines(ctx: AppContext): Promise<void> {
  const release = await servedRelease(ctx)
  if (!release) return
  const candidates = await ctx.db
    .select({ machineId: remoteMachines.machineId })
    .from(remoteMachines)
    .where(
      and(
        isNull(remoteMachines.deletedAt),
        eq(remoteMachines.status, 'online'),
        ne(remoteMachines.agentVersion, release.version),
        sql`(${remoteMachines.capabilities} ->> 'update_target') is not null`,
        sql`(${remoteMachines.updateState} is null or ${remoteMachines.updateState} not in ('sent', 'downloading', 'installing', 'restarting'))`,
      ),
    )
  for (const { machineId } of candidates) await offerUpdateQuietly(ctx, machineId)
}

/** The periodic check (AGENT_UPDATE_CHECK_INTERVAL_SECONDS): idle machines and opening windows. */
export function startUpdateChecks(ctx: AppContext): void {
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    offerUpdatesToIdleMachines(ctx)
      .catch((error) => ctx.log.warn('agent update check failed', { error }))
      .finally(() => {
        running = false
      })
  }, ctx.config.agentUpdates.checkIntervalSeconds * 1000)
  timer.unref?.()
  ctx.onClose(() => clearInterval(timer))
}
