// The first-run checklist: what a new system admin does before anyone can work (a provider
// key, a machine, a user, that user on the machine, a session), each step read from the real
// state of the server, never from what the UI remembers having done.
import { and, count, eq, isNull, ne } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { apiKeyStore, machineAssignments, remoteMachines, sessions, users } from '../db/schema/index.ts'

/** The steps in the order they are done; the UI names each in zh and en. */
export const SETUP_STEPS = ['api_key', 'machine', 'user', 'assignment', 'session'] as const
export type SetupStep = (typeof SETUP_STEPS)[number]

const exists = async (rows: Promise<Array<{ n: number }>>) => ((await rows)[0]?.n ?? 0) > 0

export async function setupState(ctx: AppContext) {
  const db = ctx.db
  const liveMachine = isNull(remoteMachines.deletedAt)
  const [apiKey, machine, user, assignment, session] = await Promise.all([
    exists(db.select({ n: count() }).from(apiKeyStore).where(eq(apiKeyStore.status, 'enabled'))),
    exists(db.select({ n: count() }).from(remoteMachines).where(liveMachine)),
    exists(
      db
        .select({ n: count() })
        .from(users)
        .where(and(ne(users.role, 'system_admin'), eq(users.status, 'active'))),
    ),
    exists(
      db
        .select({ n: count() })
        .from(machineAssignments)
        .innerJoin(remoteMachines, eq(remoteMachines.machineId, machineAssignments.machineId))
        .where(liveMachine),
    ),
    exists(db.select({ n: count() }).from(sessions)),
  ])
  const done: Record<SetupStep, boolean> = { api_key: apiKey, machine, user, assignment, session }
  const steps = SETUP_STEPS.map((id) => ({ id, done: done[id] }))
  return { steps, complete: steps.every((s) => s.done) }
}
