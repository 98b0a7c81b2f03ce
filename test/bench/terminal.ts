// Terminal latency and throughput through the whole path: browser WebSocket -> server ->
// agent channel -> PTY and back, with a real server process and the compiled agent on
// loopback, once with the agent on its WebSocket and once on long-poll (terminal bytes in its
// poll batches). Baseline: the same PTY driven directly in this process (Bun.spawn terminal), so
// the table shows what the relay adds. Prints keystroke-to-echo p50/p99 and 10 MB of output
// (time until its end marker arrives, the bytes that reached the browser: a reader slower than
// the PTY skips what fell out of the 2 MiB scrollback, and the peak RSS of server and agent).
// Run: bun test/bench/terminal.ts
import { readFileSync } from 'node:fs'
import type { Subprocess } from 'bun'
import { adminCookie, ensureAgentBinary, machineOnline, startAgentBinary } from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { serverEnv, spawnServer } from '../support/process.ts'
import { openTerminalSocket } from '../support/terminal-client.ts'
import { waitUntil } from '../support/wait-until.ts'

const KEYSTROKES = 300
const OUTPUT_BYTES = 10 * 1024 * 1024
const FLOOD = `head -c ${OUTPUT_BYTES} /dev/zero | tr '\\0' x; echo; echo flood-$((40+2))\r`

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!
const rssMb = (pid: number) => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : 0
  } catch {
    return 0
  }
}

interface Driver {
  type(keys: string): void
  onData(fn: (bytes: Uint8Array) => void): void
}

async function echoLatencies(d: Driver): Promise<number[]> {
  const times: number[] = []
  let waiting: ((t: number) => void) | null = null
  d.onData((bytes) => {
    if (waiting && bytes.includes(0x61)) {
      const w = waiting
      waiting = null
      w(performance.now())
    }
  })
  for (let i = 0; i < KEYSTROKES; i++) {
    const start = performance.now()
    const echoed = new Promise<number>((r) => {
      waiting = r
    })
    d.type('a')
    times.push((await echoed) - start)
    if (i % 50 === 49) d.type('\x15') // Ctrl-U: keep the line short
  }
  d.type('\x15')
  return times
}

async function flood(d: Driver, pids: number[]) {
  let received = 0
  let peak = 0
  const sampler = setInterval(() => {
    peak = Math.max(
      peak,
      pids.reduce((n, pid) => n + rssMb(pid), 0),
    )
  }, 20)
  const decoder = new TextDecoder()
  let tail = ''
  const done = new Promise<void>((resolve) =>
    d.onData((bytes) => {
      received += bytes.length
      tail = (tail + decoder.decode(bytes)).slice(-200)
      if (tail.includes('flood-42')) resolve()
    }),
  )
  const start = performance.now()
  d.type(FLOOD)
  await done
  clearInterval(sampler)
  return { ms: performance.now() - start, received, peakMb: peak }
}

function localPty(): Driver & { close(): void; pid: number } {
  const listeners: ((b: Uint8Array) => void)[] = []
  const proc = Bun.spawn(['bash', '--norc', '-i'], {
    env: { PATH: process.env.PATH ?? '', TERM: 'xterm-256color', PS1: '$ ' },
    terminal: {
      cols: 120,
      rows: 40,
      data: (_t, b) => {
        for (const fn of listeners) fn(b)
      },
    },
  })
  return {
    pid: proc.pid,
    type: (k) => proc.terminal!.write(k),
    onData: (fn) => {
      listeners.length = 0
      listeners.push(fn)
    },
    close: () => proc.kill('SIGKILL'),
  }
}

type Transport = 'websocket' | 'long-poll'

/** One agent on the given transport, a terminal on it, and its echo and flood measured. */
async function viaAgent(
  server: Awaited<ReturnType<typeof spawnServer>>,
  cookie: string,
  transport: Transport,
) {
  const track: Subprocess[] = []
  try {
    const agent = await startAgentBinary({
      serverUrl: server.url,
      cookie,
      track,
      env: { OPENACE_LOG_LEVEL: 'error', OPENACE_AGENT_TRANSPORT: transport },
    })
    const online = machineOnline(server.url, cookie, agent.machineId)
    const wanted = transport === 'websocket' ? 'websocket' : 'long_poll'
    await waitUntil(async () => ((await online())?.transport === wanted ? true : undefined), {
      what: `online over ${transport}`,
      timeoutMs: 15_000,
    })
    const opened = await browserApi(server.url, cookie).remote.terminals.post({
      machine_id: agent.machineId,
    })
    const terminalId = opened.data!.terminal.terminal_id
    const client = await openTerminalSocket(server.url, cookie, terminalId, { cols: 120, rows: 40 })
    await client.waitFor(/[$#] $/)
    const remote: Driver = { type: (k) => client.type(k), onData: (fn) => (client.onOutput = fn) }
    const echo = await echoLatencies(remote)
    const output = await flood(remote, [server.proc.pid, agent.proc.pid])
    const afterMb = rssMb(server.proc.pid) + rssMb(agent.proc.pid)
    client.close()
    return { echo, output, afterMb }
  } finally {
    for (const p of track) p.kill('SIGKILL')
  }
}

await ensureAgentBinary()
const server = await spawnServer({ env: await serverEnv({ LOG_LEVEL: 'error' }) })
try {
  const cookie = await adminCookie(server.url)
  const local = localPty()
  await Bun.sleep(500)
  const localEcho = await echoLatencies(local)
  const localFlood = await flood(local, [])
  local.close()

  const ws = await viaAgent(server, cookie, 'websocket')
  const lp = await viaAgent(server, cookie, 'long-poll')

  const cell = (v: number, unit: string) => `${v.toFixed(2).padStart(9)} ${unit.padEnd(2)}`
  const ratio = (v: number, base: number) => `${(v / base).toFixed(1).padStart(6)}x`
  const row = (name: string, base: number, a: number, b: number, unit: string, goal: string) =>
    `| ${name.padEnd(34)} | ${cell(base, unit)} | ${cell(a, unit)} | ${ratio(a, base)} | ${cell(b, unit)} | ${ratio(b, base)} | ${goal.padEnd(10)} |`
  console.log(
    `\nterminal bench: ${KEYSTROKES} keystrokes, ${OUTPUT_BYTES / 1024 / 1024} MB of output, loopback\n`,
  )
  console.log(
    '| measure                            | local PTY    | WebSocket    | ratio   | long-poll    | ratio   | goal (WS)  |',
  )
  console.log(
    '|------------------------------------|--------------|--------------|---------|--------------|---------|------------|',
  )
  const p50 = (xs: number[]) => pct(xs, 0.5)
  const p99 = (xs: number[]) => pct(xs, 0.99)
  console.log(row('keystroke -> echo p50', p50(localEcho), p50(ws.echo), p50(lp.echo), 'ms', '<= 5 ms'))
  console.log(row('keystroke -> echo p99', p99(localEcho), p99(ws.echo), p99(lp.echo), 'ms', '<= 20 ms'))
  console.log(
    row('10 MB output, until its end marker', localFlood.ms, ws.output.ms, lp.output.ms, 'ms', '<= 2000 ms'),
  )
  for (const [name, r] of [
    ['WebSocket', ws],
    ['long-poll', lp],
  ] as const)
    console.log(
      `\n${name}: bytes received ${r.output.received} (local ${localFlood.received}); peak RSS server+agent during the flood ${r.output.peakMb.toFixed(0)} MB (after: ${r.afterMb.toFixed(0)} MB)`,
    )
} finally {
  await server.stop('SIGKILL')
}
