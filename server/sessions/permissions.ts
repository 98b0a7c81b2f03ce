// Tool permissions, all of them: the requests the CLI raises (stream-json can_use_tool), stored
// when their output record arrives so they survive a reload, and the person's answers. Who
// answers: an "always allow" rule of the session for that tool, else the session's permission
// mode (`auto-edit` lets file edits through, `yolo` allows everything), else the person. Every
// outcome is published to the session's watchers, so a prompt closes in every tab and the
// conversation records what was decided.
import { and, eq } from 'drizzle-orm'
import type { OutputEvent } from '../../protocol/index.ts'
import { queueCommand } from '../agents/commands.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { permissionRequests, sessionPermissionRules, sessions } from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { conflict, notFound } from '../errors.ts'
import { machineOf, sessionAccess } from './access.ts'
import { publishPermissionOutcome } from './events.ts'
import type { PermissionMode } from './model.ts'
import { transition } from './state.ts'

const EDIT_TOOLS = /^(edit|multi_?edit|write|write_?file|edit_?file|replace|notebook_?edit|str_replace\w*)$/i

/** Whether the mode answers a request by itself (true = allow), or undefined to ask the person. */
export function autoDecision(mode: PermissionMode, toolName: string): boolean | undefined {
  if (mode === 'yolo') return true
  if (mode === 'auto-edit' && EDIT_TOOLS.test(toolName)) return true
  return undefined
}

type PermissionEvent = Extract<OutputEvent, { kind: 'permission_request' }>

/** The tools the session allows without asking. */
export async function permissionRules(ctx: AppContext, sessionId: string) {
  const rows = await ctx.db
    .select()
    .from(sessionPermissionRules)
    .where(eq(sessionPermissionRules.sessionId, sessionId))
    .orderBy(sessionPermissionRules.createdAt)
  return rows.map((r) => ({ tool_name: r.toolName, created_at: r.createdAt.toISOString() }))
}

export async function addPermissionRule(tx: Tx, sessionId: string, toolName: string, userId: number) {
  await tx
    .insert(sessionPermissionRules)
    .values({ sessionId, toolName, createdBy: userId })
    .onConflictDoNothing()
}

/** Removes a rule; false when the session had none for that tool. */
export async function removePermissionRule(ctx: AppContext, sessionId: string, toolName: string) {
  const rows = await ctx.db
    .delete(sessionPermissionRules)
    .where(
      and(eq(sessionPermissionRules.sessionId, sessionId), eq(sessionPermissionRules.toolName, toolName)),
    )
    .returning({ toolName: sessionPermissionRules.toolName })
  return rows.length > 0
}

/** Stores the permission requests among freshly stored records and answers those a rule or the mode covers. */
export async function recordPermissionRequests(
  ctx: AppContext,
  machineId: string,
  sessionId: string,
  records: Array<{ seq: number; event?: OutputEvent | null }>,
): Promise<void> {
  const requests = records.filter(
    (r): r is { seq: number; event: PermissionEvent } => r.event?.kind === 'permission_request',
  )
  if (requests.length === 0) return
  const [[session], rules] = await Promise.all([
    ctx.db.select({ mode: sessions.permissionMode }).from(sessions).where(eq(sessions.id, sessionId)),
    permissionRules(ctx, sessionId),
  ])
  const mode = (session?.mode ?? 'default') as PermissionMode
  const ruled = new Set(rules.map((r) => r.tool_name))
  for (const { seq, event } of requests) {
    const by = ruled.has(event.tool_name) ? 'rule' : autoDecision(mode, event.tool_name) ? 'mode' : undefined
    const inserted = await ctx.db
      .insert(permissionRequests)
      .values({
        sessionId,
        requestId: event.request_id,
        toolName: event.tool_name,
        input: event.input ?? null,
        description: event.description ?? null,
        seq,
        ...(by ? { decision: 'allowed' as const, answeredAt: ctx.now() } : {}),
      })
      .onConflictDoNothing()
      .returning({ requestId: permissionRequests.requestId })
    if (inserted.length === 0 || !by) continue
    await queueCommand(ctx, machineId, {
      type: 'session.permission',
      session_id: sessionId,
      request_id: event.request_id,
      allow: true,
    })
    await publishPermissionOutcome(ctx, sessionId, {
      request_id: event.request_id,
      tool_name: event.tool_name,
      decision: 'allowed',
      always: false,
      by: 'auto',
    })
    await ctx.audit(
      'session.permission.auto',
      { type: 'system', name: by === 'rule' ? `always allow ${event.tool_name}` : `permission mode ${mode}` },
      { type: 'session', id: sessionId },
      { request_id: event.request_id, tool_name: event.tool_name },
    )
  }
}

export async function answerPermission(
  ctx: AppContext,
  user: UserRow,
  actor: Actor,
  id: string,
  answer: { requestId: string; allow: boolean; always?: boolean },
) {
  const access = await sessionAccess(ctx, user, id, 'steer')
  transition(access.session.status, 'permission')
  const machineId = machineOf(access)
  // One transaction: the decision is stored if and only if the agent is told.
  const decision = await ctx.transaction(async (tx) => {
    const updated = await tx
      .update(permissionRequests)
      .set({
        decision: answer.allow ? 'allowed' : 'denied',
        always: answer.allow && answer.always === true,
        answeredAt: ctx.now(),
        answeredBy: user.id,
      })
      .where(
        and(
          eq(permissionRequests.sessionId, id),
          eq(permissionRequests.requestId, answer.requestId),
          eq(permissionRequests.decision, 'pending'),
        ),
      )
      .returning()
    if (updated.length === 0) {
      const [existing] = await tx
        .select({ decision: permissionRequests.decision })
        .from(permissionRequests)
        .where(and(eq(permissionRequests.sessionId, id), eq(permissionRequests.requestId, answer.requestId)))
      if (!existing) throw notFound('Permission request')
      throw conflict(`That permission request was already ${existing.decision}`)
    }
    const row = updated[0]!
    // "Always allow": the next request of this tool in the session is answered without asking.
    if (row.always) await addPermissionRule(tx, id, row.toolName, user.id)
    await queueCommand(
      ctx,
      machineId,
      {
        type: 'session.permission',
        session_id: id,
        request_id: answer.requestId,
        allow: answer.allow,
        ...(answer.always !== undefined ? { always: row.always } : {}),
      },
      { tx },
    )
    tx.afterCommit(() =>
      publishPermissionOutcome(ctx, id, {
        request_id: answer.requestId,
        tool_name: row.toolName,
        decision: row.decision,
        always: row.always,
        by: 'user',
      }),
    )
    return row
  })
  await ctx.audit(
    'session.permission',
    actor,
    { type: 'session', id },
    { request_id: answer.requestId, allow: answer.allow, always: answer.always ?? false },
  )
  return { request_id: answer.requestId, decision: decision.decision, always: decision.always }
}

export async function listPermissionRules(ctx: AppContext, user: UserRow, id: string) {
  await sessionAccess(ctx, user, id, 'view')
  return { rules: await permissionRules(ctx, id) }
}

/** Revokes an "always allow" rule: the tool's next request asks the person again. */
export async function revokePermissionRule(
  ctx: AppContext,
  user: UserRow,
  actor: Actor,
  id: string,
  toolName: string,
) {
  await sessionAccess(ctx, user, id, 'steer')
  if (!(await removePermissionRule(ctx, id, toolName))) throw notFound(`Rule for tool '${toolName}'`)
  await ctx.audit('session.permission.rule_revoked', actor, { type: 'session', id }, { tool_name: toolName })
  return { rules: await permissionRules(ctx, id) }
}
