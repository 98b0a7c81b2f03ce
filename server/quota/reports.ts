// CLI-reported usage (POST /api/remote/usage-report): stored once per (machine, report id), only
// for the reporting agent's own sessions, rate limited per machine, and kept in its own table:
// the proxy's ledger is what counts toward quota, so nothing is counted twice.
import { and, eq } from 'drizzle-orm'
import type { TokenUsage } from '../../protocol/index.ts'
import { FrameRefused, type FrameReport } from '../agents/frames.ts'
import type { AgentIdentity } from '../agents/guard.ts'
import type { AppContext } from '../context/index.ts'
import { sessions, usageReports } from '../db/schema/index.ts'
import { HttpError, notFound } from '../errors.ts'
import { publishLive } from '../live/bus.ts'

/** Reports one machine may send per window before getting 429. */
export const USAGE_REPORTS_PER_WINDOW = 120
const RATE_WINDOW_MS = 60_000

export interface UsageReportInput {
  reportId: string
  sessionId: string
  model?: string
  tool?: string
  usage: TokenUsage
  requests?: number
}

/** Each machine's current rate window on this instance (ctx.state.usageReportWindows). */
export type UsageReportWindows = Map<string, { start: number; count: number }>

export const createUsageReportWindows = (): UsageReportWindows => new Map()

function rateLimit(ctx: AppContext, machineId: string) {
  const byMachine = ctx.state.usageReportWindows
  const now = ctx.now().getTime()
  const w = byMachine.get(machineId)
  if (!w || now - w.start >= RATE_WINDOW_MS) byMachine.set(machineId, { start: now, count: 1 })
  else if (++w.count > USAGE_REPORTS_PER_WINDOW) {
    const retry = Math.ceil((w.start + RATE_WINDOW_MS - now) / 1000)
    throw new HttpError(429, 'Too many usage reports; slow down', 'rate_limited', undefined, {
      'retry-after': String(retry),
    })
  }
}

/** Stores a report; `duplicate` is true when this report id was already stored (nothing changes). */
export async function storeUsageReport(ctx: AppContext, agent: AgentIdentity, input: UsageReportInput) {
  rateLimit(ctx, agent.machineId)
  const [session] = await ctx.db
    .select({ userId: sessions.userId })
    .from(sessions)
    .where(and(eq(sessions.id, input.sessionId), eq(sessions.remoteMachineId, agent.machineId)))
    .limit(1)
  if (!session) throw notFound('Session')
  const stored = await ctx.db
    .insert(usageReports)
    .values({
      reportId: input.reportId,
      machineId: agent.machineId,
      sessionId: input.sessionId,
      userId: session.userId,
      tool: input.tool ?? null,
      model: input.model ?? null,
      inputTokens: input.usage.input_tokens,
      outputTokens: input.usage.output_tokens,
      requests: input.requests ?? 0,
    })
    .onConflictDoNothing()
    .returning({ id: usageReports.id })
  if (stored.length) await publishLive(ctx, { topic: 'usage', user_ids: [session.userId], api_key_ids: [] })
  if (stored.length)
    await ctx.audit(
      'usage.report',
      agent.actor,
      { type: 'session', id: input.sessionId },
      {
        report_id: input.reportId,
        input_tokens: input.usage.input_tokens,
        output_tokens: input.usage.output_tokens,
      },
    )
  return { duplicate: stored.length === 0 }
}

/**
 * The channel's usage.report frame: the same store, once per report id, answered with a
 * rate_limited error frame instead of a 429.
 */
export const usageFrameReport: FrameReport<'usage.report'> = async (ctx, agent, frame) => {
  // Kept apart from the proxy's ledger (which is what counts toward quota), once per report id.
  try {
    await storeUsageReport(ctx, agent, {
      reportId: frame.id ?? `${frame.session_id}@${frame.ts}`,
      sessionId: frame.session_id,
      model: frame.model,
      usage: frame.usage,
    })
  } catch (error) {
    if (error instanceof HttpError && error.status === 429) {
      throw new FrameRefused({ code: 'rate_limited', message: error.message })
    }
    throw error
  }
}
