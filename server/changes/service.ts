// The changes panel's server side: each call becomes one changes.request for the session's
// agent (through the durable command queue, answered on whichever instance) and the answer is
// mapped to the API's error shape. Reading needs the session's view right; changing the tree
// (revert, stage, commit) is for its owner only, and audited.
import { randomUUID } from 'node:crypto'
import type { Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { ChangeOp } from '../../protocol/index.ts'
import { queueCommand } from '../agents/commands.ts'
import { awaitCommandResult } from '../agents/results.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { sessionAccess } from '../sessions/access.ts'
import { CHANGES_ANSWERS } from './model.ts'

/** How long a changes request waits for the agent before answering 504. */
export const CHANGES_TIMEOUT_MS = 20_000
const WRITES: ReadonlySet<ChangeOp> = new Set(['revert_file', 'revert_hunk', 'stage', 'commit'])
const ERROR_STATUS: Record<string, number> = { conflict: 409, not_found: 404, invalid: 400 }

interface ChangesAnswer {
  result?: Record<string, unknown>
  error?: string
  code?: string
}

export async function requestChanges<Op extends ChangeOp>(
  ctx: AppContext,
  actor: Actor,
  user: UserRow,
  sessionId: string,
  op: Op,
  args: { path?: string; hunk_id?: string; paths?: string[]; message?: string } = {},
): Promise<Static<(typeof CHANGES_ANSWERS)[Op]>> {
  const { session, machine } = await sessionAccess(ctx, user, sessionId, WRITES.has(op) ? 'steer' : 'view')
  if (!machine || !session.remoteMachineId) throw new HttpError(409, 'The session has no machine', 'conflict')
  if (machine.status !== 'online') throw new HttpError(409, 'The machine is offline', 'machine_offline')
  const command = await queueCommand(ctx, machine.machineId, {
    type: 'changes.request',
    request_id: randomUUID(),
    session_id: sessionId,
    project_path: session.projectPath,
    op,
    ...args,
  })
  const answer = (await awaitCommandResult(ctx, command.id, CHANGES_TIMEOUT_MS)) as ChangesAnswer | null
  if (WRITES.has(op)) {
    await ctx.audit(
      `session.changes.${op}`,
      actor,
      { type: 'session', id: sessionId },
      {
        path: args.path ?? null,
        hunk_id: args.hunk_id ?? null,
        paths: args.paths ?? null,
        error: answer?.error ?? null,
      },
      { tenantId: session.tenantId, outcome: answer && !answer.error ? 'success' : 'failure' },
    )
  }
  if (!answer) throw new HttpError(504, 'The agent did not answer in time', 'agent_timeout')
  if (answer.error) {
    const status = ERROR_STATUS[answer.code ?? ''] ?? 502
    throw new HttpError(status, answer.error, status === 502 ? 'agent_error' : (answer.code ?? 'agent_error'))
  }
  // An agent of another version may answer in another shape: said as its error, not passed on.
  const result = answer.result ?? {}
  if (!Value.Check(CHANGES_ANSWERS[op], result))
    throw new HttpError(502, `The agent's ${op} answer has a shape this server does not know`, 'agent_error')
  return result
}
