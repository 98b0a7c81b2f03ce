// Continuing a stopped session: a new CLI process on the same machine, resuming the CLI's own
// conversation (the id it printed, kept as sessions.cli_session_id), its output numbered on from
// the session's last record. Everything the server can know is refused up front with a reason:
// the session still runs, its owner may no longer use the machine, the machine is gone, offline
// or full, its agent is too old, the CLI cannot resume or never named its conversation.
import { eq } from 'drizzle-orm'
import { adapterFor } from '../../agent/adapters/index.ts'
import { LLM_PROXY_PATH } from '../../protocol/index.ts'
import { queueCommand } from '../agents/commands.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { sessions } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'
import { issueProxyToken } from '../llm-proxy/tokens.ts'
import { checkSessionPolicy } from '../machines/cli-policy.ts'
import { type SessionAccess, type SessionRow, sessionAccess } from './access.ts'
import { moveSession } from './lifecycle.ts'
import { refuseFullMachine, refuseMissingCli, refuseOffline } from './preflight.ts'
import { providerForTool } from './service.ts'
import { isLive, transition } from './state.ts'
import { lastSeq, sessionView } from './view.ts'

/** Who asks: a person (their standing is checked) or the server's own schedule for the owner. */
export type ContinueBy = { user: UserRow; actor: Actor }

/** Its CLI cannot resume a conversation, or never named one: nothing to continue. */
export function refuseResume(session: SessionRow) {
  const adapter = adapterFor(session.cliTool)
  if (adapter.cannotResume)
    throw new HttpError(422, `This session cannot be continued: ${adapter.cannotResume}`, 'cli_cannot_resume')
  if (!session.cliSessionId)
    throw new HttpError(
      409,
      `${adapter.name} never named its conversation in this session, so there is nothing to resume; start a new session`,
      'no_conversation',
    )
  return adapter
}

/** Every reason a session cannot be continued, checked before anything is written. */
function refuseContinue(access: SessionAccess): NonNullable<SessionAccess['machine']> {
  const { session, machine } = access
  if (isLive(session.status))
    throw new HttpError(
      409,
      `The session is still ${session.status}; send it a message instead of continuing it`,
      'session_live',
    )
  transition(session.status, 'continue')
  if (access.role === 'former_owner')
    throw new HttpError(
      403,
      `You may no longer use machine '${machine?.name ?? session.remoteMachineId}', so this session cannot be continued`,
      'access_gone',
    )
  if (access.role !== 'owner')
    throw new HttpError(403, "Only the session's owner can continue it", 'forbidden')
  if (!machine || machine.deletedAt)
    throw new HttpError(409, 'The machine this session ran on has been removed', 'machine_gone')
  refuseOffline(machine)
  if ((machine.capabilities as Record<string, unknown>).session_continue !== true)
    throw new HttpError(
      409,
      `The agent on '${machine.name}' is too old to continue a session; update it and try again`,
      'agent_cannot_continue',
    )
  const adapter = refuseResume(session)
  refuseMissingCli(machine, adapter)
  checkSessionPolicy(machine, session.cliTool, (tool) => adapterFor(tool).name)
  return machine
}

export async function continueSession(ctx: AppContext, by: ContinueBy, id: string, baseUrl: string) {
  const access = await sessionAccess(ctx, by.user, id, 'view')
  const machine = refuseContinue(access)
  const { session } = access
  const next = (await lastSeq(ctx, id)) + 1
  // One transaction, as at creation: the machine's row is locked (`refuseFullMachine`) while its
  // sessions are counted, and the session is live again only with its start command queued.
  const row = await ctx.transaction(async (tx) => {
    await refuseFullMachine(tx, machine)
    await moveSession(ctx, id, 'continue', { from: session.status, tx })
    // Going on: an earlier quota or provider refusal is the past (a new one is reported anew),
    // and a wish to continue at the quota reset is fulfilled.
    await tx.update(sessions).set({ alert: null, autoContinueUrl: null }).where(eq(sessions.id, id))
    const token = await issueProxyToken(
      ctx,
      {
        sessionId: id,
        userId: session.userId,
        machineId: machine.machineId,
        tenantId: session.tenantId,
        provider: providerForTool(session.cliTool),
      },
      tx,
    )
    await queueCommand(
      ctx,
      machine.machineId,
      {
        type: 'session.start',
        session_id: id,
        cli_tool: session.cliTool,
        model: session.model,
        project_path: session.projectPath,
        proxy_base_url: `${baseUrl}${LLM_PROXY_PATH}`,
        proxy_token: token.token,
        permission_mode: session.permissionMode ?? 'default',
        user_id: session.userId,
        resume_cli_session_id: session.cliSessionId!,
        next_seq: Math.max(next, session.outputDroppedThrough + 1),
      },
      { tx },
    )
    const [row] = await tx.select().from(sessions).where(eq(sessions.id, id))
    return row!
  })
  await ctx.audit(
    'session.continue',
    by.actor,
    { type: 'session', id },
    { machine_id: machine.machineId, cli_session_id: session.cliSessionId },
  )
  return sessionView(row, machine)
}
