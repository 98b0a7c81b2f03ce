// Terminal records: open (or find the caller's open one, so a reload reattaches), look one up
// for its owner, count bytes, close with a reason. Opening, closing and the byte counts are
// audited; what was typed or printed never is.
import { and, eq, isNull, sql } from 'drizzle-orm'
import { terminalSocketPath } from '../../protocol/index.ts'
import { publishAccessRevoked } from '../access/events.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { type TerminalAccess, terminals } from '../db/schema/index.ts'
import { HttpError, notFound } from '../errors.ts'
import { requireMachineAdmin } from '../machines/access.ts'
import { changeMachineRow } from '../machines/settings.ts'
import { sessionAccess } from '../sessions/access.ts'
import { requireTerminalAccess } from './access.ts'

export type TerminalRow = typeof terminals.$inferSelect
/** Where a machine's own terminal starts when the agent reported no work dir. */
const HOME = '~'

export function terminalView(t: TerminalRow) {
  return {
    terminal_id: t.id,
    machine_id: t.machineId,
    session_id: t.sessionId,
    cwd: t.cwd,
    status: t.status,
    bytes_in: t.bytesIn,
    bytes_out: t.bytesOut,
    created_at: t.createdAt.toISOString(),
    closed_at: t.closedAt ? t.closedAt.toISOString() : null,
    close_reason: t.closeReason,
    ws_path: terminalSocketPath(t.id),
  }
}

export async function openTerminal(
  ctx: AppContext,
  actor: Actor,
  user: UserRow,
  input: { machineId: string; sessionId?: string },
) {
  const { machine } = await requireTerminalAccess(ctx, user, input.machineId)
  let cwd = typeof machine.systemInfo.work_dir === 'string' ? machine.systemInfo.work_dir : HOME
  if (input.sessionId) {
    // A terminal beside a session shares its sandbox: only the session's owner may open it.
    const { session } = await sessionAccess(ctx, user, input.sessionId, 'steer')
    if (session.remoteMachineId !== input.machineId)
      throw new HttpError(400, 'The session does not run on this machine', 'invalid_request', 'session_id')
    cwd = session.projectPath
  }
  const [existing] = await ctx.db
    .select()
    .from(terminals)
    .where(
      and(
        eq(terminals.userId, user.id),
        eq(terminals.machineId, input.machineId),
        eq(terminals.status, 'open'),
        input.sessionId ? eq(terminals.sessionId, input.sessionId) : isNull(terminals.sessionId),
      ),
    )
    .limit(1)
  if (existing) return { terminal: terminalView(existing), created: false }
  const [row] = await ctx.db
    .insert(terminals)
    .values({
      tenantId: machine.tenantId,
      machineId: input.machineId,
      userId: user.id,
      sessionId: input.sessionId ?? null,
      cwd,
    })
    .returning()
  const created = row as TerminalRow
  await ctx.audit(
    'terminal.open',
    actor,
    { type: 'terminal', id: created.id },
    { machine_id: input.machineId, session_id: input.sessionId ?? null, cwd },
    { tenantId: machine.tenantId },
  )
  return { terminal: terminalView(created), created: true }
}

/** The caller's own terminal (anyone else's is "not found"), with machine access re-checked. */
export async function ownTerminal(ctx: AppContext, user: UserRow, terminalId: string) {
  const [row] = await ctx.db.select().from(terminals).where(eq(terminals.id, terminalId)).limit(1)
  if (!row || row.userId !== user.id) throw notFound('Terminal')
  await requireTerminalAccess(ctx, user, row.machineId)
  return row
}

export async function addTerminalBytes(
  ctx: AppContext,
  terminalId: string,
  bytesIn: number,
  bytesOut: number,
) {
  if (bytesIn === 0 && bytesOut === 0) return
  await ctx.db
    .update(terminals)
    .set({
      bytesIn: sql`${terminals.bytesIn} + ${bytesIn}`,
      bytesOut: sql`${terminals.bytesOut} + ${bytesOut}`,
    })
    .where(eq(terminals.id, terminalId))
}

/** Marks an open terminal closed and audits it with its byte counts; false if it was not open. */
export async function closeTerminal(
  ctx: AppContext,
  actor: Actor,
  terminalId: string,
  reason: string,
  onMachine?: string,
) {
  const [row] = await ctx.db
    .update(terminals)
    .set({ status: 'closed', closedAt: ctx.now(), closeReason: reason })
    .where(
      and(
        eq(terminals.id, terminalId),
        eq(terminals.status, 'open'),
        ...(onMachine ? [eq(terminals.machineId, onMachine)] : []),
      ),
    )
    .returning()
  if (!row) return false
  await ctx.audit(
    'terminal.close',
    actor,
    { type: 'terminal', id: terminalId },
    { machine_id: row.machineId, reason, bytes_in: row.bytesIn, bytes_out: row.bytesOut },
    { tenantId: row.tenantId },
  )
  return true
}

export async function setTerminalAccess(
  ctx: AppContext,
  actor: Actor,
  user: UserRow,
  machineId: string,
  setting: TerminalAccess,
) {
  const { machine } = await requireMachineAdmin(ctx, user, machineId, {
    actor,
    event: 'machine.terminal_access',
  })
  await changeMachineRow(ctx, actor, machine, {
    set: { terminalAccess: setting },
    kind: 'settings',
    event: 'machine.terminal_access',
    details: { terminal_access: setting, previous: machine.terminalAccess },
  })
  // Narrowed to admins: open terminals of plain users on the machine re-check and close.
  if (setting === 'admins' && machine.terminalAccess !== 'admins')
    await publishAccessRevoked(ctx, 'role_changed', { machine_id: machineId })
  return { machine_id: machineId, terminal_access: setting }
}
