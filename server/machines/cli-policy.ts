// What a machine lets sessions run and how well it must isolate them: the CLI tools it detected
// (from its agent's latest report), the allowlist (an admin's list, else the detected known
// adapters), the isolation it reports and the level an admin requires. Session creation asks
// checkSessionPolicy before anything is stored.
import {
  type DetectedCli,
  ISOLATION_LEVELS,
  type Isolation,
  type IsolationLevel,
  meetsIsolation,
} from '../../protocol/index.ts'
import { badRequest, conflict } from '../errors.ts'
import type { MachineRow } from './access.ts'

/** An agent that did not report isolation (older than this server) counts as none. */
const UNREPORTED: Isolation = {
  level: 'none',
  mechanism: '',
  detail: 'the agent did not report isolation (it is older than this server)',
}

function asDetected(raw: unknown): DetectedCli[] {
  if (Array.isArray(raw)) {
    return raw.filter((c): c is DetectedCli => typeof c?.name === 'string' && typeof c?.path === 'string')
  }
  // Older agents reported {name: {installed, version, path}}.
  if (raw && typeof raw === 'object') {
    return Object.entries(raw as Record<string, { installed?: boolean; version?: string; path?: string }>)
      .filter(([, c]) => c?.installed && typeof c.path === 'string')
      .map(([name, c]) => ({ name, path: c.path!, ...(c.version ? { version: c.version } : {}) }))
  }
  return []
}

/** CLIs found on the machine: the heartbeat's list (refreshed), else the one sent in hello. */
export function detectedClis(m: Pick<MachineRow, 'systemInfo' | 'capabilities'>): DetectedCli[] {
  return 'cli_tools' in (m.systemInfo ?? {})
    ? asDetected(m.systemInfo.cli_tools)
    : asDetected(m.capabilities?.cli_tools)
}

export function machineIsolation(m: Pick<MachineRow, 'capabilities'>): Isolation {
  const raw = m.capabilities?.isolation as Partial<Isolation> | undefined
  if (!raw || !ISOLATION_LEVELS.includes(raw.level as IsolationLevel)) return UNREPORTED
  return {
    level: raw.level as IsolationLevel,
    mechanism: typeof raw.mechanism === 'string' ? raw.mechanism : '',
    ...(typeof raw.detail === 'string' ? { detail: raw.detail } : {}),
  }
}

/** The CLI tools sessions on this machine may use. */
export function allowedCliTools(m: Pick<MachineRow, 'allowedCliTools' | 'systemInfo' | 'capabilities'>) {
  return m.allowedCliTools ?? detectedClis(m).map((c) => c.name)
}

/**
 * Refuses a session the machine must not run: a CLI tool outside its allowlist (400 naming the
 * allowed ones), or isolation below what an admin requires (409 saying why).
 */
export function checkSessionPolicy(m: MachineRow, cliTool: string, canonical: (tool: string) => string) {
  const allowed = allowedCliTools(m)
  if (!allowed.some((a) => a === cliTool || a === canonical(cliTool))) {
    const which =
      allowed.length > 0
        ? `allowed: ${allowed.join(', ')}`
        : 'none is allowed: no known CLI tool was found on it and an admin has allowed none'
    throw badRequest(`CLI tool '${cliTool}' is not allowed on machine '${m.name}' (${which})`, 'cli_tool')
  }
  const isolation = machineIsolation(m)
  if (!meetsIsolation(isolation.level, m.requiredIsolation)) {
    const why = isolation.detail ? ` (${isolation.detail})` : ''
    throw conflict(
      `Machine '${m.name}' isolates sessions at level '${isolation.level}'${why}, below the required '${m.requiredIsolation}'; ` +
        'install bubblewrap there (or set run_as) and restart its agent, or lower the requirement in the machine settings',
    )
  }
}
