// The sessions API's response shapes (the seed's field names). A live session whose machine is
// offline shows `disconnected`; it returns to its stored state when the agent is back.
import { and, eq, gt, inArray, lte, max, sql, sum } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import {
  DISCONNECTED,
  type DisplayedSessionStatus,
  permissionRequests,
  quotaUsage,
  sessionMessages,
  sessionOutput,
} from '../db/schema/index.ts'
import type { MachineRow, SessionRow } from './access.ts'
import { MAX_OUTPUT_PAGE_BYTES } from './model.ts'
import { isLive } from './state.ts'

export interface SessionTotals {
  total_tokens: number
  message_count: number
}

/** Token and request totals per session, from the proxy's ledger (the one that counts). */
export async function sessionTotals(ctx: AppContext, ids: string[]): Promise<Map<string, SessionTotals>> {
  const out = new Map<string, SessionTotals>()
  if (ids.length === 0) return out
  const rows = await ctx.db
    .select({
      sessionId: quotaUsage.sessionId,
      tokens: sum(sql`${quotaUsage.inputTokens} + ${quotaUsage.outputTokens}`),
      requests: sum(quotaUsage.requests),
    })
    .from(quotaUsage)
    .where(inArray(quotaUsage.sessionId, ids))
    .groupBy(quotaUsage.sessionId)
  for (const r of rows)
    out.set(r.sessionId!, { total_tokens: Number(r.tokens ?? 0), message_count: Number(r.requests ?? 0) })
  return out
}

export function displayStatus(session: SessionRow, machine: MachineRow | null): DisplayedSessionStatus {
  if (isLive(session.status) && machine && machine.status !== 'online') return DISCONNECTED
  return session.status
}

export function sessionView(session: SessionRow, machine: MachineRow | null, totals?: SessionTotals) {
  return {
    session_id: session.id,
    status: displayStatus(session, machine),
    workspace_type: session.workspaceType,
    machine_id: session.remoteMachineId,
    remote_machine_id: session.remoteMachineId,
    machine_name: machine?.name ?? null,
    user_id: session.userId,
    project_path: session.projectPath,
    cli_tool: session.cliTool,
    model: session.model,
    title: session.title,
    permission_mode: session.permissionMode ?? 'default',
    total_tokens: totals?.total_tokens ?? 0,
    message_count: totals?.message_count ?? 0,
    created_at: session.createdAt.toISOString(),
    updated_at: session.updatedAt.toISOString(),
    ended_at: session.endedAt ? session.endedAt.toISOString() : null,
  }
}

/** The session's highest stored seq (-1 before any), as a subquery to embed in a write. */
export function lastSeqSql(sessionId: string) {
  return sql<number>`(select coalesce(max(${sessionOutput.seq}), -1) from ${sessionOutput} where ${sessionOutput.sessionId} = ${sessionId})`
}

export async function lastSeq(ctx: AppContext, sessionId: string): Promise<number> {
  const [row] = await ctx.db
    .select({ n: max(sessionOutput.seq) })
    .from(sessionOutput)
    .where(eq(sessionOutput.sessionId, sessionId))
  return row?.n ?? -1
}

/**
 * Output records after `after`, at most `limit` of them and at most MAX_OUTPUT_PAGE_BYTES of
 * text (always at least one record), so one read of a chatty session cannot return tens of MB.
 * The sizes are read first, without the text, so the page's cut costs no more than its rows.
 */
export async function outputPage(ctx: AppContext, sessionId: string, after: number, limit: number) {
  const after_ = and(eq(sessionOutput.sessionId, sessionId), gt(sessionOutput.seq, after))
  const sizes = await ctx.db
    .select({
      seq: sessionOutput.seq,
      bytes: sql<number>`octet_length(${sessionOutput.data}) + coalesce(octet_length(${sessionOutput.event}::text), 0)`,
    })
    .from(sessionOutput)
    .where(after_)
    .orderBy(sessionOutput.seq)
    .limit(limit + 1)
  let taken = 0
  let bytes = 0
  for (const size of sizes.slice(0, limit)) {
    if (taken > 0 && bytes + Number(size.bytes) > MAX_OUTPUT_PAGE_BYTES) break
    bytes += Number(size.bytes)
    taken++
  }
  const through = sizes[taken - 1]?.seq
  const rows =
    through === undefined
      ? []
      : await ctx.db
          .select()
          .from(sessionOutput)
          .where(and(after_, lte(sessionOutput.seq, through)))
          .orderBy(sessionOutput.seq)
  return {
    records: rows.map((r) => ({
      seq: r.seq,
      stream: r.stream,
      data: r.data,
      event: r.event,
      timestamp: r.ts.toISOString(),
    })),
    hasMore: sizes.length > taken,
  }
}

export async function conversationExtras(ctx: AppContext, sessionId: string) {
  const [messages, permissions] = await Promise.all([
    ctx.db
      .select()
      .from(sessionMessages)
      .where(eq(sessionMessages.sessionId, sessionId))
      .orderBy(sessionMessages.createdAt),
    ctx.db
      .select()
      .from(permissionRequests)
      .where(and(eq(permissionRequests.sessionId, sessionId), eq(permissionRequests.decision, 'pending')))
      .orderBy(permissionRequests.createdAt),
  ])
  return {
    messages: messages.map((m) => ({
      message_id: m.id,
      role: 'user' as const,
      content: m.content,
      user_id: m.userId,
      after_seq: m.afterSeq,
      created_at: m.createdAt.toISOString(),
    })),
    pending_permissions: permissions.map((p) => ({
      request_id: p.requestId,
      tool_name: p.toolName,
      input: p.input,
      description: p.description,
      seq: p.seq,
      created_at: p.createdAt.toISOString(),
    })),
  }
}
