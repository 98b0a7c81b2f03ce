// Remote sessions: create (proxy token + session.start queued for the machine's agent), list,
// read with paged output, chat, stop/pause/resume/abort, tool-permission answers. Each move is
// checked by the state machine and audited; commands reach the agent through the durable queue.
import { randomUUID } from 'node:crypto'
import { and, desc, eq, inArray, or, type SQL, sql } from 'drizzle-orm'
import { adapterFor } from '../../agent/adapters/index.ts'
import { type CommandPayload, LLM_PROXY_PATH } from '../../protocol/index.ts'
import { queueCommand } from '../agents/commands.ts'
import { type Actor, auditRow } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import {
  auditLog,
  type LlmProvider,
  machineAssignments,
  remoteMachines,
  SESSION_STATUSES,
  type SessionStatus,
  sessionMessages,
  sessions,
} from '../db/schema/index.ts'
import { conflict } from '../errors.ts'
import { publishSessionChange } from '../live/bus.ts'
import { issueProxyToken, revokeProxyTokens } from '../llm-proxy/tokens.ts'
import { requireMachineUse } from '../machines/access.ts'
import { checkSessionPolicy } from '../machines/cli-policy.ts'
import { machineOf, sessionAccess } from './access.ts'
import { moveSession } from './lifecycle.ts'
import { DEFAULT_OUTPUT_PAGE, type PermissionMode } from './model.ts'
import { refuseFullMachine, refuseMissingCli, refuseOffline, refuseOutsideRoots } from './preflight.ts'
import { isLive, nextState, transition } from './state.ts'
import { conversationExtras, lastSeq, lastSeqSql, outputPage, sessionTotals, sessionView } from './view.ts'

export const DEFAULT_CLI_TOOL = 'qwen-code'

/** Which provider's key a CLI's calls need: Claude Code speaks Anthropic, Gemini CLI Google, the rest OpenAI. */
export function providerForTool(cliTool: string): LlmProvider {
  if (/claude/i.test(cliTool)) return 'anthropic'
  return /gemini/i.test(cliTool) ? 'google' : 'openai'
}

export interface CreateSessionInput {
  machineId: string
  projectPath: string
  cliTool?: string
  model?: string
  title?: string
  permissionMode?: PermissionMode
}

export async function createSession(
  ctx: AppContext,
  user: UserRow,
  actor: Actor,
  input: CreateSessionInput,
  baseUrl: string,
) {
  const { machine } = await requireMachineUse(ctx, user, input.machineId)
  const cliTool = input.cliTool ?? DEFAULT_CLI_TOOL
  refuseOffline(machine)
  refuseMissingCli(machine, adapterFor(cliTool))
  refuseOutsideRoots(machine, input.projectPath)
  checkSessionPolicy(machine, cliTool, (tool) => adapterFor(tool).name)
  // One transaction: a session whose start command could not be queued never exists, and the
  // machine's row lock `refuseFullMachine` takes holds until the new session is in.
  const session = await ctx.transaction(async (tx) => {
    await refuseFullMachine(tx, machine)
    const [session] = await tx
      .insert(sessions)
      .values({
        tenantId: machine.tenantId,
        userId: user.id,
        remoteMachineId: machine.machineId,
        workspaceType: 'remote',
        status: 'starting',
        projectPath: input.projectPath,
        cliTool,
        model: input.model ?? '',
        title: input.title ?? null,
        permissionMode: input.permissionMode ?? 'default',
      })
      .returning()
    const token = await issueProxyToken(
      ctx,
      {
        sessionId: session!.id,
        userId: user.id,
        machineId: machine.machineId,
        tenantId: machine.tenantId,
        provider: providerForTool(cliTool),
      },
      tx,
    )
    await queueCommand(
      ctx,
      machine.machineId,
      {
        type: 'session.start',
        session_id: session!.id,
        cli_tool: cliTool,
        model: session!.model,
        project_path: session!.projectPath,
        proxy_base_url: `${baseUrl}${LLM_PROXY_PATH}`,
        proxy_token: token.token,
        permission_mode: session!.permissionMode ?? 'default',
        user_id: user.id,
      },
      { tx },
    )
    return session!
  })
  await ctx.audit(
    'session.create',
    actor,
    { type: 'session', id: session.id },
    {
      machine_id: machine.machineId,
      cli_tool: cliTool,
      project_path: session.projectPath,
    },
  )
  await publishSessionChange(ctx, 'created', session.id)
  return sessionView(session, machine)
}

