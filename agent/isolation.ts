// Which isolation this machine gives its sessions' CLIs, found once at start-up by trying it:
// bubblewrap on Linux (a throwaway sandbox must start), sandbox-exec on macOS, else a separate
// unprivileged user (`run_as`) when the agent runs as root, else none. The result is reported in
// the machine's capabilities and decides how sandbox.ts wraps every CLI.
import { existsSync } from 'node:fs'
import type { Isolation } from '../protocol/index.ts'

/** 'auto' uses the strongest isolation that works here; 'none' turns it off (reported as such). */
export const ISOLATION_MODES = ['auto', 'none'] as const
export type IsolationMode = (typeof ISOLATION_MODES)[number]

export interface RunAsUser {
  name: string
  uid: number
  gid: number
  /** Where this user's per-session-owner homes go (under its own home; the agent's dir is root's). */
  homesDir: string
}

/** The isolation in force plus what it takes to apply it. */
export interface IsolationSetup extends Isolation {
  bwrapPath?: string
  sandboxExecPath?: string
  /** CLIs run as this user (no sandbox; the agent runs as root and `run_as` names a user). */
  runAs?: RunAsUser
}

export interface DetectOptions {
  mode: IsolationMode
  /** Unprivileged user for CLIs when the agent runs as root ('' = not set). */
  runAs: string
  platform?: NodeJS.Platform
  uid?: number
  which?: (name: string) => string | null
}

const SANDBOX_EXEC = '/usr/bin/sandbox-exec'
/** A sandbox that exercises what every session needs: its own PID namespace and /proc. */
const BWRAP_PROBE = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-pid', '--', 'true']

function run(argv: string[]): { ok: boolean; output: string } {
  try {
    const r = Bun.spawnSync(argv, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
    return { ok: r.exitCode === 0, output: `${r.stderr.toString()}${r.stdout.toString()}`.trim() }
  } catch (err) {
    return { ok: false, output: (err as Error).message }
  }
}

/** The passwd entry of `name` (getent: local files, LDAP, whatever NSS is configured with). */
function lookUpUser(name: string): RunAsUser | string {
  const entry = run(['getent', 'passwd', name])
  const [, , uid, gid, , home] = entry.output.split(':')
  if (!entry.ok || uid === undefined || gid === undefined) return `run_as user '${name}' does not exist`
  if (Number(uid) === 0) return `run_as user '${name}' is root`
  const homesDir =
    home && home !== '/nonexistent' ? `${home}/.open-ace-homes` : `/var/lib/open-ace-homes/${name}`
  return { name, uid: Number(uid), gid: Number(gid), homesDir }
}

export function detectIsolation(options: DetectOptions): IsolationSetup {
  const platform = options.platform ?? process.platform
  const uid = options.uid ?? process.getuid?.() ?? -1
  const which = options.which ?? ((name: string) => Bun.which(name))
  if (options.mode === 'none') {
    return { level: 'none', mechanism: '', detail: 'isolation is turned off in the agent configuration' }
  }
  const why: string[] = []
  let runAs: RunAsUser | undefined
  if (options.runAs) {
    const found =
      platform !== 'linux'
        ? 'run_as is supported on Linux only'
        : uid === 0
          ? lookUpUser(options.runAs)
          : 'run_as needs the agent to run as root'
    if (typeof found === 'string') why.push(found)
    else runAs = found
  }
  if (platform === 'linux') {
    const bwrapPath = which('bwrap')
    if (!bwrapPath) why.push('bubblewrap (bwrap) is not installed')
    else {
      const probe = run([bwrapPath, ...BWRAP_PROBE])
      if (probe.ok) {
        return { level: 'sandbox', mechanism: 'bubblewrap', bwrapPath }
      }
      why.push(`bubblewrap cannot start a sandbox here: ${probe.output || 'it failed'}`)
    }
  } else if (platform === 'darwin') {
    if (existsSync(SANDBOX_EXEC)) {
      const probe = run([SANDBOX_EXEC, '-p', '(version 1)(allow default)', '/usr/bin/true'])
      if (probe.ok) {
        return { level: 'sandbox', mechanism: 'sandbox-exec', sandboxExecPath: SANDBOX_EXEC }
      }
      why.push(`sandbox-exec failed: ${probe.output || 'it failed'}`)
    } else why.push('sandbox-exec is not available')
  } else {
    why.push(`${platform} has no sandbox for CLIs; run the agent as root with run_as set`)
  }
  if (runAs) return { level: 'separate-user', mechanism: 'run_as', runAs, detail: why.join('; ') }
  if (uid === 0 && !options.runAs) why.push('the agent runs as root and run_as is not set')
  return { level: 'none', mechanism: '', detail: why.join('; ') }
}

/** What the machine reports: the level and why, without paths or uids. */
export function reportedIsolation(setup: IsolationSetup): Isolation {
  return {
    level: setup.level,
    mechanism: setup.mechanism,
    ...(setup.detail ? { detail: setup.detail } : {}),
  }
}
