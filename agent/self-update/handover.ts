// The restart of a self-update, run by the old process once its agent has stopped. It starts
// the new binary as a trial child and waits for it to say it reached the server (update.json
// `connected`). Then the trial child is stopped and this process re-executes itself as the new
// binary (execve: same pid, so a service manager sees no exit). If the child exits first or
// does not connect within the rollback timeout, the previous binary is put back and re-executed,
// and update.json carries the reason for its next hello. A new binary that crashes at start can
// therefore never take the machine down: something that works always stays in charge.
import { renameSync } from 'node:fs'
import type { Subprocess } from 'bun'
import type { AgentLogger } from '../log.ts'
import { readUpdateRecord, writeUpdateRecord } from './record.ts'
import type { UpdatePlan } from './updater.ts'

/** The trial child's environment variable carrying the plan's nonce. */
export const TRIAL_ENV = 'OPENACE_UPDATE_TRIAL'
const POLL_MS = 200
const STOP_GRACE_MS = 10_000

export interface HandoverOptions {
  plan: UpdatePlan
  dir: string
  /** The command line arguments after the binary (`run --dir DIR`). */
  args: string[]
  timeoutMs: number
  log: AgentLogger
  /** Replaces this process (process.execve); tests may stand in. */
  exec?: (file: string, argv: string[], env: Record<string, string | undefined>) => never
}

async function stopChild(child: Subprocess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
  await child.exited
  clearTimeout(timer)
}

type TrialOutcome = { ok: true } | { ok: false; reason: string; stop?: boolean }

async function trial(
  options: HandoverOptions,
  child: Subprocess,
  stopped: Promise<string>,
): Promise<TrialOutcome> {
  const { plan, dir, timeoutMs } = options
  const deadline = Date.now() + timeoutMs
  let stopReason: string | undefined
  void stopped.then((signal) => {
    stopReason = signal
  })
  for (;;) {
    if (stopReason)
      return { ok: false, reason: `the agent was stopped (${stopReason}) during the update`, stop: true }
    const record = readUpdateRecord(dir)
    if (record?.state === 'connected' && record.nonce === plan.nonce) return { ok: true }
    if (child.exitCode !== null || child.signalCode !== null) {
      const how = child.signalCode
        ? `was killed by ${child.signalCode}`
        : `exited with code ${child.exitCode}`
      return { ok: false, reason: `version ${plan.version} ${how} before it connected to the server` }
    }
    if (Date.now() > deadline)
      return {
        ok: false,
        reason: `version ${plan.version} did not connect to the server within ${Math.round(timeoutMs / 1000)} s`,
      }
    await Bun.sleep(POLL_MS)
  }
}

/** Never returns: ends by re-executing the new binary, or the previous one after a rollback. */
export async function handOver(options: HandoverOptions): Promise<never> {
  const { plan, dir, args, log } = options
  const exec = options.exec ?? ((file, argv, env) => process.execve!(file, argv, env) as never)
  let onSignal: (signal: string) => void = () => {}
  const stopped = new Promise<string>((resolve) => {
    onSignal = resolve
  })
  const sigterm = () => onSignal('SIGTERM')
  const sigint = () => onSignal('SIGINT')
  process.on('SIGTERM', sigterm)
  process.on('SIGINT', sigint)
  log.info('starting the new version to check it connects', {
    version: plan.version,
    timeout_ms: options.timeoutMs,
  })
  const child = Bun.spawn([plan.binary, ...args], {
    env: { ...process.env, [TRIAL_ENV]: plan.nonce },
    stdin: 'ignore',
    stdout: 'inherit',
    stderr: 'inherit',
  })
  const outcome = await trial(options, child, stopped)
  await stopChild(child)
  process.off('SIGTERM', sigterm)
  process.off('SIGINT', sigint)
  const { [TRIAL_ENV]: _trial, ...env } = process.env
  if (outcome.ok) {
    log.info('the new version connected; restarting as it', { version: plan.version, from: plan.from })
    return exec(plan.binary, [plan.binary, ...args], env)
  }
  log.error('the new version failed; rolling back to the previous binary', {
    version: plan.version,
    previous: plan.from,
    reason: outcome.reason,
  })
  renameSync(plan.previous, plan.binary)
  writeUpdateRecord(dir, {
    version: plan.version,
    from: plan.from,
    state: 'rolled_back',
    reason: outcome.reason,
  })
  if (outcome.stop) process.exit(0)
  return exec(plan.binary, [plan.binary, ...args], env)
}
