// The agent's side of agent.update up to the restart: download (resumable), check the SHA-256
// and that the file runs as the announced version, wait until no session is live (unless
// forced), then swap the binary atomically keeping the previous one beside it, and hand over
// to the restart (handover.ts). Every step is reported (agent.update_status); a refusal
// replaces nothing and says why.
import { chmodSync, copyFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { access, constants } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { AgentUpdateStatus, CommandOf } from '../../protocol/index.ts'
import type { Clock } from '../connection/link.ts'
import type { AgentLogger } from '../log.ts'
import { AGENT_VERSION } from '../version.ts'
import { downloadResumable, sha256File } from './download.ts'
import { readUpdateRecord, writeUpdateRecord } from './record.ts'

/** How long `<new binary> version` may take before the file counts as not runnable. */
const VERSION_CHECK_MS = 30_000
const IDLE_POLL_MS = 1000

/** What the restart needs once the new binary is in place. */
export interface UpdatePlan {
  version: string
  from: string
  binary: string
  previous: string
  nonce: string
}

export interface SelfUpdateDeps {
  /** The running binary (process.execPath) and its build target; no target: cannot update. */
  binary: string
  target: string | undefined
  dir: string
  serverUrl: string
  log: AgentLogger
  clock: Clock
  report(status: AgentUpdateStatus): void
  liveSessions(): number
  /** Called once the new binary is installed: the agent stops and restarts into it. */
  restart(plan: UpdatePlan): void
  fetch?: typeof fetch
  /** Runs `<path> version` and returns what it printed (tests may stand in). */
  runVersion?: (path: string) => Promise<string>
}

export const previousBinary = (binary: string) => `${binary}.previous`

async function runVersion(path: string): Promise<string> {
  const proc = Bun.spawn([path, 'version'], { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const timer = setTimeout(() => proc.kill('SIGKILL'), VERSION_CHECK_MS)
  try {
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ])
    if (code !== 0)
      throw new Error(`it exited with code ${code}${err.trim() ? `: ${err.trim().slice(0, 300)}` : ''}`)
    return out.trim()
  } finally {
    clearTimeout(timer)
  }
}

export class SelfUpdater {
  private current: AgentUpdateStatus | undefined
  private running: string | undefined
  /** An admin forced the running update: stop waiting for sessions. */
  private forced = false

  constructor(private readonly deps: SelfUpdateDeps) {
    const record = readUpdateRecord(deps.dir)
    // The outcome of the last update, not yet told to the server (a rollback happens offline).
    if (record?.state === 'rolled_back')
      this.current = {
        version: record.version,
        state: 'rolled_back',
        ...(record.reason ? { reason: record.reason } : {}),
      }
  }

  /** For hello: the update in progress, or the outcome the server has not heard yet. */
  status(): AgentUpdateStatus | undefined {
    return this.current
  }

  /** The server has seen the hello carrying a final outcome: it need not be sent again. */
  outcomeDelivered(): void {
    if (
      this.current &&
      (this.current.state === 'rolled_back' || this.current.state === 'failed') &&
      !this.running
    )
      this.current = undefined
  }

  private set(state: AgentUpdateStatus['state'], version: string, reason?: string): void {
    this.current = { version, state, ...(reason ? { reason } : {}) }
    this.deps.report(this.current)
    const log = state === 'failed' || state === 'rolled_back' ? this.deps.log.warn : this.deps.log.info
    log.call(this.deps.log, `self-update ${state}`, { version, ...(reason ? { reason } : {}) })
  }

  async handle(cmd: CommandOf<'agent.update'>): Promise<void> {
    if (this.running === cmd.version && cmd.force && !this.forced) {
      this.forced = true
      this.deps.log.info('the update in progress was forced: live sessions will be stopped', {
        version: cmd.version,
      })
      return
    }
    if (this.running) {
      this.deps.log.info('an update is already in progress; ignoring another', {
        running: this.running,
        version: cmd.version,
      })
      return
    }
    if (cmd.version === AGENT_VERSION) {
      this.deps.log.info('asked to update to the version already running; nothing to do', {
        version: cmd.version,
      })
      return
    }
    this.running = cmd.version
    this.forced = cmd.force === true
    try {
      await this.update(cmd)
    } catch (err) {
      this.set('failed', cmd.version, (err as Error).message)
      this.running = undefined
    }
  }

  private async update(cmd: CommandOf<'agent.update'>): Promise<void> {
    const { binary, target } = this.deps
    if (!target) {
      throw new Error(
        AGENT_VERSION === 'dev'
          ? 'this agent runs from source and cannot replace itself; update its checkout instead'
          : `self-update is not supported on ${process.platform}; reinstall with the install script`,
      )
    }
    await access(dirname(binary), constants.W_OK).catch(() => {
      throw new Error(
        `the agent cannot write to ${dirname(binary)}, where its binary is; reinstall with the install script`,
      )
    })
    const url = new URL(cmd.url, this.deps.serverUrl).toString()
    const download = `${binary}.download`
    this.set('downloading', cmd.version)
    await downloadResumable(url, download, { ...(this.deps.fetch ? { fetch: this.deps.fetch } : {}) })
    const actual = await sha256File(download)
    if (actual !== cmd.sha256) {
      rmSync(download, { force: true })
      throw new Error(
        `checksum mismatch: the file from ${url} has SHA-256 ${actual}, the server announced ${cmd.sha256}; nothing was replaced`,
      )
    }
    chmodSync(download, 0o755)
    let reported: string
    try {
      reported = await (this.deps.runVersion ?? runVersion)(download)
    } catch (err) {
      rmSync(download, { force: true })
      throw new Error(
        `the downloaded binary does not run here (${(err as Error).message}); nothing was replaced`,
      )
    }
    if (reported !== cmd.version) {
      rmSync(download, { force: true })
      throw new Error(
        `the downloaded binary reports version '${reported.slice(0, 80)}', not '${cmd.version}'; nothing was replaced`,
      )
    }
    if (!this.forced && this.deps.liveSessions() > 0) {
      this.set('waiting', cmd.version)
      while (!this.forced && this.deps.liveSessions() > 0) await this.deps.clock.sleep(IDLE_POLL_MS)
    }
    this.set('installing', cmd.version)
    const previous = previousBinary(binary)
    // The previous binary is copied aside first, then the new one renamed over the running
    // path: at every moment `binary` is a whole, runnable file.
    copyFileSync(binary, `${previous}.tmp`)
    chmodSync(`${previous}.tmp`, statSync(binary).mode & 0o777)
    renameSync(`${previous}.tmp`, previous)
    renameSync(download, binary)
    const plan: UpdatePlan = {
      version: cmd.version,
      from: AGENT_VERSION,
      binary,
      previous,
      nonce: crypto.randomUUID(),
    }
    writeUpdateRecord(this.deps.dir, {
      version: plan.version,
      from: plan.from,
      state: 'trial',
      nonce: plan.nonce,
    })
    this.set('restarting', cmd.version)
    this.deps.restart(plan)
  }
}
