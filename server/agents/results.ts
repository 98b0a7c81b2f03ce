// Answers to commands that have one (fs.list -> fs.result, changes.request -> changes.result): stored on the command's row, then
// announced by NOTIFY, so the request waiting on any instance picks the answer up at once.
import { and, eq, sql } from 'drizzle-orm'
import type { AgentFrameOf } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { agentCommands } from '../db/schema/index.ts'
import type { AgentIdentity } from './guard.ts'

export const COMMAND_RESULTS_CHANNEL = 'oa_command_results'

/** Requests waiting for an answer on this instance, behind one LISTEN (ctx.state.commandResults). */
export interface CommandResultWaiters {
  waiters: Map<string, () => void>
  ready: Promise<void>
}

export function createCommandResultWaiters(ctx: AppContext): CommandResultWaiters {
  const waiters = new Map<string, () => void>()
  const ready = ctx.database
    .listen(COMMAND_RESULTS_CHANNEL, (commandId) => waiters.get(commandId)?.())
    .then((unlisten) => ctx.onClose(unlisten))
  return { waiters, ready }
}

/** Commands that have an answer, and the frame type that answers each. */
export const ANSWERED_COMMANDS = {
  'fs.result': 'fs.list',
  'log.result': 'log.tail',
  'changes.result': 'changes.request',
} as const

/** Stores an answer on the command it answers; false when this machine asked no such thing. */
export async function storeCommandResult(
  ctx: AppContext,
  agent: AgentIdentity,
  frame: AgentFrameOf<'fs.result'> | AgentFrameOf<'log.result'> | AgentFrameOf<'changes.result'>,
) {
  const { type, id: _id, ...result } = frame
  const [row] = await ctx.db
    .update(agentCommands)
    .set({ result, status: 'acked', ackedAt: ctx.now() })
    .where(
      and(
        eq(agentCommands.machineId, agent.machineId),
        eq(agentCommands.kind, ANSWERED_COMMANDS[type]),
        sql`${agentCommands.payload}->>'request_id' = ${frame.request_id}`,
      ),
    )
    .returning({ id: agentCommands.id })
  if (!row) return false
  await ctx.database.notify(COMMAND_RESULTS_CHANNEL, row.id)
  return true
}

async function readResult(ctx: AppContext, commandId: string) {
  const [row] = await ctx.db
    .select({ result: agentCommands.result })
    .from(agentCommands)
    .where(eq(agentCommands.id, commandId))
  return row?.result ?? null
}

/** The agent's answer to a command, or null after timeoutMs (the unanswered command is dropped). */
export async function awaitCommandResult(ctx: AppContext, commandId: string, timeoutMs: number) {
  const reg = ctx.state.commandResults
  await reg.ready
  const arrived = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    reg.waiters.set(commandId, () => {
      clearTimeout(timer)
      resolve()
    })
  })
  try {
    // The answer may have landed before we listened.
    const early = await readResult(ctx, commandId)
    if (early) return early
    await arrived
    const result = await readResult(ctx, commandId)
    if (!result) await ctx.db.delete(agentCommands).where(eq(agentCommands.id, commandId))
    return result
  } finally {
    reg.waiters.delete(commandId)
  }
}
