// What the server can know before it asks the agent to start a session, refused at creation with
// the reason instead of a 201 that turns to `error`: the machine is offline (409), the CLI is not
// installed there or the project path is outside the folders the agent may use (422), the
// machine already runs as many sessions as it allows, by its agent or its admin (429 with
// Retry-After).
import { and, count, eq, inArray } from 'drizzle-orm'
import { KNOWN_ADAPTERS } from '../../agent/adapters/index.ts'
import { LIVE_SESSION_STATUSES, remoteMachines, sessions } from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { HttpError } from '../errors.ts'
import { detectedClis } from '../machines/cli-policy.ts'
import { sessionLimit } from '../machines/session-limit.ts'
import type { MachineRow } from './access.ts'

/** What a client is told to wait before trying again when a machine is full. */
export const FULL_MACHINE_RETRY_AFTER_S = 30

function capability<T>(machine: MachineRow, name: string): T | undefined {
  return (machine.capabilities as Record<string, unknown>)[name] as T | undefined
}

export function refuseOffline(machine: MachineRow): void {
  if (machine.status === 'online') return
  const seen = machine.lastHeartbeat ? `; last seen ${machine.lastHeartbeat.toISOString()}` : ''
  throw new HttpError(
    409,
    `Machine '${machine.name}' is offline${seen}. Start its agent (openace-agent run) and try again.`,
    'machine_offline',
    'machine_id',
  )
}

/**
 * A CLI the agent knows (it has an adapter) but did not find on the machine is not installed:
 * 422 saying so. Other executables cannot be checked up front; the agent reports them.
 */
export function refuseMissingCli(machine: MachineRow, adapter: { name: string; executable: string }): void {
  if (!KNOWN_ADAPTERS.some((a) => a.name === adapter.name)) return
  if (!('cli_tools' in (machine.systemInfo ?? {})) && !('cli_tools' in (machine.capabilities ?? {}))) return
  if (detectedClis(machine).some((c) => c.name === adapter.name)) return
  throw new HttpError(
    422,
    `${adapter.name} is not installed on '${machine.name}' (no '${adapter.executable}' found there). Install it on that machine, or pick a CLI it has.`,
    'cli_not_installed',
    'cli_tool',
  )
}

/** A lexical check against the roots the agent reported; the agent still resolves symlinks itself. */
export function refuseOutsideRoots(machine: MachineRow, projectPath: string): void {
  const roots = capability<string[]>(machine, 'fs_roots')
  if (!Array.isArray(roots) || roots.length === 0) return
  const windows = /^[a-z]:[\\/]/i.test(projectPath)
  const norm = (p: string) => {
    const s = p.replaceAll('\\', '/').replace(/\/+$/, '') || '/'
    return windows ? s.toLowerCase() : s
  }
  const path = norm(projectPath)
  if (path.startsWith('~')) return
  if (!path.startsWith('/') && !windows) {
    throw new HttpError(
      422,
      `The project path must be absolute: ${projectPath}`,
      'bad_project_path',
      'project_path',
    )
  }
  const inside = roots.some((r) => {
    const root = norm(r)
    return path === root || path.startsWith(root === '/' ? '/' : `${root}/`)
  })
  if (inside) return
  throw new HttpError(
    422,
    `${projectPath} is outside the folders sessions may use on '${machine.name}' (${roots.join(', ')}).`,
    'path_outside_roots',
    'project_path',
  )
}

/**
 * 429 when the machine already runs its maximum number of sessions (its agent's or its admin's).
 * Takes the machine's row lock for the rest of the caller's transaction, so two starts at once
 * (creation or continue) cannot both take the last slot.
 */
export async function refuseFullMachine(db: Tx, machine: MachineRow): Promise<void> {
  await db
    .select({ id: remoteMachines.machineId })
    .from(remoteMachines)
    .where(eq(remoteMachines.machineId, machine.machineId))
    .for('update')
  const max = sessionLimit(machine)
  if (max === null) return
  const [row] = await db
    .select({ n: count() })
    .from(sessions)
    .where(
      and(
        eq(sessions.remoteMachineId, machine.machineId),
        inArray(sessions.status, [...LIVE_SESSION_STATUSES]),
      ),
    )
  const running = Number(row?.n ?? 0)
  if (running < max) return
  throw new HttpError(
    429,
    `'${machine.name}' already runs its maximum of ${max} session${max === 1 ? '' : 's'}. Stop one of them, or try again later.`,
    'machine_full',
    'machine_id',
    { 'retry-after': String(FULL_MACHINE_RETRY_AFTER_S) },
  )
}
