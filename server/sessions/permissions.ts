// Tool permissions, all of them: the requests the CLI raises (stream-json can_use_tool), stored
// when their output record arrives so they survive a reload, and the person's answers. The
// session's permission mode decides who answers: `default` asks the person, `auto-edit` lets
// file edits through, `yolo` allows everything.
import { and, eq } from 'drizzle-orm'
import type { OutputEvent } from '../../protocol/index.ts'
import { queueCommand } from '../agents/commands.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { permissionRequests, sessions } from '../db/schema/index.ts'
import { conflict, notFound } from '../errors.ts'
import { machineOf, sessionAccess } from './access.ts'
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

/** Stores the permission requests among freshly stored records and auto-answers per the session's mode. */
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
  const [session] = await ctx.db
    .select({ mode: sessions.permissionMode })
    .from(sessions)
    .where(eq(sessions.id, sessionId))
  const mode = (session?.mode ?? 'default') as PermissionMode
  for (const { seq, event } of requests) {
    const allow = autoDecision(mode, event.tool_name)
    const inserted = await ctx.db
      .insert(permissionRequests)
      .values({
        sessionId,
        requestId: event.request_id,
        toolName: event.tool_name,
        input: event.input ?? null,
        description: event.description ?? null,
        seq,
        ...(allow !== undefined ? { decision: 'allowed' as const, answeredAt: ctx.now() } : {}),
      })
      .onConflictDoNothing()
      .returning({ requestId: permissionRequests.requestId })
    if (inserted.length === 0 || allow === undefined) continue
    await queueCommand(ctx, machineId, {
      type: 'session.permission',
      session_id: sessionId,
      request_id: event.request_id,
      allow,
    })
    await ctx.audit(
      'session.permission.auto',
      { type: 'system', name: `permission mode ${mode}` },
      { type: 'session', id: sessionId },
      {
        request_id: event.request_id,
        tool_name: event.tool_name,
      },
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
        always: answer.always ?? false,
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
    await queueCommand(
      ctx,
      machineId,
      {
        type: 'session.permission',
        session_id: id,
        request_id: answer.requestId,
        allow: answer.allow,
        ...(answer.always !== undefined ? { always: answer.always } : {}),
      },
      { tx },
    )
    return updated[0]!.decision
  })
  await ctx.audit(
    'session.permission',
    actor,
    { type: 'session', id },
    { request_id: answer.requestId, allow: answer.allow, always: answer.always ?? false },
  )
  return { request_id: answer.requestId, decision }
}
