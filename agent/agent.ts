// The agent: wires the outbox, the executor and file browsing to one connection run loop.
// All I/O is injected (transport, spawn, fs, clock) so tests drive it without sockets or real
// processes; main.ts passes the real ones. State that must survive reconnects (outbox, sessions,
// commands already run) lives here, not in a connection.
import { homedir } from 'node:os'
import { join } from 'node:path'
import { type AgentFrame, type Command, decodeTerminalMessage, PROTOCOL_VERSION } from '../protocol/index.ts'
import { ChangesHost } from './changes/changes-host.ts'
import type { AgentConfig } from './config.ts'
import type { AgentLink, Clock, ConnectionState } from './connection/link.ts'
import { type RunLoopResult, runLoop } from './connection/run-loop.ts'
import type { Transport } from './connection/transport.ts'
import { Executor, NO_ISOLATION } from './executor.ts'
import { type FsApi, listDirectory, resolveConfined } from './fs-list.ts'
import { type IsolationSetup, reportedIsolation } from './isolation.ts'
import type { AgentLogger } from './log.ts'
import { type FrameBody, Outbox } from './outbox.ts'
import { readUpdateRecord, removeUpdateRecord, writeUpdateRecord } from './self-update/record.ts'
import { type SelfUpdateDeps, SelfUpdater } from './self-update/updater.ts'
import { sessionCommand, sessionFilesDir } from './session-sandbox.ts'
import type { SpawnFn } from './spawn.ts'
import { machineCapabilities } from './system-info.ts'
import { defaultShell, noPty, type SpawnPty, TERMINAL_ENV } from './terminal/pty.ts'
import { TerminalHost } from './terminal/terminal-host.ts'
import { AGENT_VERSION } from './version.ts'

/** Command ids remembered so a redelivered command is never run twice. */
const REMEMBERED_COMMANDS = 10_000
export const SPOOL_FILE = 'outbox.spool'
/** On shutdown, how long the agent waits for the server to confirm the last output. */
const SHUTDOWN_FLUSH_MS = 2000
const SHUTDOWN_POLL_MS = 50

export interface AgentDeps {
  config: AgentConfig
  transport: Transport
  spawn: SpawnFn
  /** Shells for web terminals; without it (or with `ptyUnavailable`) terminals are refused. */
  spawnPty?: SpawnPty
  ptyUnavailable?: string | null
  fs: FsApi
  clock: Clock
  log: AgentLogger
  /** Current facts about the machine (hello, heartbeats). */
  systemInfo: () => Record<string, unknown>
  machineEnv?: Record<string, string | undefined>
  /** Spool unconfirmed frames to the agent's directory (false in unit tests). */
  spool?: boolean
  onStatus?: (status: AgentStatus) => void
  /** Stores a rotated agent token (config.json) before the agent reconnects with it. */
  saveAgentToken?: (token: string, version: number) => void
  /** How session CLIs are confined (default: not at all). */
  isolation?: IsolationSetup
  /** Self-update (agent.update): the running binary, its target, and how to restart into a new one. */
  selfUpdate?: Pick<SelfUpdateDeps, 'binary' | 'target' | 'restart' | 'fetch' | 'runVersion'> & {
    /** Set in the trial child of an update (handover.ts): its nonce, to report it connected. */
    trialNonce?: string
  }
}

export interface AgentStatus {
  connection: ConnectionState
  transport?: 'websocket' | 'long-poll'
  detail?: string
  since: string
  pending_frames: number
  sessions: { session_id: string; state: string; last_seq: number }[]
}

export interface Agent {
  readonly outbox: Outbox
  readonly executor: Executor
  readonly terminals: TerminalHost
  status(): AgentStatus
  /** Sends the machine's facts now, as a heartbeat (a CLI look-up finished after hello). */
  reportSystemInfo(): void
  /** Runs until `signal` aborts or the server refuses the token; stops every session after. */
  run(signal: AbortSignal): Promise<RunLoopResult>
}