/** A user's own sessions and those on the machines they administer (in their tenant). */
export function ownOrAdministered(ctx: AppContext, user: UserRow): SQL {
  const adminOf = ctx.db
    .select({ id: machineAssignments.machineId })
    .from(machineAssignments)
    .where(and(eq(machineAssignments.userId, user.id), eq(machineAssignments.permission, 'admin')))
  return or(
    eq(sessions.userId, user.id),
    and(eq(sessions.tenantId, user.tenantId), inArray(sessions.remoteMachineId, adminOf)),
  )!
}

/** Own sessions; machine admins also those on their machines; system admins all (all=false: as a user). */
export async function listSessions(
  ctx: AppContext,
  user: UserRow,
  filter: { machineId?: string; status?: SessionStatus; all?: boolean; tenantId?: number },
) {
  const where: SQL[] = []
  // System admins see every session unless they ask for their own view (all=false).
  if (user.role !== 'system_admin' || filter.all === false) where.push(ownOrAdministered(ctx, user))
  if (filter.machineId) where.push(eq(sessions.remoteMachineId, filter.machineId))
  if (filter.tenantId !== undefined) where.push(eq(sessions.tenantId, filter.tenantId))
  if (filter.status) where.push(eq(sessions.status, filter.status))
  const rows = await ctx.db
    .select({ session: sessions, machine: remoteMachines })
    .from(sessions)
    .leftJoin(remoteMachines, eq(remoteMachines.machineId, sessions.remoteMachineId))
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(sessions.updatedAt))
    .limit(500)
  const totals = await sessionTotals(
    ctx,
    rows.map((r) => r.session.id),
  )
  return rows.map((r) => sessionView(r.session, r.machine, totals.get(r.session.id)))
}

export async function getSession(
  ctx: AppContext,
  user: UserRow,
  id: string,
  page: { after?: number; limit?: number },
) {
  const { session, machine } = await sessionAccess(ctx, user, id, 'view')
  const after = page.after ?? -1
  const limit = page.limit ?? DEFAULT_OUTPUT_PAGE
  const [totals, output, extras, last] = await Promise.all([
    sessionTotals(ctx, [id]),
    outputPage(ctx, id, after, limit),
    conversationExtras(ctx, id),
    lastSeq(ctx, id),
  ])
  return {
    session: {
      ...sessionView(session, machine, totals.get(id)),
      last_seq: last,
      output: output.records,
      output_has_more: output.hasMore,
      ...extras,
    },
  }
}

/**
 * The fast path: authorized from this instance's access cache (access/cache.ts), then one
 * transaction of two statements (storeChat). A cached state that refuses, or a session row that
 * does, is read again for the exact answer.
 */
export async function chat(ctx: AppContext, user: UserRow, actor: Actor, id: string, content: string) {
  const cached = await sessionAccess(ctx, user, id, 'steer', { cached: true })
  if (nextState(cached.session.status, 'chat') !== undefined) {
    const sent = await storeChat(ctx, user, actor, id, machineOf(cached), content)
    if (sent) return sent
  }
  const access = await sessionAccess(ctx, user, id, 'steer')
  transition(access.session.status, 'chat')
  const sent = await storeChat(ctx, user, actor, id, machineOf(access), content)
  if (!sent) throw conflict('The session changed state while the message was sent; try again')
  return sent
}

/** The states a message may be sent in, from the state machine. */
const CHAT_STATES = SESSION_STATUSES.filter((s) => nextState(s, 'chat') !== undefined)

/**
 * One transaction: the first statement touches the session only while it is in a state that
 * takes messages (checked under its row lock, so a stop on any instance either waits for it or
 * wins) and stores the message and its audit entry with it; the second queues the command. The
 * message is stored if and only if its command is queued; undefined when the state refused.
 */
