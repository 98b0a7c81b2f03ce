// The agent's recent log lines (GET /api/remote/machines/{id}/log): queue log.tail, wait for the
// agent's log.result (on whichever instance it lands), answer. The agent masks secrets before
// it keeps a line, so the tail carries no token. For the machine's admins.
import { randomUUID } from 'node:crypto'
import { LOG_TAIL_MAX_LINES } from '../../protocol/commands.ts'
import { queueCommand } from '../agents/commands.ts'
import { awaitCommandResult } from '../agents/results.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { requireMachineAdmin } from './access.ts'

/** How long the request waits for the agent before answering 504. */
export const LOG_TAIL_TIMEOUT_MS = 10_000
export const DEFAULT_LOG_TAIL_LINES = 200

export async function machineLogTail(
  ctx: AppContext,
  actor: Actor,
  user: UserRow,
  machineId: string,
  lines = DEFAULT_LOG_TAIL_LINES,
) {
  const { machine } = await requireMachineAdmin(ctx, user, machineId, { actor, event: 'machine.log' })
  if (machine.status !== 'online') throw new HttpError(409, 'The machine is offline', 'machine_offline')
  const wanted = Math.min(lines, LOG_TAIL_MAX_LINES)
  const command = await queueCommand(ctx, machineId, {
    type: 'log.tail',
    request_id: randomUUID(),
    lines: wanted,
  })
  const result = (await awaitCommandResult(ctx, command.id, LOG_TAIL_TIMEOUT_MS)) as {
    lines?: string[]
  } | null
  await ctx.audit(
    'machine.log',
    actor,
    { type: 'machine', id: machineId },
    { lines: wanted, answered: result !== null },
    { tenantId: machine.tenantId, outcome: result ? 'success' : 'failure' },
  )
  if (!result) throw new HttpError(504, 'The agent did not answer in time', 'agent_timeout')
  return { machine_id: machineId, lines: result.lines ?? [] }
}