export function createAgent(deps: AgentDeps): Agent {
  const { config, log, clock } = deps
  const bootId = clock.now().toString(36)
  let frameCounter = 0
  const outbox = new Outbox({
    ...(deps.spool ? { spoolPath: join(config.dir, SPOOL_FILE) } : {}),
    onDrop: (count) =>
      log.warn('dropped the oldest unconfirmed output: spool limit reached', { frames: count }),
  })
  const emit = (frame: FrameBody<AgentFrame>) =>
    outbox.push({ ...frame, id: `f-${bootId}-${++frameCounter}` } as AgentFrame & { id: string })
  const executor = new Executor({
    spawn: deps.spawn,
    fs: deps.fs,
    log,
    emit,
    maxSessions: config.max_sessions,
    roots: config.fs_roots,
    agentDir: config.dir,
    machineEnv: deps.machineEnv ?? process.env,
    ...(deps.isolation ? { isolation: deps.isolation } : {}),
    persist: deps.spool ?? false,
    lastSpooledSeq: (sessionId) => outbox.lastOutputSeq(sessionId),
    // The slot is taken before the snapshot, so starts pass the limit in the order they arrived.
    beforeStart: (sessionId, projectPath) => changes.prepare(sessionId, projectPath),
  })
  executor.restore()
  const machineEnv = deps.machineEnv ?? process.env
  const terminals = new TerminalHost({
    spawnPty: deps.spawnPty ?? noPty,
    unavailableReason: deps.spawnPty ? (deps.ptyUnavailable ?? null) : 'This agent cannot open terminals',
    log,
    idleMs: config.terminal_idle_timeout * 1000,
    command: (terminalId, open) =>
      sessionCommand({
        isolation: deps.isolation ?? NO_ISOLATION,
        agentDir: config.dir,
        machineEnv,
        argv: defaultShell(machineEnv),
        adapterEnv: TERMINAL_ENV,
        projectPath: open.cwd,
        sessionDir: sessionFilesDir(deps.isolation ?? NO_ISOLATION, config.dir, `terminal-${terminalId}`),
        owner: `u-${open.user_id}`,
        homeTarget: machineEnv.HOME ?? homedir(),
        hidden: [...config.fs_roots, ...executor.otherProjects(open.session_id ?? '')].filter(
          (p) => p !== open.cwd,
        ),
      }),
    resolveCwd: (path) => resolveConfined(deps.fs, path, config.fs_roots),
  })
  const changes = new ChangesHost({
    emit,
    log,
    resolveRoot: (path) => resolveConfined(deps.fs, path, config.fs_roots),
    snapshotsDir: join(config.dir, 'changes'),
  })
  const updater = new SelfUpdater({
    binary: deps.selfUpdate?.binary ?? '',
    target: deps.selfUpdate?.target,
    restart: deps.selfUpdate?.restart ?? (() => {}),
    ...(deps.selfUpdate?.fetch ? { fetch: deps.selfUpdate.fetch } : {}),
    ...(deps.selfUpdate?.runVersion ? { runVersion: deps.selfUpdate.runVersion } : {}),
    dir: config.dir,
    serverUrl: config.server_url,
    log,
    clock,
    report: (status) => emit({ type: 'agent.update_status', ...status }),
    liveSessions: () => executor.activeCount,
  })
  /** Welcomed: the hello (with any update outcome) reached the server; settle update.json. */
  const settleUpdate = () => {
    updater.outcomeDelivered()
    const record = readUpdateRecord(config.dir)
    if (!record) return
    const nonce = deps.selfUpdate?.trialNonce
    if (nonce && record.nonce === nonce) writeUpdateRecord(config.dir, { ...record, state: 'connected' })
    else if (!nonce) removeUpdateRecord(config.dir)
  }
  const seen = new Set<string>()
  const chains = new Map<string, Promise<void>>()
  let control: AgentFrame[] = []
  const controlListeners = new Set<() => void>()
  const reconnectListeners = new Set<() => void>()
  let tokenVersion = config.agent_token_version
  let connection: Omit<AgentStatus, 'pending_frames' | 'sessions'> = {
    connection: 'connecting',
    since: new Date(clock.now()).toISOString(),
  }

  const sessionList = () =>
    [...executor.sessions.values()].map((s) => ({
      session_id: s.id,
      state: s.state,
      last_seq: s.lastSeq,
      ...(s.cliSessionId ? { cli_session_id: s.cliSessionId } : {}),
    }))
  const isolation = reportedIsolation(deps.isolation ?? { level: 'none', mechanism: '' })
  const status = (): AgentStatus => ({ ...connection, pending_frames: outbox.size, sessions: sessionList() })

  async function execute(cmd: Command): Promise<void> {
    switch (cmd.type) {
      case 'session.start':
        return executor.start(cmd)
      case 'changes.request':
        return changes.handle(cmd)
      case 'fs.list':
        try {
          const { path, entries } = await listDirectory(deps.fs, cmd.path, config.fs_roots)
          emit({ type: 'fs.result', request_id: cmd.request_id, path, entries })
        } catch (err) {
          emit({
            type: 'fs.result',
            request_id: cmd.request_id,
            path: cmd.path,
            error: (err as Error).message,
          })
        }
        return
      case 'log.tail':
        emit({ type: 'log.result', request_id: cmd.request_id, lines: log.tail(cmd.lines) })
        return
      case 'token.refresh':
        return executor.refreshToken(cmd)
      case 'agent.token':
        if (cmd.version <= tokenVersion) {
          log.info('ignoring an agent token not newer than ours', {
            version: cmd.version,
            ours: tokenVersion,
          })
          return
        }
        log.addSecret(cmd.agent_token)
        deps.saveAgentToken?.(cmd.agent_token, cmd.version)
        deps.transport.useToken?.(cmd.agent_token)
        tokenVersion = cmd.version
        log.info('agent token rotated; reconnecting with the new one', { version: cmd.version })
        for (const fn of reconnectListeners) fn()
        return
      case 'agent.update':
        return updater.handle(cmd)
      default:
        return executor.handle(cmd)
    }
  }

  const link: AgentLink = {
    outbox,
    hello: () => {
      const update = updater.status()
      const target = deps.selfUpdate?.target
      return {
        type: 'hello',
        machine_id: config.machine_id,
        agent_version: AGENT_VERSION,
        protocol_version: PROTOCOL_VERSION,
        system_info: deps.systemInfo(),
        capabilities: {
          ...machineCapabilities(deps.systemInfo(), {
            maxSessions: config.max_sessions,
            fsRoots: config.fs_roots,
            isolation,
            terminal: deps.spawnPty !== undefined && !deps.ptyUnavailable,
          }),
          ...(target ? { update_target: target } : {}),
        },
        ...(update ? { update } : {}),
      }
    },
    heartbeat: () => ({ type: 'heartbeat', system_info: deps.systemInfo(), sessions: sessionList() }),
    onCommand(cmd) {
      control.push({ type: 'ack', command_ids: [cmd.id] })
      for (const fn of controlListeners) fn()
      if (seen.has(cmd.id)) return
      seen.add(cmd.id)
      if (seen.size > REMEMBERED_COMMANDS) seen.delete(seen.values().next().value!)
      log.debug('command', { type: cmd.type, id: cmd.id })
      // One session's commands run in arrival order (input must wait for start to finish);
      // other sessions and file browsing do not wait for them.
      const key = 'session_id' in cmd ? cmd.session_id : cmd.id
      const run = (chains.get(key) ?? Promise.resolve())
        .then(() => execute(cmd))
        .catch((err) => log.error('command failed', { type: cmd.type, error: (err as Error).message }))
      chains.set(key, run)
      void run.then(() => {
        if (chains.get(key) === run) chains.delete(key)
      })
    },
    onBinary(data) {
      const message = decodeTerminalMessage(data)
      if (message) terminals.handle(message)
      else log.warn('ignoring a malformed binary message from the server')
    },
    setBinarySink(sink) {
      terminals.setSink(sink)
    },
    takeControlFrames() {
      const out = control
      control = []
      return out
    },
    onControlFrame(fn) {
      controlListeners.add(fn)
      return () => controlListeners.delete(fn)
    },
    onReconnectRequest(fn) {
      reconnectListeners.add(fn)
      return () => reconnectListeners.delete(fn)
    },
    setConnection(state, transport, detail) {
      connection = {
        connection: state,
        ...(transport ? { transport } : {}),
        ...(detail ? { detail } : {}),
        since: new Date(clock.now()).toISOString(),
      }
      if (state === 'online') settleUpdate()
      deps.onStatus?.(status())
    },
  }

  return {
    outbox,
    executor,
    terminals,
    status,
    /** Sends the machine's facts now, as a heartbeat (a CLI look-up finished after hello). */
    reportSystemInfo() {
      control.push(link.heartbeat())
      for (const fn of controlListeners) fn()
    },
    async run(signal) {
      // On shutdown the sessions stop first while the connection is still up, so their last
      // output and exit reach the server now rather than from the spool at the next start.
      const loop = new AbortController()
      const shutdown = async () => {
        await executor.stopAll()
        const deadline = clock.now() + SHUTDOWN_FLUSH_MS
        while (outbox.size > 0 && clock.now() < deadline) await clock.sleep(SHUTDOWN_POLL_MS)
        loop.abort()
      }
      if (signal.aborted) void shutdown()
      else signal.addEventListener('abort', () => void shutdown(), { once: true })
      const result = await runLoop(
        {
          transport: deps.transport,
          link,
          clock,
          log,
          mode: config.transport,
          baseDelayMs: config.reconnect_base_delay * 1000,
          maxDelayMs: config.reconnect_max_delay * 1000,
          heartbeatMs: config.heartbeat_interval * 1000,
        },
        loop.signal,
      )
      changes.stopAll()
      await Promise.all([executor.stopAll(), terminals.stopAll()])
      return result
    },
  }
}
