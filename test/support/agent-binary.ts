// The compiled agent binary as an end-to-end test drives it: build it once, register a fresh
// agent directory with a registration token, run it, and talk to the server like an admin.

import { expect } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { AGENT_DIST_DIR, AGENT_TARGETS, buildAgent } from '../../scripts/build-agent.ts'
import { browserApi, remoteClient } from './client.ts'
import { ADMIN_PASSWORD, cookieFrom } from './server.ts'

export const AGENT_BINARY = join(AGENT_DIST_DIR, AGENT_TARGETS['linux-x64'])

/**
 * A stand-in CLI for the generic adapter, `counting-cli`: prints "line 0".."line N-1" 20 ms
 * apart, then idles like a waiting CLI. Returns the directory to put first on the agent's PATH.
 */
export function writeCountingCli(lines: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'oa-fake-cli-'))
  const script = join(dir, 'counting-cli')
  writeFileSync(
    script,
    `#!/bin/sh\ni=0\nwhile [ $i -lt ${lines} ]; do echo "line $i"; i=$((i+1)); sleep 0.02; done\nexec sleep 600\n`,
  )
  chmodSync(script, 0o755)
  return dir
}

export function ensureAgentBinary(): Promise<unknown> {
  return buildAgent({ targets: ['linux-x64'], log: () => {} })
}

export async function adminCookie(url: string): Promise<string> {
  const res = await remoteClient(url).api.auth.login.post({ username: 'admin', password: ADMIN_PASSWORD })
  return cookieFrom(res.response)
}

export const machineOnline = (url: string, cookie: string, id: string) => async () => {
  const m = (await browserApi(url, cookie).remote.machines({ id }).get()).data?.machine
  return m?.status === 'online' && m.connected ? { transport: m.transport } : undefined
}

/** The machine's entry for a CLI once it carries a version (a slow --version follows the hello). */
export const cliWithVersion = (url: string, cookie: string, id: string, name: string) => async () => {
  const tools = (await browserApi(url, cookie).remote.machines({ id }).get()).data?.machine.cli_tools ?? []
  const cli = tools.find((c) => c.name === name)
  return cli?.version ? cli : undefined
}

/** A session reached 'active' (its CLI started); one that failed shows its output in the timeout. */
export const sessionActive = (url: string, cookie: string, id: string) => async () => {
  const s = (await browserApi(url, cookie).remote.sessions({ id }).get()).data!.session
  if (s.status === 'error') throw new Error(`session failed: ${JSON.stringify(s.output)}`)
  return s.status === 'active' ? true : undefined
}

export interface RunningAgent {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  dir: string
  machineId: string
  env: Record<string, string>
  log(): string
}

export interface StartAgentOptions {
  serverUrl: string
  cookie: string
  /** The address the agent dials (a proxy in front of the server), default serverUrl. */
  via?: string
  /** Extra environment (PATH with CLIs, reconnect delays...). */
  env?: Record<string, string>
  /** Every started process is pushed here so the test can kill it at the end. */
  track: Subprocess[]
  /** CLI tools to allow on the machine besides the detected ones (the test's own scripted CLIs). */
  allowCliTools?: string[]
  /** Another agent binary than dist/agent's (a copy a self-update may replace). */
  binary?: string
}

/** Lets sessions on the machine use these CLI tools (an admin's machine setting). */
export async function allowCliTools(url: string, cookie: string, machineId: string, tools: string[]) {
  const res = await browserApi(url, cookie)
    .remote.machines({ id: machineId })
    .settings.patch({ allowed_cli_tools: tools })
  expect(res.status).toBe(200)
}

/** Registers a fresh agent directory with the binary, then starts `run` in it. */
export async function startAgentBinary(options: StartAgentOptions): Promise<RunningAgent> {
  const issued = await browserApi(options.serverUrl, options.cookie).remote.machines.register.post({
    tenant_id: 1,
  })
  const dir = mkdtempSync(join(tmpdir(), 'oa-agent-e2e-'))
  mkdirSync(join(dir, 'work'))
  writeFileSync(join(dir, 'work/marker.txt'), 'browse me')
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    OPENACE_WORK_DIR: join(dir, 'work'),
    // Every test agent is its own host: agents sharing this machine's hostname would merge.
    OPENACE_HOSTNAME: `e2e-${crypto.randomUUID().slice(0, 8)}`,
    ...options.env,
  }
  // Async: a proxy of the calling test may run in this process and must keep serving.
  const reg = Bun.spawn(
    [
      options.binary ?? AGENT_BINARY,
      'register',
      '--server',
      options.via ?? options.serverUrl,
      '--token',
      issued.data!.registration_token,
      '--dir',
      dir,
      '--name',
      'e2e',
    ],
    { env, stdout: 'pipe', stderr: 'pipe' },
  )
  expect(await new Response(reg.stderr).text()).toBe('')
  expect(await reg.exited).toBe(0)
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
  expect(config.registration_token).toBeUndefined()
  expect(typeof config.agent_token).toBe('string')
  expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600)
  if (options.allowCliTools) {
    await allowCliTools(options.serverUrl, options.cookie, config.machine_id, options.allowCliTools)
  }
  return runAgentBinary(dir, config.machine_id, env, options.track, options.binary)
}

/** Starts `run` in an already registered agent directory (again, after a kill). */
export function runAgentBinary(
  dir: string,
  machineId: string,
  env: Record<string, string>,
  track: Subprocess[],
  binary = AGENT_BINARY,
): RunningAgent {
  const proc = Bun.spawn([binary, 'run', '--dir', dir], {
    env,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    // Another binary may update itself: its own process group, so killGroup also ends a trial child.
    detached: binary !== AGENT_BINARY,
  })
  track.push(proc)
  let out = ''
  void (async () => {
    const decoder = new TextDecoder()
    const reader = proc.stderr.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read())
      out += decoder.decode(r.value, { stream: true })
  })()
  return { proc, dir, machineId, env, log: () => out }
}
