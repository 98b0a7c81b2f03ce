// Runs the session commands: up to max_sessions CLI sessions, each in its project directory
// (confined to the fs roots), inside the machine's isolation (sandbox.ts) with an allowlisted
// environment plus its adapter's variables and a home of its own user's.
// Failures become session.error frames naming the cause; nothing here throws to the caller.
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { CommandOf } from '../protocol/index.ts'
import { adapterFor } from './adapters/index.ts'
import { CliSession, type SessionFrame } from './cli-session.ts'
import { projectPathProblem, spawnProblem } from './failure-messages.ts'
import { type FsApi, resolveConfined } from './fs-list.ts'
import type { IsolationSetup } from './isolation.ts'
import type { AgentLogger } from './log.ts'
import { checkProjectPath, sessionCommand, sessionFilesDir } from './session-sandbox.ts'
import { SessionStore } from './session-store.ts'
import type { SpawnFn } from './spawn.ts'

export const NO_ISOLATION: IsolationSetup = { level: 'none', mechanism: '' }

type StartFields = Omit<CommandOf<'session.start'>, 'id'>
/** A session.start as it is kept on disk: the command id belongs to one delivery, not to the session. */
function withoutId(cmd: StartFields & { id?: string }): StartFields {
  const { id: _id, ...rest } = cmd
  return rest
}

export interface ExecutorDeps {
  spawn: SpawnFn
  fs: FsApi
  log: AgentLogger
  emit: (frame: SessionFrame) => void
  maxSessions: number
  roots: readonly string[]
  /** The agent's directory: config, spool, state and sessions/; no CLI ever sees it. */
  agentDir: string
  machineEnv: Record<string, string | undefined>
  /** How CLIs are confined (isolation.ts); default none. */
  isolation?: IsolationSetup
  /** Keep running sessions on disk so a restarted agent takes them up again (off in unit tests that do not test it). */
  persist?: boolean
  /** The last output seq of a session still waiting in the outbox (its spool survives a restart). */
  lastSpooledSeq?: (sessionId: string) => number
  /**
   * Runs once a start holds its slot and its project path is confined, before the CLI starts
   * (the changes snapshot); not for a continued session.
   */
  beforeStart?: (sessionId: string, projectPath: string) => Promise<void>
}

type SessionCommand = CommandOf<
  | 'session.input'
  | 'session.stop'
  | 'session.pause'
  | 'session.resume'
  | 'session.abort'
  | 'session.permission'
>

export class Executor {
  readonly sessions = new Map<string, CliSession>()
  /** Sessions being set up: they hold a slot before their first await, so two starts cannot both pass the limit. */
  private readonly starting = new Set<string>()

  private readonly store: SessionStore | undefined

  constructor(private readonly deps: ExecutorDeps) {
    this.store = deps.persist ? new SessionStore(this.sessionsDir) : undefined
  }

  private get isolation(): IsolationSetup {
    return this.deps.isolation ?? NO_ISOLATION
  }

  private get sessionsDir(): string {
    return join(this.deps.agentDir, 'sessions')
  }

  get activeCount(): number {
    return [...this.sessions.values()].filter((s) => s.state !== 'exited').length + this.starting.size
  }

  async start(cmd: CommandOf<'session.start'>): Promise<void> {
    const { deps } = this
    const fail = (message: string, code: string) =>
      deps.emit({ type: 'session.error', session_id: cmd.session_id, message, code })
    const existing = this.sessions.get(cmd.session_id)
    if ((existing && existing.state !== 'exited') || this.starting.has(cmd.session_id)) return
    // A continued session's output goes on after all it produced here, even what the server had
    // not stored yet when it chose next_seq.
    if (cmd.next_seq !== undefined) {
      const spooled = deps.lastSpooledSeq?.(cmd.session_id) ?? -1
      cmd = { ...cmd, next_seq: Math.max(cmd.next_seq, (existing?.lastSeq ?? -1) + 1, spooled + 1) }
    }
    for (const [id, s] of this.sessions) if (s.state === 'exited') this.sessions.delete(id)
    if (this.activeCount >= deps.maxSessions) {
      return fail(
        `This machine already runs its maximum of ${deps.maxSessions} sessions; stop one of them and try again`,
        'max_sessions',
      )
    }
    this.starting.add(cmd.session_id)
    try {
      await this.setUp(cmd, fail)
    } finally {
      this.starting.delete(cmd.session_id)
    }
  }

  private async setUp(cmd: CommandOf<'session.start'>, fail: (message: string, code: string) => void) {
    const { deps } = this
    let projectPath: string
    try {
      projectPath = await resolveConfined(deps.fs, cmd.project_path, deps.roots)
      if (!(await deps.fs.stat(projectPath)).isDirectory())
        throw new Error(`Not a directory: ${cmd.project_path}`)
      checkProjectPath(projectPath, deps.agentDir)
    } catch (err) {
      return fail(projectPathProblem(cmd.project_path, err as Error, deps.roots), 'bad_project_path')
    }
    // A continued session (next_seq set) keeps the snapshot of its first start: its changes
    // panel goes on diffing against the project as it was when the session began.
    if (cmd.next_seq === undefined) await deps.beforeStart?.(cmd.session_id, projectPath)
    const session = this.createSession(cmd, projectPath)
    try {
      await session.start()
      this.store?.save({ start: withoutId(cmd), project_path: projectPath, next_seq: cmd.next_seq ?? 0 })
      deps.log.info('session started', { session_id: cmd.session_id, cli: session.adapterName })
    } catch (err) {
      this.sessions.delete(cmd.session_id)
      const problem = spawnProblem(adapterFor(cmd.cli_tool), err as Error)
      fail(problem.message, problem.code)
    }
  }

