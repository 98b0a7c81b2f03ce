// The durable command queue to agents (agent_commands: pending -> delivered -> acked). Queuing
// joins the caller's transaction; after commit it wakes the agent's channel from memory when
// this instance holds it, else NOTIFYs every instance, so whichever one holds it delivers at once.
// Claiming is one UPDATE ... SKIP LOCKED, so two channels never both take a pending command.
import { and, eq, inArray, isNull, sql } from 'drizzle-orm'
import type { Command, CommandPayload } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { agentCommands, remoteMachines } from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { notFound } from '../errors.ts'
import { observeCommandDelivery } from '../metrics/instruments.ts'

export const COMMANDS_CHANNEL = 'oa_agent_commands'
/** Most commands handed over in one delivery. */
export const MAX_COMMANDS_PER_DELIVERY = 100
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type CommandRow = typeof agentCommands.$inferSelect

export interface QueueOptions {
  /**
   * The session the command is about (kept for cleanup and for the sessions views); null
   * queues it unlinked, so it outlives the session's row (a deleted user's session.stop).
   */
  sessionId?: string | null
  /** The caller's transaction: the command is queued only if it commits, and announced after. */
  tx?: Tx
}

/**
 * Queues one command for a machine's agent; once the transaction commits, wakes the instance
 * holding the agent's channel. 404 for a removed machine.
 */
export async function queueCommand(
  ctx: AppContext,
  machineId: string,
  command: CommandPayload,
  options: QueueOptions = {},
): Promise<Command> {
  return ctx.transaction(async (tx) => {
    const { type, ...payload } = command
    const sessionId =
      options.sessionId !== undefined
        ? options.sessionId
        : 'session_id' in payload
          ? payload.session_id
          : undefined
    // One statement: the machine id comes from the registered machine's row, so a removed
    // machine leaves it null, which the column refuses (no separate check).
    const registered = sql<string>`(select ${remoteMachines.machineId} from ${remoteMachines}
      where ${remoteMachines.machineId} = ${machineId} and ${isNull(remoteMachines.deletedAt)})`
    const [row] = await tx
      .insert(agentCommands)
      .values({
        machineId: registered,
        sessionId: sessionId ?? null,
        kind: type,
        payload,
        createdAt: ctx.now(),
      })
      .returning()
      .catch((error: unknown) => {
        throw isNotNullViolation(error) ? notFound('Machine') : error
      })
    tx.afterCommit(async () => {
      ctx.state.metrics.commandsQueued.inc()
      // The fast path: the agent's channel is on this instance, so no NOTIFY round trip.
      if (!ctx.state.channelHub.wakeLocal(machineId)) await ctx.database.notify(COMMANDS_CHANNEL, machineId)
    })
    return toCommand(row!)
  }, options.tx)
}

/** Postgres' not_null_violation (23502), however the driver wraps it. */
function isNotNullViolation(error: unknown): boolean {
  for (let e = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23502') return true
  }
  return false
}

function toCommand(row: CommandRow): Command {
  return { ...row.payload, id: row.id, type: row.kind } as Command
}

export interface ClaimOptions {
  /** Also hand out commands already delivered but not acked (after a reconnect). */
  redeliver?: boolean
  /** With redeliver: only those delivered before this time (a lost long-poll answer). */
  deliveredBefore?: Date
}

/** Marks the machine's next commands delivered and returns them in queue order. */
export async function claimCommands(ctx: AppContext, machineId: string, options: ClaimOptions = {}) {
  // An ack still in memory must not make its command look unanswered.
  if (options.redeliver) await ctx.peek('commandAcks')?.flush()
  const now = ctx.now()
  const redeliverable = options.redeliver
    ? options.deliveredBefore
      ? sql`or (${agentCommands.status} = 'delivered' and ${agentCommands.deliveredAt} < ${options.deliveredBefore.toISOString()})`
      : sql`or ${agentCommands.status} = 'delivered'`
    : sql``
  const rows = await ctx.db
    .update(agentCommands)
    .set({ status: 'delivered', deliveredAt: now, attempts: sql`${agentCommands.attempts} + 1` })
    .where(
      inArray(
        agentCommands.id,
        sql`(select ${agentCommands.id} from ${agentCommands}
             where ${agentCommands.machineId} = ${machineId}
               and (${agentCommands.status} = 'pending' ${redeliverable})
             order by ${agentCommands.seq}
             limit ${MAX_COMMANDS_PER_DELIVERY}
             for update skip locked)`,
      ),
    )
    .returning()
  observeCommandDelivery(ctx, rows)
  return rows.sort((a, b) => a.seq - b.seq).map(toCommand)
}

/** How long acks wait in memory, so one UPDATE writes every ack that came meanwhile. */
export const ACK_FLUSH_MS = 10

/**
 * This instance's acks not yet written (ctx.state.commandAcks). An agent acks each command as a
 * frame of its own; writing each at once put one UPDATE per command between the agent's frames
 * (its output waited behind it). A lost buffer (a crash) costs only a redelivery, which the agent
 * drops by id; a redelivering claim writes the buffer first.
 */
export interface AckBuffer {
  /** Pending acks as (machine, command id) pairs. */
  pending: Map<string, string>
  /** Writes the pending acks within ACK_FLUSH_MS. */
  schedule(): void
  flush(): Promise<void>
}

export function createAckBuffer(ctx: AppContext): AckBuffer {
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> = Promise.resolve()
  const buffer: AckBuffer = {
    pending: new Map(),
    schedule() {
      timer ??= setTimeout(() => {
        void buffer.flush().catch((error) => ctx.log.warn('ack flush failed', { error }))
      }, ACK_FLUSH_MS)
    },
    flush() {
      clearTimeout(timer)
      timer = undefined
      const batch = buffer.pending
      if (batch.size === 0) return running
      buffer.pending = new Map()
      running = running
        .catch(() => {})
        .then(() => writeAcks(ctx, batch))
        .catch((error: unknown) => {
          // Kept for the next flush; the failure is the caller's to report.
          for (const [id, machineId] of batch) buffer.pending.set(id, machineId)
          buffer.schedule()
          throw error
        })
      return running
    },
  }
  ctx.onClose(() => buffer.flush())
  return buffer
}

/** One UPDATE for the batch; ids of another machine than the one that acked are ignored (binding). */
async function writeAcks(ctx: AppContext, batch: Map<string, string>): Promise<void> {
  const pairs = [...batch].map(([id, machineId]) => sql`(${machineId}::text, ${id}::uuid)`)
  await ctx.db
    .update(agentCommands)
    .set({ status: 'acked', ackedAt: ctx.now() })
    .where(
      and(
        // The id list finds the rows by primary key; the pairs keep each to its own machine.
        inArray(agentCommands.id, [...batch.keys()]),
        sql`(${agentCommands.machineId}, ${agentCommands.id}) in (${sql.join(pairs, sql`, `)})`,
        sql`${agentCommands.status} <> 'acked'`,
      ),
    )
}

/** The agent has these commands: written with the next batch (within ACK_FLUSH_MS). */
export function ackCommands(ctx: AppContext, machineId: string, ids: string[]): void {
  const buffer = ctx.state.commandAcks
  for (const id of ids) if (UUID.test(id)) buffer.pending.set(id, machineId)
  if (buffer.pending.size) buffer.schedule()
}

/** Drops every command not yet acked (machine deregistered). */
export async function dropUnackedCommands(tx: Tx, machineId: string): Promise<void> {
  await tx
    .delete(agentCommands)
    .where(and(eq(agentCommands.machineId, machineId), sql`${agentCommands.status} <> 'acked'`))
}
