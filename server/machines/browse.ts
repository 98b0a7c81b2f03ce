// Browsing a machine's files through its agent: queue fs.list, wait for the agent's fs.result
// (on whichever instance it lands), answer the browser. Any user of the machine may browse.
import { randomUUID } from 'node:crypto'
import type { FsEntry } from '../../protocol/index.ts'
import { queueCommand } from '../agents/commands.ts'
import { awaitCommandResult } from '../agents/results.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { requireMachineUse } from './access.ts'

/** How long a browse request waits for the agent before answering 504. */
export const BROWSE_TIMEOUT_MS = 10_000
/** The agent user's home directory, when no path is given. */
export const HOME_PATH = '~'

interface FsResult {
  path: string
  entries?: FsEntry[]
  error?: string
}

export async function browseMachine(
  ctx: AppContext,
  actor: Actor,
  user: UserRow,
  machineId: string,
  path = HOME_PATH,
) {
  const { machine } = await requireMachineUse(ctx, user, machineId)
  if (machine.status !== 'online') throw new HttpError(409, 'The machine is offline', 'machine_offline')
  const command = await queueCommand(ctx, machineId, { type: 'fs.list', request_id: randomUUID(), path })
  const result = (await awaitCommandResult(ctx, command.id, BROWSE_TIMEOUT_MS)) as FsResult | null
  await ctx.audit(
    'machine.browse',
    actor,
    { type: 'machine', id: machineId },
    { path, answered: result !== null, error: result?.error ?? null },
    { tenantId: machine.tenantId, outcome: result && !result.error ? 'success' : 'failure' },
  )
  if (!result) throw new HttpError(504, 'The agent did not answer in time', 'agent_timeout')
  if (result.error)
    throw new HttpError(400, `Cannot list ${path}: ${result.error}`, 'invalid_request', 'path')
  return { path: result.path, entries: result.entries ?? [] }
}
