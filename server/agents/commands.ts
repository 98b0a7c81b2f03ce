// The durable command queue to agents (agent_commands: pending -> delivered -> acked). Queuing
// joins the caller's transaction; after commit it hands the row to the agent's channel when this
// instance holds it (sent at once, marked delivered in the next batch), else NOTIFYs every
// instance, so whichever one holds it claims it at once. Claiming is one UPDATE ... SKIP LOCKED,
// so two channels never both take a pending command.
import { and, eq, getTableColumns, inArray, isNull, sql } from 'drizzle-orm'
import type { Command, CommandPayload } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { agentCommands, remoteMachines } from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { notFound } from '../errors.ts'
import { observeCommandDelivery } from '../metrics/instruments.ts'

export const COMMANDS_CHANNEL = 'oa_agent_commands'
/** Most commands handed over in one delivery. */
export const MAX_COMMANDS_PER_DELIVERY = 100
/**
 * Older pending commands a queued one reports (one more than this: too many to hand over from
 * memory). The channel sends a queued command at once only when every older pending command of
 * its machine is one this instance sent already (its delivery mark not yet written).
 */
const OLDER_PENDING_REPORTED = 20
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type CommandRow = typeof agentCommands.$inferSelect

/** A command just committed, as the channel on this instance may send it from memory. */
export interface QueuedCommand {
  command: Command
  seq: number
  createdAt: Date
  /** Ids of the machine's pending commands older than this one when it was inserted; null: too many. */
  olderPending: string[] | null
}

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
 * Queues one command for a machine's agent; once the transaction commits, hands it to this
 * instance's channel of the machine, else wakes the instance holding it. 404 for a removed machine.
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
    // In the same statement: what is still pending before it (the table's own name, qualified
    // by hand as drizzle leaves RETURNING columns bare, is the new row).
    const olderPending = sql<string[]>`array(select older.id from ${agentCommands} older
      where older.machine_id = ${agentCommands}.machine_id and older.status = 'pending'
        and older.seq < ${agentCommands}.seq
      order by older.seq limit ${OLDER_PENDING_REPORTED + 1})`
    const [row] = await tx
      .insert(agentCommands)
      .values({
        machineId: registered,
        sessionId: sessionId ?? null,
        kind: type,
        payload,
        createdAt: ctx.now(),
      })
      .returning({ ...getTableColumns(agentCommands), olderPending })
      .catch((error: unknown) => {
        throw isNotNullViolation(error) ? notFound('Machine') : error
      })
    const queuedCommand = toCommand(row!)
    tx.afterCommit(async () => {
      ctx.state.metrics.commandsQueued.inc()
      // The fast path: the agent's channel is on this instance, so no NOTIFY round trip.
      const queued: QueuedCommand = {
        command: queuedCommand,
        seq: row!.seq,
        createdAt: row!.createdAt,
        olderPending: row!.olderPending.length > OLDER_PENDING_REPORTED ? null : row!.olderPending,
      }
      if (!ctx.state.channelHub.offerLocal(machineId, queued))
        await ctx.database.notify(COMMANDS_CHANNEL, machineId)
    })
    return queuedCommand
  }, options.tx)
}

/** Postgres' not_null_violation (23502), however the driver wraps it. */
function isNotNullViolation(error: unknown): boolean {
  for (let e = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23502') return true
  }
  return false
}

