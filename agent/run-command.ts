// `open-ace-agent run`: loads config, registers first if only a registration token is set,
// then runs the agent with the real transport, processes and clock until SIGTERM/SIGINT or
// until the server refuses the token (exit 78 with a clear log line, so services stop). After
// a self-update installed a new binary, it hands over to it (self-update/handover.ts).
import * as fs from 'node:fs/promises'
import { hostname } from 'node:os'
import type { DetectedCli } from '../protocol/index.ts'
import { createAgent } from './agent.ts'
import { resolveAgentDir } from './agent-dir.ts'
import { type AgentConfig, ConfigError, loadAgentConfig, updateConfigFile } from './config.ts'
import { createHttpTransport } from './connection/http-transport.ts'
import { systemClock } from './connection/link.ts'
import { EXIT_CONFIG, EXIT_OK } from './exit-codes.ts'
import { detectIsolation, type IsolationSetup, reportedIsolation } from './isolation.ts'
import { type AgentLogger, createAgentLogger } from './log.ts'
import { registerMachine } from './register.ts'
import { handOver, TRIAL_ENV } from './self-update/handover.ts'
import { selfUpdateTarget } from './self-update/target.ts'
import type { UpdatePlan } from './self-update/updater.ts'
import { spawnProcess } from './spawn.ts'
import { isProcessAlive, readStateFile, writeStateFile } from './state-file.ts'
import {
  CLI_REFRESH_INTERVAL_MS,
  collectSystemInfo,
  findCliTools,
  HELLO_CLI_WAIT_MS,
  probeCliTools,
  readCachedCliTools,
  writeCachedCliTools,
} from './system-info.ts'
import { ptyUnavailableReason, spawnBunPty } from './terminal/pty.ts'
import { AGENT_VERSION } from './version.ts'

/** state.json is rewritten at least this often while running. */
const STATE_WRITE_INTERVAL_MS = 10_000

async function ensureRegistered(
  config: AgentConfig,
  log: AgentLogger,
  isolation: IsolationSetup,
): Promise<AgentConfig> {
  if (!config.server_url) {
    throw new ConfigError(
      'server_url is not set: run "open-ace-agent register --server URL --token TOKEN" or set OPENACE_SERVER_URL',
    )
  }
  if (config.agent_token) {
    if (!config.machine_id) throw new ConfigError('machine_id is not set (config.json or OPENACE_MACHINE_ID)')
    return config
  }
  if (!config.registration_token) {
    throw new ConfigError('no agent token: run "open-ace-agent register --server URL --token TOKEN" first')
  }
  log.info('registering with the registration token from config.json', { server: config.server_url })
  await registerMachine({
    serverUrl: config.server_url,
    registrationToken: config.registration_token,
    dir: config.dir,
    machineId: config.machine_id || crypto.randomUUID(),
    machineName: config.machine_name || hostname(),
    systemInfo: collectSystemInfo(config.work_dir, await probeCliTools()),
    maxSessions: config.max_sessions,
    isolation: reportedIsolation(isolation),
  })
  return loadAgentConfig(config.dir, process.env)
}

export async function runCommand(opts: { dir?: string }): Promise<number> {
  const dir = resolveAgentDir(opts.dir)
  const previous = readStateFile(dir)
  const trialNonce = process.env[TRIAL_ENV] || undefined
  // The trial child of a self-update runs beside its parent, the agent that installed it.
  const isParent = trialNonce !== undefined && previous?.pid === process.ppid
  if (previous && previous.pid !== process.pid && !isParent && isProcessAlive(previous.pid)) {
    throw new ConfigError(`another agent (pid ${previous.pid}) is already running in ${dir}`)
  }
  let config = loadAgentConfig(dir, process.env)
  const log = createAgentLogger({ level: config.log_level, dir, maxBytes: config.log_max_bytes })
  for (const secret of [config.agent_token, config.registration_token]) if (secret) log.addSecret(secret)
  const isolation = detectIsolation({ mode: config.isolation, runAs: config.run_as })
  if (isolation.level === 'none') {
    log.warn('sessions are not isolated: their CLIs can read what this agent can', {
      detail: isolation.detail,
    })
  }
  config = await ensureRegistered(config, log, isolation)
  log.addSecret(config.agent_token)

  const cached = readCachedCliTools(dir)
  let cliTools: DetectedCli[] = cached ?? findCliTools()
  /** Set once the agent exists: sends its facts now. */
  let reportSystemInfo: (() => void) | undefined
  const refreshTools = () =>
    probeCliTools()
      .then((tools) => {
        const changed = JSON.stringify(tools) !== JSON.stringify(cliTools)
        cliTools = tools
        writeCachedCliTools(dir, tools)
        // A look-up that finished after hello reaches the server now, not a heartbeat later.
        if (changed) reportSystemInfo?.()
      })
      .catch((err) => log.warn('looking up CLI tools failed', { error: (err as Error).message }))
  // The first hello carries the CLIs found: with the last run's answer on disk at once, else
  // after a short wait for their versions (never for a slow CLI: its version follows).
  const firstLookUp = refreshTools()
  if (!cached) await Promise.race([firstLookUp, Bun.sleep(HELLO_CLI_WAIT_MS)])
  const toolTimer = setInterval(refreshTools, CLI_REFRESH_INTERVAL_MS)

  const startedAt = new Date().toISOString()
  const saveState = () =>
    writeStateFile(dir, {
      ...agent.status(),
      pid: process.pid,
      version: AGENT_VERSION,
      started_at: startedAt,
      updated_at: new Date().toISOString(),
    })
  const transport = createHttpTransport(config.server_url, config.agent_token)
  const controller = new AbortController()
  let updatePlan: UpdatePlan | undefined
  const agent = createAgent({
    config,
    transport,
    spawn: spawnProcess,
    spawnPty: spawnBunPty,
    ptyUnavailable: ptyUnavailableReason,
    fs,
    clock: systemClock,
    log,
    systemInfo: () => collectSystemInfo(config.work_dir, cliTools),
    spool: true,
    onStatus: () => saveState(),
    saveAgentToken: (token, version) =>
      updateConfigFile(dir, { agent_token: token, agent_token_version: version }),
    isolation,
    selfUpdate: {
      binary: process.execPath,
      target: selfUpdateTarget(),
      restart: (plan) => {
        updatePlan = plan
        controller.abort()
      },
      ...(trialNonce ? { trialNonce } : {}),
    },
  })
  reportSystemInfo = () => agent.reportSystemInfo()
  const stateTimer = setInterval(saveState, STATE_WRITE_INTERVAL_MS)
  const stop = (signal: string) => {
    log.info('stopping', { signal })
    controller.abort()
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))

  log.info('agent starting', {
    version: AGENT_VERSION,
    machine_id: config.machine_id,
    server: config.server_url,
    transport: config.transport,
    isolation: isolation.level,
    dir,
    pending_frames: agent.outbox.size,
  })
  const result = await agent.run(controller.signal)
  clearInterval(toolTimer)
  clearInterval(stateTimer)
  saveState()
  if (result.reason === 'unauthorized') {
    log.error(
      `the server no longer accepts this agent's token (${result.goodbye?.reason ?? 'unauthorized'}): ${result.message}. ` +
        'Stopped; register again with "open-ace-agent register --server URL --token TOKEN".',
    )
    return EXIT_CONFIG
  }
  if (updatePlan) {
    return handOver({
      plan: updatePlan,
      dir,
      args: process.argv.slice(2),
      timeoutMs: config.update_rollback_timeout * 1000,
      log,
    })
  }
  log.info('agent stopped')
  return EXIT_OK
}
