// One session's CLI command inside the machine's isolation: its environment from the allowlist,
// its owner's home (kept per user under the agent's directory, or under the run_as user's home),
// its per-session directory, and what it must not see (the agent's directory, the fs roots
// outside its project, the other sessions' projects).
import { chownSync, mkdirSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, sep } from 'node:path'
import { buildCliEnv } from './cli-env.ts'
import type { IsolationSetup } from './isolation.ts'
import { type SandboxedCommand, sandboxCommand } from './sandbox.ts'

/** Directories of the agent's own; a project there would hand a CLI the agent's state. */
const AGENT_OWNED = ['sessions', 'homes', 'logs']
export const HOMES_DIR = 'homes'

/** Refuses a project that is the agent's directory or inside the part of it the agent owns. */
export function checkProjectPath(projectPath: string, agentDir: string): void {
  const rel = relative(agentDir, projectPath)
  const first = rel.split(sep)[0]
  if (rel === '' || (first !== undefined && AGENT_OWNED.includes(first) && !rel.startsWith('..'))) {
    throw new Error(`${projectPath} is the agent's own directory; choose a project directory outside it`)
  }
}

export interface SessionCommandInput {
  isolation: IsolationSetup
  agentDir: string
  machineEnv: Record<string, string | undefined>
  argv: string[]
  adapterEnv: Record<string, string>
  sessionEnv?: Record<string, string> | undefined
  projectPath: string
  /** The adapter's per-session directory (writable by the CLI). */
  sessionDir: string
  /** Whose home the CLI gets: `u-<user id>`, else `s-<session id>`. */
  owner: string
  /** HOME as the CLI sees it. */
  homeTarget: string
  hidden: string[]
}

/**
 * Creates `path` (0700) for the user the CLI runs as. Under run_as, `path` must lie in that
 * user's homes dir, and only the levels from the homes dir down are given to the user (its
 * parents stay as they are, e.g. root's 0755).
 */
function ownedDir(path: string, isolation: IsolationSetup): void {
  const runAs = isolation.runAs
  if (!runAs) {
    mkdirSync(path, { recursive: true, mode: 0o700 })
    return
  }
  const rel = relative(runAs.homesDir, path)
  if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${path} is outside ${runAs.homesDir}`)
  mkdirSync(dirname(runAs.homesDir), { recursive: true, mode: 0o755 })
  let dir = runAs.homesDir
  for (const next of ['', ...rel.split(sep).filter(Boolean)]) {
    dir = join(dir, next)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    chownSync(dir, runAs.uid, runAs.gid)
  }
}

/** The per-owner home on the host (created, 0700, owned by the user the CLI runs as). */
export function ownerHome(isolation: IsolationSetup, agentDir: string, owner: string): string {
  const home = join(isolation.runAs?.homesDir ?? join(agentDir, HOMES_DIR), owner)
  ownedDir(home, isolation)
  return home
}

/** The adapter's per-session directory: where the CLI (as whichever user it runs) can reach it. */
export function sessionFilesDir(isolation: IsolationSetup, agentDir: string, sessionId: string): string {
  return isolation.runAs
    ? join(isolation.runAs.homesDir, '.sessions', sessionId)
    : join(agentDir, 'sessions', sessionId, 'cli')
}

export function sessionCommand(input: SessionCommandInput): SandboxedCommand {
  const { isolation } = input
  const home = ownerHome(isolation, input.agentDir, input.owner)
  ownedDir(input.sessionDir, isolation)
  const env = buildCliEnv(input.machineEnv, input.adapterEnv, {
    home: input.homeTarget,
    ...(input.sessionEnv ? { sessionEnv: input.sessionEnv } : {}),
  })
  const [executable = '', ...args] = input.argv
  // Inside a wrapper a missing CLI would only show as the wrapper's exit status; found here,
  // it fails like a direct spawn (and the executor names the install command).
  const found = isolation.level === 'none' ? executable : Bun.which(executable, { PATH: env.PATH ?? '' })
  if (!found) throw new Error(`${executable} was not found in PATH`)
  return sandboxCommand(isolation, {
    argv: [found, ...args],
    cwd: input.projectPath,
    env,
    home: { source: home, target: input.homeTarget },
    writable: [input.sessionDir],
    hidden: [input.agentDir, ...input.hidden],
  })
}