function toCommand(row: Pick<CommandRow, 'id' | 'kind' | 'payload'>): Command {
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
  // A command sent from memory is not pending any more, even if its mark (or the ack that took
  // the mark's place) is not written yet; an ack in memory must not make it look unanswered.
  await ctx.peek('deliveryMarks')?.flush()
  await ctx.peek('commandAcks')?.flush()
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

/** How long acks and delivery marks wait in memory, so one UPDATE writes every one that came meanwhile. */
export const ACK_FLUSH_MS = 10

/**
 * Command writes of this instance not yet made: acks (ctx.state.commandAcks) and delivery marks
 * of commands sent from memory (ctx.state.deliveryMarks). An agent acks each command as a frame
 * of its own; writing each at once put one UPDATE per command between the agent's frames (its
 * output waited behind it), and a mark written before the send put a round trip in front of
 * every command. A lost buffer (a crash) costs only a redelivery, which the agent drops by id;
 * a claim writes both first.
 */
export interface CommandWriteBuffer {
  /** Pending writes as (command id, machine) pairs. */
  pending: Map<string, string>
  /** The command's write is pending or being made. */
  has(id: string): boolean
  /** Writes the pending ones within ACK_FLUSH_MS. */
  schedule(): void
  flush(): Promise<void>
}

function createWriteBuffer(
  ctx: AppContext,
  what: string,
  write: (ctx: AppContext, batch: Map<string, string>) => Promise<void>,
): CommandWriteBuffer {
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> = Promise.resolve()
  const writing = new Set<Map<string, string>>()
  const buffer: CommandWriteBuffer = {
    pending: new Map(),
    has: (id) => buffer.pending.has(id) || [...writing].some((batch) => batch.has(id)),
    schedule() {
      timer ??= setTimeout(() => {
        void buffer.flush().catch((error) => ctx.log.warn(`${what} flush failed`, { error }))
      }, ACK_FLUSH_MS)
    },
    flush() {
      clearTimeout(timer)
      timer = undefined
      const batch = buffer.pending
      if (batch.size === 0) return running
      buffer.pending = new Map()
      writing.add(batch)
      running = running
        .catch(() => {})
        .then(() => write(ctx, batch))
        .catch((error: unknown) => {
          // Kept for the next flush; the failure is the caller's to report.
          for (const [id, machineId] of batch) buffer.pending.set(id, machineId)
          buffer.schedule()
          throw error
        })
        .finally(() => writing.delete(batch))
      return running
    },
  }
  ctx.onClose(() => buffer.flush())
  return buffer
}

export const createAckBuffer = (ctx: AppContext) => createWriteBuffer(ctx, 'ack', writeAcks)
export const createDeliveryMarks = (ctx: AppContext) =>
  createWriteBuffer(ctx, 'delivery mark', writeDeliveryMarks)

/** The machine's channel here sent these from memory: marked delivered with the next batch. */
export function markSent(ctx: AppContext, machineId: string, queued: QueuedCommand[]): void {
  const buffer = ctx.state.deliveryMarks
  for (const q of queued) buffer.pending.set(q.command.id, machineId)
  if (buffer.pending.size) buffer.schedule()
  observeCommandDelivery(
    ctx,
    queued.map((q) => ({ attempts: 1, createdAt: q.createdAt })),
  )
}

/** Only a command still pending is marked: an ack written first stays. */
async function writeDeliveryMarks(ctx: AppContext, batch: Map<string, string>): Promise<void> {
  await ctx.db
    .update(agentCommands)
    .set({ status: 'delivered', deliveredAt: ctx.now(), attempts: sql`${agentCommands.attempts} + 1` })
    .where(and(inArray(agentCommands.id, [...batch.keys()]), eq(agentCommands.status, 'pending')))
}

/** One UPDATE for the batch; ids of another machine than the one that acked are ignored (binding). */
async function writeAcks(ctx: AppContext, batch: Map<string, string>): Promise<void> {
  const pairs = [...batch].map(([id, machineId]) => sql`(${machineId}::text, ${id}::uuid)`)
  await ctx.db
    .update(agentCommands)
    // A command sent from memory may be acked straight from pending (its mark dropped).
    .set({
      status: 'acked',
      ackedAt: ctx.now(),
      deliveredAt: sql`coalesce(${agentCommands.deliveredAt}, ${ctx.now().toISOString()})`,
      attempts: sql`greatest(${agentCommands.attempts}, 1)`,
    })
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
  // An ack before the delivery mark is written makes the mark moot: one UPDATE, not two.
  const marks = ctx.peek('deliveryMarks')
  for (const id of ids) {
    if (!UUID.test(id)) continue
    buffer.pending.set(id, machineId)
    if (marks?.pending.get(id) === machineId) marks.pending.delete(id)
  }
  if (buffer.pending.size) buffer.schedule()
}

/** Drops every command not yet acked (machine deregistered). */
export async function dropUnackedCommands(tx: Tx, machineId: string): Promise<void> {
  await tx
    .delete(agentCommands)
    .where(and(eq(agentCommands.machineId, machineId), sql`${agentCommands.status} <> 'acked'`))
}