async function storeChat(
  ctx: AppContext,
  user: UserRow,
  actor: Actor,
  id: string,
  machineId: string,
  content: string,
) {
  const messageId = randomUUID()
  const now = ctx.now().toISOString()
  const audit = auditRow(
    'session.chat',
    actor,
    { type: 'session', id },
    { message_id: messageId, chars: content.length },
  )
  const stored = await ctx.transaction(async (tx) => {
    // A new turn starts (or the running one goes on); an earlier quota or provider refusal is
    // the past once the person tries again. A quota warning holds until its period resets.
    const result = await tx.execute(sql`
      with touched as (
        update ${sessions} set updated_at = ${now}::timestamptz,
          turn_started_at = coalesce(turn_started_at, ${now}::timestamptz),
          alert = case when alert->>'level' = 'warning' then alert end
        where id = ${id} and status in (${sql.join(
          CHAT_STATES.map((s) => sql`${s}`),
          sql`, `,
        )})
        returning id, coalesce(title, project_path) as name
      ), message as (
        insert into ${sessionMessages} (id, session_id, user_id, content, after_seq, created_at)
        select ${messageId}::uuid, touched.id, ${user.id}, ${content}, ${lastSeqSql(id)}, ${now}::timestamptz
        from touched
        returning id
      ), audited as (
        insert into ${auditLog} (event, outcome, tenant_id, actor_type, actor_id, actor_name, ip,
          target_type, target_id, target_name, details)
        select ${audit.event}, ${audit.outcome}, ${audit.tenantId}::integer, ${audit.actorType},
          ${audit.actorId}, ${audit.actorName}, ${audit.ip}, ${audit.targetType}, ${audit.targetId},
          touched.name, ${JSON.stringify(audit.details)}::jsonb
        from message, touched
      )
      select id from message`)
    const rows = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows
    if (rows.length === 0) return false
    await queueCommand(
      ctx,
      machineId,
      { type: 'session.input', session_id: id, message_id: messageId, content },
      { tx },
    )
    return true
  })
  return stored ? { message_id: messageId, created_at: now } : undefined
}

export type ControlAction = 'stop' | 'pause' | 'resume' | 'abort'

export async function control(
  ctx: AppContext,
  user: UserRow,
  actor: Actor,
  id: string,
  action: ControlAction,
) {
  const access = await sessionAccess(ctx, user, id, action === 'abort' ? 'steer' : action)
  const from = access.session.status
  transition(from, action)
  const machineId = action === 'stop' ? access.session.remoteMachineId : machineOf(access)
  // One transaction: the state, the revoked proxy tokens and the agent's command go together.
  const next = await ctx.transaction(async (tx) => {
    const next = await moveSession(ctx, id, action, { from, tx })
    if (action === 'stop') await revokeProxyTokens(ctx, { sessionId: id }, tx)
    if (machineId)
      await queueCommand(ctx, machineId, { type: `session.${action}`, session_id: id } as CommandPayload, {
        tx,
      })
    return next
  })
  await ctx.audit(`session.${action}`, actor, { type: 'session', id }, { owner_id: access.session.userId })
  return { session_id: id, status: next }
}

export async function updateSession(
  ctx: AppContext,
  user: UserRow,
  actor: Actor,
  id: string,
  patch: { title?: string; permissionMode?: PermissionMode },
) {
  const access = await sessionAccess(ctx, user, id, 'steer')
  if (!isLive(access.session.status))
    throw conflict(`Cannot change a session that is ${access.session.status}`)
  const [row] = await ctx.db
    .update(sessions)
    .set({
      updatedAt: ctx.now(),
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.permissionMode !== undefined ? { permissionMode: patch.permissionMode } : {}),
    })
    .where(and(eq(sessions.id, id), eq(sessions.status, access.session.status)))
    .returning()
  if (!row) throw conflict('The session changed meanwhile; reload and try again')
  await ctx.audit('session.update', actor, { type: 'session', id }, { changed: Object.keys(patch) })
  await publishSessionChange(ctx, 'title', id)
  return sessionView(row, access.machine)
}