  private createSession(
    cmd: Omit<CommandOf<'session.start'>, 'id'>,
    projectPath: string,
    restored?: { nextSeq: number; cliSessionId?: string },
  ): CliSession {
    const { deps } = this
    const adapter = adapterFor(cmd.cli_tool)
    const setup = {
      model: cmd.model,
      proxyBaseUrl: cmd.proxy_base_url,
      proxyToken: cmd.proxy_token,
      projectPath,
      sessionDir: sessionFilesDir(this.isolation, deps.agentDir, cmd.session_id),
      ...(cmd.permission_mode ? { permissionMode: cmd.permission_mode } : {}),
      ...(cmd.resume_cli_session_id ? { resumeCliSessionId: cmd.resume_cli_session_id } : {}),
    }
    deps.log.addSecret(cmd.proxy_token)
    const store = this.store
    const session = new CliSession(cmd.session_id, {
      spawn: deps.spawn,
      adapter,
      setup,
      command: (argv, current) =>
        sessionCommand({
          isolation: this.isolation,
          agentDir: deps.agentDir,
          machineEnv: deps.machineEnv,
          argv,
          adapterEnv: adapter.env(current),
          sessionEnv: cmd.env,
          projectPath: current.projectPath,
          sessionDir: current.sessionDir,
          owner: cmd.user_id !== undefined ? `u-${cmd.user_id}` : `s-${cmd.session_id}`,
          homeTarget: deps.machineEnv.HOME ?? homedir(),
          hidden: [...deps.roots, ...this.otherProjects(cmd.session_id)],
        }),
      emit: deps.emit,
      log: deps.log,
      onExit: () => {
        store?.remove(cmd.session_id)
        deps.log.info('session ended', { session_id: cmd.session_id })
      },
      ...(restored ? { restored } : {}),
      ...(cmd.next_seq !== undefined ? { firstSeq: cmd.next_seq } : {}),
      ...(store
        ? {
            onProgress: (p: { nextSeq: number; cliSessionId?: string }) =>
              store.save({
                start: { ...withoutId(cmd), proxy_token: setup.proxyToken },
                project_path: projectPath,
                next_seq: p.nextSeq,
                ...(p.cliSessionId ? { cli_session_id: p.cliSessionId } : {}),
              }),
          }
        : {}),
    })
    this.sessions.set(cmd.session_id, session)
    return session
  }

  /** Project directories of the other live sessions: a sandbox (a CLI's, a terminal's) hides them. */
  otherProjects(sessionId: string): string[] {
    const own = this.sessions.get(sessionId)?.projectPath
    return [...this.sessions.values()]
      .filter((s) => s.id !== sessionId && s.state !== 'exited' && s.projectPath !== own)
      .map((s) => s.projectPath)
  }

  /**
   * Takes up the sessions a previous run of the agent left (it was killed or crashed): their
   * CLIs died with it, so each comes back with its next message, resuming its conversation.
   */
  restore(): void {
    for (const stored of this.store?.loadAll((id, error) =>
      this.deps.log.warn('unreadable session record', { session_id: id, error: error.message }),
    ) ?? []) {
      if (this.sessions.has(stored.start.session_id)) continue
      const spooled = this.deps.lastSpooledSeq?.(stored.start.session_id) ?? -1
      const session = this.createSession(stored.start, stored.project_path, {
        nextSeq: Math.max(stored.next_seq, spooled + 1),
        ...(stored.cli_session_id ? { cliSessionId: stored.cli_session_id } : {}),
      })
      session.notice('The agent restarted; the CLI starts again with the next message')
      this.deps.log.info('session taken up after restart', { session_id: stored.start.session_id })
    }
  }

  async handle(cmd: SessionCommand): Promise<void> {
    const session = this.sessions.get(cmd.session_id)
    const fail = (message: string, code: string) =>
      this.deps.emit({ type: 'session.error', session_id: cmd.session_id, message, code })
    if (!session || session.state === 'exited')
      return fail('The session is not running on this machine', 'not_running')
    // Problems that leave the session usable are told to the user in its output, not as
    // session.error, which ends the session on the server.
    try {
      switch (cmd.type) {
        case 'session.input':
          return await session.input(cmd.content)
        case 'session.permission':
          return session.permission(cmd.request_id, cmd.allow)
        case 'session.abort':
          return session.abort()
        case 'session.pause':
          return session.pause()
        case 'session.resume':
          return session.resume()
        case 'session.stop':
          return await session.stop()
      }
    } catch (err) {
      session.notice(`${cmd.type} failed: ${(err as Error).message}`)
    }
  }

  refreshToken(cmd: CommandOf<'token.refresh'>): void {
    this.deps.log.addSecret(cmd.proxy_token)
    this.sessions.get(cmd.session_id)?.refreshToken(cmd.proxy_token)
  }

  /** Stops every session (agent shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].filter((s) => s.state !== 'exited').map((s) => s.stop()))
  }
}
