// The sessions API's response shapes (the seed's field names). A live session whose machine is
// offline shows `disconnected`; it returns to its stored state when the agent is back.
import { and, count, desc, eq, gt, inArray, isNotNull, lte, max, sql, sum } from 'drizzle-orm'
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
import { recordBytes } from './output-bounds.ts'
import { permissionRules } from './permissions.ts'
import { isLive } from './state.ts'

export interface SessionTotals {
  total_tokens: number
  input_tokens: number
  output_tokens: number
  message_count: number
  /** Permission requests waiting for the person. */
  pending_permissions: number
  /** The model of the session's latest proxied call (what the CLI really uses). */
  model_in_use: string | null
}

/** Token and request totals per session, from the proxy's ledger (the one that counts). */
export async function sessionTotals(ctx: AppContext, ids: string[]): Promise<Map<string, SessionTotals>> {
  const out = new Map<string, SessionTotals>()
  if (ids.length === 0) return out
  const [rows, pending, models] = await Promise.all([
    ctx.db
      .select({
        sessionId: quotaUsage.sessionId,
        input: sum(quotaUsage.inputTokens),
        output: sum(quotaUsage.outputTokens),
        requests: sum(quotaUsage.requests),
      })
      .from(quotaUsage)
      .where(inArray(quotaUsage.sessionId, ids))
      .groupBy(quotaUsage.sessionId),
    ctx.db
      .select({ sessionId: permissionRequests.sessionId, n: count() })
      .from(permissionRequests)
      .where(and(inArray(permissionRequests.sessionId, ids), eq(permissionRequests.decision, 'pending')))
      .groupBy(permissionRequests.sessionId),
    ctx.db
      .selectDistinctOn([quotaUsage.sessionId], { sessionId: quotaUsage.sessionId, model: quotaUsage.model })
      .from(quotaUsage)
      .where(and(inArray(quotaUsage.sessionId, ids), isNotNull(quotaUsage.model)))
      .orderBy(quotaUsage.sessionId, desc(quotaUsage.ts)),
  ])
  const empty = (): SessionTotals => ({
    total_tokens: 0,
    input_tokens: 0,
    output_tokens: 0,
    message_count: 0,
    pending_permissions: 0,
    model_in_use: null,
  })
  const entry = (id: string) => {
    const totals = out.get(id) ?? empty()
    out.set(id, totals)
    return totals
  }
  for (const r of rows) {
    const totals = entry(r.sessionId!)
    totals.input_tokens = Number(r.input ?? 0)
    totals.output_tokens = Number(r.output ?? 0)
    totals.total_tokens = totals.input_tokens + totals.output_tokens
    totals.message_count = Number(r.requests ?? 0)
  }
  for (const r of pending) entry(r.sessionId).pending_permissions = Number(r.n)
  for (const r of models) entry(r.sessionId!).model_in_use = r.model
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
    input_tokens: totals?.input_tokens ?? 0,
    output_tokens: totals?.output_tokens ?? 0,
    message_count: totals?.message_count ?? 0,
    pending_permissions: totals?.pending_permissions ?? 0,
    model_in_use: totals?.model_in_use ?? null,
    /** Why the session failed, for a person: set with status `error`. */
    error: session.errorCode ? { code: session.errorCode, message: session.errorMessage ?? '' } : null,
    /** The latest quota or provider problem with the session's LLM calls. */
    alert: session.alert ?? null,
    /** It continues by itself when the quota that stopped it resets (sessions/auto-continue.ts). */
    auto_continue: session.autoContinueUrl !== null,
    /** Set while a turn runs: since when, and the tool running now. */
    working: session.turnStartedAt
      ? { since: session.turnStartedAt.toISOString(), tool: session.currentTool }
      : null,
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
      bytes: recordBytes,
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
  const [messages, permissions, rules] = await Promise.all([
    ctx.db
      .select()
      .from(sessionMessages)
      .where(eq(sessionMessages.sessionId, sessionId))
      .orderBy(sessionMessages.createdAt),
    ctx.db
      .select()
      .from(permissionRequests)
      .where(eq(permissionRequests.sessionId, sessionId))
      .orderBy(permissionRequests.createdAt),
    permissionRules(ctx, sessionId),
  ])
  const pending = permissions.filter((p) => p.decision === 'pending')
  return {
    messages: messages.map((m) => ({
      message_id: m.id,
      role: 'user' as const,
      content: m.content,
      user_id: m.userId,
      after_seq: m.afterSeq,
      created_at: m.createdAt.toISOString(),
    })),
    pending_permissions: pending.map((p) => ({
      request_id: p.requestId,
      tool_name: p.toolName,
      input: p.input,
      description: p.description,
      seq: p.seq,
      created_at: p.createdAt.toISOString(),
    })),
    /** How each answered request was decided, so the conversation records the outcome. */
    permission_outcomes: permissions
      .filter((p) => p.decision !== 'pending')
      .map((p) => ({
        request_id: p.requestId,
        tool_name: p.toolName,
        decision: p.decision,
        always: p.always,
        by: p.answeredBy === null ? ('auto' as const) : ('user' as const),
      })),
    permission_rules: rules,
  }
}
