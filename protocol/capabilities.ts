// What a machine can do, as its agent reports it in `hello` (and the CLI list again with every
// heartbeat's system_info): how well sessions are isolated from each other and from the agent,
// and which CLI tools were found. Server, UI and agent read the same shapes and ordering.
import { type Static, Type } from '@sinclair/typebox'
import { oneOf } from './common.ts'

/**
 * sandbox: each session's CLI runs in an OS sandbox (bubblewrap on Linux, sandbox-exec on
 * macOS) that cannot see the agent's files, other sessions or the agent's process.
 * separate-user: CLIs run as another, unprivileged OS user (the agent runs as root); they cannot
 * read the agent's files but share that user with each other.
 * none: CLIs run as the agent's own user and can read everything it can.
 */
export const ISOLATION_LEVELS = ['sandbox', 'separate-user', 'none'] as const
export type IsolationLevel = (typeof ISOLATION_LEVELS)[number]
export const IsolationLevelSchema = oneOf(ISOLATION_LEVELS)

/** Strength of a level: higher isolates more. */
const STRENGTH: Record<IsolationLevel, number> = { none: 0, 'separate-user': 1, sandbox: 2 }

/** Whether a machine isolating at `have` satisfies a requirement of `required`. */
export function meetsIsolation(have: IsolationLevel, required: IsolationLevel): boolean {
  return STRENGTH[have] >= STRENGTH[required]
}

export const Isolation = Type.Object({
  level: IsolationLevelSchema,
  /** 'bubblewrap', 'sandbox-exec', 'run_as', or '' for none. */
  mechanism: Type.String(),
  /** Why this level (e.g. why bubblewrap could not be used); for the admin UI and logs. */
  detail: Type.Optional(Type.String()),
})
export type Isolation = Static<typeof Isolation>

/** One CLI tool found on the machine: an adapter name, its version and where its executable is. */
export const DetectedCli = Type.Object({
  name: Type.String({ minLength: 1 }),
  version: Type.Optional(Type.String()),
  path: Type.String({ minLength: 1 }),
})
export type DetectedCli = Static<typeof DetectedCli>

export const MachineCapabilities = Type.Object(
  {
    cpu_cores: Type.Optional(Type.Number()),
    memory_gb: Type.Optional(Type.Number()),
    arch: Type.Optional(Type.String()),
    isolation: Isolation,
    cli_tools: Type.Array(DetectedCli),
    max_sessions: Type.Integer({ minimum: 1 }),
    pause: Type.Boolean(),
    /** The agent can run a web terminal (a PTY). */
    terminal: Type.Optional(Type.Boolean()),
    /** The folders sessions may use; the server refuses a project path outside them up front. */
    fs_roots: Type.Optional(Type.Array(Type.String())),
    /**
     * The build target of this binary (`linux-x64`, ...) when it can replace itself on an
     * agent.update; absent for a run from source or where self-update is not supported.
     */
    update_target: Type.Optional(Type.String()),
    /** The agent continues a stopped session (session.start with next_seq and the CLI's resume). */
    session_continue: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
)
export type MachineCapabilities = Static<typeof MachineCapabilities>
