// One session's CLI: starts it (once, or once per message for per-message CLIs), feeds it user
// messages and permission answers over the stdin pipe we own, turns its output into numbered
// records with structured events, and stops, pauses, resumes or interrupts it on command.
import type { AgentFrame, AgentSessionState, OutputStream } from '../protocol/index.ts'
import type { AdapterSession, CliAdapter, OutputParser, ParsedLine } from './adapters/types.ts'
import type { AgentLogger } from './log.ts'
import type { FrameBody } from './outbox.ts'
import { OutputBatcher } from './output-batcher.ts'
import type { SandboxedCommand } from './sandbox.ts'
import { type ChildHandle, IS_WINDOWS, type SpawnFn } from './spawn.ts'

/** How long a CLI gets to exit after SIGTERM before the group is killed. */
export const STOP_GRACE_MS = 5000

/** An agent frame about one session, before the outbox gives it an id. */
export type SessionFrame = FrameBody<Extract<AgentFrame, { session_id: string }>>

export interface CliSessionDeps {
  spawn: SpawnFn
  adapter: CliAdapter
  setup: AdapterSession
  /**
   * What to spawn for `argv` with the current setup: argv, env and cwd inside the machine's
   * isolation (rebuilt per process, so a refreshed token applies).
   */
  command: (argv: string[], setup: AdapterSession) => SandboxedCommand
  emit: (frame: SessionFrame) => void
  log: AgentLogger
  onExit: () => void
  /** Where a session taken up after an agent restart left off. */
  restored?: { nextSeq: number; cliSessionId?: string }
  /** The first output seq of a continued session (after the output it already has); default 0. */
  firstSeq?: number
  /** Progress worth keeping across an agent restart (next seq, the CLI's own session id). */
  onProgress?: (progress: { nextSeq: number; cliSessionId?: string }) => void
}

export class UnsupportedOperation extends Error {
  override name = 'UnsupportedOperation'
}

export class CliSession {
  state: AgentSessionState = 'starting'
  cliSessionId: string | undefined
  private child: ChildHandle | undefined
  private readonly output: OutputBatcher
  private readonly queue: string[] = []
  private readonly permissionInputs = new Map<string, unknown>()
  private stopping = false
  private markFinished!: () => void
  /** Resolves once session.exited has been emitted. */
  private readonly finished = new Promise<void>((resolve) => {
    this.markFinished = resolve
  })
  /** A per-message CLI process is starting or running; the next message waits for it. */
  private busy = false

  constructor(
    readonly id: string,
    private readonly deps: CliSessionDeps,
  ) {
    this.output = new OutputBatcher(
      id,
      (frame) => deps.emit(frame),
      deps.restored?.nextSeq ?? deps.firstSeq ?? 0,
      (nextSeq) =>
        deps.onProgress?.({ nextSeq, ...(this.cliSessionId ? { cliSessionId: this.cliSessionId } : {}) }),
    )
    // A continued session resumes this conversation until the CLI names its own.
    this.cliSessionId = deps.setup.resumeCliSessionId
    if (deps.restored) {
      this.cliSessionId = deps.restored.cliSessionId ?? this.cliSessionId
      this.state = 'running'
    }
  }

  get projectPath(): string {
    return this.deps.setup.projectPath
  }

  get adapterName(): string {
    return this.deps.adapter.name
  }

  get lastSeq(): number {
    return this.output.lastSeq
  }

  /** A new proxy token: used by every process started from now on (a running CLI keeps its own). */
  refreshToken(token: string): void {
    this.deps.setup.proxyToken = token
  }

  /** A message from the agent itself in the session's output (stream 'system'). */
  notice(message: string): void {
    this.output.add('system', message)
  }

  async start(): Promise<void> {
    const { adapter } = this.deps
    if (adapter.mode === 'per-message') {
      this.state = 'running'
      this.deps.emit({ type: 'session.started', session_id: this.id })
      return
    }
    const child = await this.launch([])
    this.deps.emit({ type: 'session.started', session_id: this.id, pid: child.pid })
    for (const line of adapter.startupLines?.() ?? []) child.writeLine(line)
  }

  async input(text: string): Promise<void> {
    const { adapter } = this.deps
    if (adapter.mode === 'per-message') {
      this.queue.push(text)
      if (!this.busy) void this.nextMessage()
      return
    }
    if (!this.child) await this.relaunch()
    this.child?.writeLine(adapter.userMessage ? adapter.userMessage(text) : text)
  }

  /**
   * A long-lived CLI that exited on its own (crash, idle timeout) comes back with the next
   * message, resuming its own conversation, so the session goes on where it was.
   */
  private async relaunch(): Promise<void> {
    const { adapter, setup } = this.deps
    if (this.cliSessionId) setup.resumeCliSessionId = this.cliSessionId
    this.notice(
      `Restarting ${adapter.executable}${this.cliSessionId ? ` (resuming ${this.cliSessionId})` : ''}`,
    )
    const child = await this.launch([])
    for (const line of adapter.startupLines?.() ?? []) child.writeLine(line)
  }

