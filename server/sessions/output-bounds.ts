// Keeps each session's stored output under SESSION_OUTPUT_MAX_MB. Every stored batch adds its
// size to the session's counter; past the limit the oldest records are deleted down to
// TRIM_TO of it (so trimming happens once per few MB, not on every batch), and one notice record
// takes the place of the last record dropped, saying how much is gone. A resent batch of
// records already dropped is not stored again (`output_dropped_through`).
import { and, eq, gte, lte, sql } from 'drizzle-orm'
import type { OutputDroppedEvent } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { sessionOutput, sessions } from '../db/schema/index.ts'

/** A trim brings the session down to this fraction of its limit. */
const TRIM_TO = 0.9
const MB = 1024 * 1024

/** One record's stored size: its text and its event, as Postgres measures them. */
export const recordBytes = sql<number>`(octet_length(${sessionOutput.data}) + coalesce(octet_length(${sessionOutput.event}::text), 0))`

const megabytes = (bytes: number) => `${Number((bytes / MB).toFixed(1))}`

/** The notice's text, for readers of the raw output; the UI words it in the reader's language. */
export function droppedNotice(droppedBytes: number, limitBytes: number): string {
  return `Earlier output (${megabytes(droppedBytes)} MB) was dropped to keep this session under its ${megabytes(limitBytes)} MB limit`
}

/** The highest seq dropped so far (-1 when nothing was): records at or below it are not stored. */
export async function droppedThrough(ctx: AppContext, sessionId: string): Promise<number> {
  const [row] = await ctx.db
    .select({ through: sessions.outputDroppedThrough })
    .from(sessions)
    .where(eq(sessions.id, sessionId))
  return row?.through ?? -1
}

/**
 * Adds newly stored bytes to the session's count; trims when it passes the limit. `alsoSet`:
 * other columns the same batch changes, written in the same UPDATE.
 */
export async function countStoredOutput(
  ctx: AppContext,
  sessionId: string,
  bytes: number,
  alsoSet: Partial<typeof sessions.$inferInsert> = {},
): Promise<void> {
  const [row] = await ctx.db
    .update(sessions)
    .set({ ...alsoSet, outputBytes: sql`${sessions.outputBytes} + ${bytes}` })
    .where(eq(sessions.id, sessionId))
    .returning({ outputBytes: sessions.outputBytes })
  if (row && row.outputBytes > ctx.config.sessionOutputMaxBytes) await trimOutput(ctx, sessionId)
}

/** Deletes the oldest records until the session is under TRIM_TO of its limit; leaves a notice. */
export async function trimOutput(ctx: AppContext, sessionId: string): Promise<void> {
  const limit = ctx.config.sessionOutputMaxBytes
  await ctx.transaction(async (tx) => {
    // The row lock makes concurrent trims of one session (two instances) take turns.
    const [session] = await tx
      .select({ bytes: sessions.outputBytes, dropped: sessions.outputDroppedBytes })
      .from(sessions)
      .where(eq(sessions.id, sessionId))
      .for('update')
    if (!session || session.bytes <= limit) return
    const excess = session.bytes - Math.floor(limit * TRIM_TO)
    const running = tx
      .select({
        seq: sessionOutput.seq,
        total: sql<string>`sum(${recordBytes}) over (order by ${sessionOutput.seq})`.as('total'),
      })
      .from(sessionOutput)
      .where(eq(sessionOutput.sessionId, sessionId))
      .as('running')
    const [cut] = await tx
      .select({ seq: running.seq })
      .from(running)
      .where(gte(running.total, String(excess)))
      .orderBy(running.seq)
      .limit(1)
    // The counter ran ahead of the rows (nothing that large is stored): drop everything but the newest.
    const [newest] = cut
      ? [cut]
      : await tx
          .select({ seq: sessionOutput.seq })
          .from(sessionOutput)
          .where(eq(sessionOutput.sessionId, sessionId))
          .orderBy(sql`${sessionOutput.seq} desc`)
          .limit(1)
    if (!newest) {
      await tx.update(sessions).set({ outputBytes: 0 }).where(eq(sessions.id, sessionId))
      return
    }
    const through = newest.seq
    const deleted = await tx
      .delete(sessionOutput)
      .where(and(eq(sessionOutput.sessionId, sessionId), lte(sessionOutput.seq, through)))
      .returning({ bytes: recordBytes, kind: sql<string | null>`${sessionOutput.event}->>'kind'` })
    const freed = deleted.reduce((sum, r) => sum + Number(r.bytes), 0)
    // An earlier notice is among the deleted rows; it was never the session's output.
    const dropped =
      session.dropped +
      deleted.reduce((sum, r) => sum + (r.kind === 'output_dropped' ? 0 : Number(r.bytes)), 0)
    const event: OutputDroppedEvent = { kind: 'output_dropped', dropped_bytes: dropped, limit_bytes: limit }
    const [notice] = await tx
      .insert(sessionOutput)
      .values({
        sessionId,
        seq: through,
        stream: 'system',
        data: droppedNotice(dropped, limit),
        event,
        ts: ctx.now(),
      })
      .returning({ bytes: recordBytes })
    await tx
      .update(sessions)
      .set({
        outputBytes: sql`greatest(0, ${sessions.outputBytes} - ${freed} + ${Number(notice!.bytes)})`,
        outputDroppedBytes: dropped,
        outputDroppedThrough: through,
      })
      .where(eq(sessions.id, sessionId))
  })
  ctx.log.info('session output trimmed', { session_id: sessionId, limit_bytes: limit })
}
