// Shared pieces of the chaos scenarios: a scripted stand-in CLI, a server process with the
// compiled agent dialling it through a TCP proxy the test controls, and the sequence checks
// that prove no output line or command was lost or doubled.
import { expect } from 'bun:test'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  adminCookie,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi, reply } from '../support/client.ts'
import { type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { waitUntil } from '../support/wait-until.ts'

/** "count N" prints `tick 0`..`tick N-1` 10 ms apart then `done N`; any other line echoes once. */
const SCRIPT = `#!/usr/bin/env bash
while IFS= read -r line; do
  case "$line" in
    count\\ *) n=\${line#count }; i=0
      while [ $i -lt "$n" ]; do echo "tick $i"; i=$((i+1)); sleep 0.01; done
      echo "done $n" ;;
    *) echo "echo: $line" ;;
  esac
done
`
export const CLI = 'chaos-cli'
/** Agent reconnect schedule for these tests (seconds), so the backoff can be checked. */
export const BASE_DELAY_S = 0.5
export const MAX_DELAY_S = 4
export const SERVER_SETTINGS = {
  // Offline after 3 missed intervals: at 1 s a loaded CI machine saw a healthy agent flap
  // offline between two tests (the next session was refused 409 machine_offline).
  AGENT_HEARTBEAT_INTERVAL_SECONDS: '2',
  AGENT_LONG_POLL_TIMEOUT_MS: '2000',
  AGENT_OFFLINE_GRACE_MS: '500',
}

export interface Rig {
  env: Record<string, string>
  server: ServerProcess
  /** Between the agent and the server. */
  agentLink: TcpProxy
  agent: RunningAgent
  admin: string
  processes: Subprocess[]
  /** Kills the server (SIGKILL) and starts it again on the same port and data. */
  restartServer(): Promise<void>
  close(): Promise<void>
}

export async function startRig(): Promise<Rig> {
  await ensureAgentBinary()
  const bin = mkdtempSync(join(tmpdir(), 'oa-chaos-cli-'))
  writeFileSync(join(bin, CLI), SCRIPT)
  chmodSync(join(bin, CLI), 0o755)
  const env = await serverEnv(SERVER_SETTINGS)
  const processes: Subprocess[] = []
  const rig = { env, processes } as Rig
  rig.server = await spawnServer({ env })
  rig.agentLink = await startTcpProxy(rig.server.port)
  rig.admin = await adminCookie(rig.server.url)
  rig.agent = await startAgentBinary({
    serverUrl: rig.server.url,
    via: rig.agentLink.url,
    cookie: rig.admin,
    track: processes,
    allowCliTools: [CLI],
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      OPENACE_RECONNECT_BASE_DELAY: String(BASE_DELAY_S),
      OPENACE_RECONNECT_MAX_DELAY: String(MAX_DELAY_S),
    },
  })
  await waitUntil(machineOnline(rig.server.url, rig.admin, rig.agent.machineId), {
    what: 'agent online',
    timeoutMs: 20_000,
  })
  rig.restartServer = async () => {
    await rig.server.stop('SIGKILL')
    rig.server = await spawnServer({ env, port: rig.server.port })
    rig.admin = await adminCookie(rig.server.url)
  }
  rig.close = async () => {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
    rig.agentLink.stop()
    await rig.server.stop('SIGKILL')
  }
  return rig
}

export interface OutputLine {
  seq: number
  data: string
}

/** The typed client as the rig's admin, with the browser's Origin. */
const asAdmin = (rig: Rig) => browserApi(rig.server.url, rig.admin)

export async function newSession(rig: Rig): Promise<string> {
  // reply(): a refusal's error body goes into the comparison, and the App type does not name it.
  const created = await reply(
    asAdmin(rig).remote.sessions.post({
      machine_id: rig.agent.machineId,
      project_path: join(rig.agent.dir, 'work'),
      cli_tool: CLI,
    }),
  )
  expect({ status: created.status, error: created.body.error }).toEqual({ status: 201, error: undefined })
  const id: string = created.body.session.session_id
  await waitUntil(
    async () => {
      const { data } = await asAdmin(rig)
        .remote.sessions({ id })
        .get({ query: { output_limit: 1 } })
      return data?.session.status === 'active' ? true : undefined
    },
    { what: 'session active', timeoutMs: 15_000 },
  )
  return id
}

/** Largest output page the API serves (server/sessions/model.ts MAX_OUTPUT_PAGE). */
const OUTPUT_PAGE = 5000

/** The whole stored output of a session, page by page. */
export async function output(rig: Rig, id: string): Promise<OutputLine[]> {
  const lines: OutputLine[] = []
  for (;;) {
    const after = lines.at(-1)?.seq ?? -1
    const { status, data } = await asAdmin(rig)
      .remote.sessions({ id })
      .get({ query: { output_after: after, output_limit: OUTPUT_PAGE } })
    expect(status).toBe(200)
    lines.push(...(data!.session.output ?? []).map((o) => ({ seq: o.seq, data: o.data })))
    if (!data!.session.output_has_more) return lines
  }
}

export async function chat(rig: Rig, id: string, content: string) {
  const res = await asAdmin(rig).remote.sessions({ id }).chat.post({ content })
  expect(res.status).toBeLessThan(300)
}

export const untilLine = (rig: Rig, id: string, line: string, ms = 30_000) =>
  waitUntil(async () => ((await output(rig, id)).some((o) => o.data === line) ? true : undefined), {
    what: `"${line}"`,
    timeoutMs: ms,
  })

/** Ticks 0..n-1 of each count, in order. */
export const ticksOf = (...counts: number[]) => counts.flatMap((n) => Array.from({ length: n }, (_, i) => i))

/**
 * The whole-session check: seqs are exactly 0..n-1, the tick lines are exactly `ticks` (each once,
 * in order), the counts that finished are `done`, and every message echoed exactly once.
 */
export function assertSequence(lines: OutputLine[], ticks: number[], done: number[], messages: string[]) {
  expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i))
  const data = lines.map((l) => l.data)
  expect(data.filter((d) => d.startsWith('tick ')).map((d) => Number(d.slice(5)))).toEqual(ticks)
  expect(data.filter((d) => d.startsWith('done '))).toEqual(done.map((n) => `done ${n}`))
  const echoes = data.filter((d) => d.startsWith('echo: ')).map((d) => d.slice(6))
  expect(echoes.toSorted()).toEqual(messages.toSorted())
}