  permission(requestId: string, allow: boolean): void {
    const answer = this.deps.adapter.permissionAnswer
    if (!answer || !this.child)
      throw new UnsupportedOperation(`${this.deps.adapter.name} does not ask for permissions`)
    this.child.writeLine(answer(requestId, allow, this.permissionInputs.get(requestId)))
    this.permissionInputs.delete(requestId)
  }

  abort(): void {
    const interrupt = this.deps.adapter.interrupt
    this.queue.length = 0
    if (!this.child) return
    if (interrupt) this.child.writeLine(interrupt())
    else this.child.signal('SIGINT')
  }

  pause(): void {
    if (IS_WINDOWS) throw new UnsupportedOperation('Pausing a session is not supported on Windows')
    this.child?.signal('SIGSTOP')
    this.state = 'paused'
  }

  resume(): void {
    if (IS_WINDOWS) throw new UnsupportedOperation('Resuming a session is not supported on Windows')
    this.child?.signal('SIGCONT')
    this.state = 'running'
  }

  /** Graceful first (stdin closed, SIGTERM), then SIGKILL to the whole group after the grace time. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping = true
    this.queue.length = 0
    const child = this.child
    if (!child) return this.finish(null, null, 'stopped')
    child.closeStdin()
    child.signal('SIGCONT')
    child.signal('SIGTERM')
    const timer = setTimeout(() => child.signal('SIGKILL'), graceMs)
    await child.exited
    clearTimeout(timer)
    await this.finished
  }

  private async launch(extraArgs: string[]): Promise<ChildHandle> {
    const { adapter, setup, spawn } = this.deps
    await adapter.prepare?.(setup)
    const command = this.deps.command([adapter.executable, ...adapter.args(setup, ...extraArgs)], setup)
    const child = spawn(command.argv, {
      cwd: command.cwd,
      env: command.env,
      ...(command.monitor ? { monitor: true } : {}),
    })
    this.child = child
    this.state = 'running'
    const parser = adapter.createParser(setup)
    const pumps = Promise.all([
      this.pump(child.stdoutLines, 'stdout', parser),
      this.pump(child.stderrLines, 'stderr'),
    ])
    void child.exited.then(async ({ code, signal }) => {
      await pumps
      if (parser.end) this.record('stdout', '', parser.end())
      this.child = undefined
      this.busy = false
      if (this.stopping) this.finish(code, signal, 'stopped')
      else if (adapter.mode === 'per-message') void this.nextMessage()
      else
        this.notice(
          `${adapter.executable} exited (${signal ?? `code ${code}`}); it restarts with the next message`,
        )
    })
    return child
  }

  private async nextMessage(): Promise<void> {
    const message = this.queue.shift()
    if (message === undefined || this.stopping || this.busy) return
    this.busy = true
    // The next process continues the conversation the last one named (codex exec resume).
    if (this.cliSessionId) this.deps.setup.resumeCliSessionId = this.cliSessionId
    try {
      const child = await this.launch([message])
      // Its message is in argv; some CLIs (codex exec) read stdin until EOF before they start.
      child.closeStdin()
    } catch (err) {
      this.busy = false
      this.deps.emit({
        type: 'session.error',
        session_id: this.id,
        message: (err as Error).message,
        code: 'spawn_failed',
      })
    }
  }

  private async pump(
    lines: AsyncIterable<string>,
    stream: OutputStream,
    parser?: OutputParser,
  ): Promise<void> {
    try {
      for await (const line of lines) this.record(stream, line, parser ? parser.line(line) : { events: [] })
    } catch (err) {
      this.deps.log.warn('reading CLI output failed', { session_id: this.id, error: (err as Error).message })
    }
  }

  private record(stream: OutputStream, data: string, parsed: ParsedLine): void {
    if (parsed.cliSessionId) this.cliSessionId = parsed.cliSessionId
    const [first, ...rest] = parsed.events
    const raw = parsed.transient ? '' : data
    if (raw || first) this.output.add(stream, raw, first)
    for (const event of rest) this.output.add(stream, '', event)
    for (const event of parsed.events) {
      if (event.kind === 'permission_request') this.permissionInputs.set(event.request_id, event.input)
    }
    if (parsed.usage) {
      this.output.flush()
      this.deps.emit({
        type: 'usage.report',
        session_id: this.id,
        usage: parsed.usage,
        ts: new Date().toISOString(),
        ...(this.deps.setup.model ? { model: this.deps.setup.model } : {}),
      })
    }
  }

  private finish(code: number | null, signal: string | null, reason: string): void {
    if (this.state === 'exited') return
    this.output.flush()
    this.state = 'exited'
    this.deps.emit({
      type: 'session.exited',
      session_id: this.id,
      exit_code: code,
      signal,
      reason,
      ...(this.cliSessionId ? { cli_session_id: this.cliSessionId } : {}),
    })
    this.deps.onExit()
    this.markFinished()
  }
}
