// Bounded load: the output flood that wrote 35 MB in 0.8 s (the database grew 43 -> 126 MB) and
// made one session read a 70 MB body. A stand-in CLI under the compiled agent prints 32 MB as
// fast as it can; the server paces the agent through its receipts, the agent sends within its
// window, and the session keeps at most SESSION_OUTPUT_MAX_MB. During the flood the server's RSS
// is sampled and /api/health is timed; RSS and health must stay bounded, the stored output under
// the limit with the notice first, the newest output all there, and one read small.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { adminCookie, ensureAgentBinary, type RunningAgent } from '../support/agent-binary.ts'
import { standInCli, startCliMachine } from '../support/cli-session.ts'
import { browserApi } from '../support/client.ts'
import { type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { waitUntil } from '../support/wait-until.ts'
import { MB, percentile, probeHealth, rssBytes, sampleRss } from './load.ts'
import { SERVER_SETTINGS } from './support.ts'

const CLI = 'flood-cli'
const LINE_CHARS = 4096
const FLOOD_BYTES = 32 * MB
const LIMIT_MB = 8
/** "flood N" prints N lines of LINE_CHARS x's as fast as the pipe takes them, then "flood done". */
const SCRIPT = `#!/usr/bin/env bash
while IFS= read -r line; do
  case "$line" in
    flood\\ *) n=\${line#flood }
      head -c $((n * ${LINE_CHARS})) /dev/zero | tr '\\0' x | fold -w ${LINE_CHARS}; echo
      echo "flood done" ;;
    *) echo "echo: $line" ;;
  esac
done
`

let server: ServerProcess
let agent: RunningAgent
let admin: string
const processes: Subprocess[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  const bin = standInCli(CLI, SCRIPT)
  server = await spawnServer({
    env: await serverEnv({
      ...SERVER_SETTINGS,
      // The agent output rate is the default (2 MB/s, 8 MB burst), far below the CLI's pace.
      SESSION_OUTPUT_MAX_MB: String(LIMIT_MB),
    }),
  })
  admin = await adminCookie(server.url)
  agent = await startCliMachine({
    serverUrl: server.url,
    admin,
    track: processes,
    allowCliTools: [CLI],
    path: [bin],
    onlineTimeoutMs: 30_000,
  })
}, 300_000)
afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop('SIGKILL')
})

interface Page {
  status: number
  bytes: number
  output: Array<{ seq: number; data: string; stream: string; event: { kind?: string } | null }>
  more: boolean
  lastSeq: number
}

async function page(id: string, after: number): Promise<Page> {
  const res = await fetch(`${server.url}/api/remote/sessions/${id}?output_after=${after}`, {
    headers: { cookie: admin },
  })
  const text = await res.text()
  const body = JSON.parse(text) as {
    session: { output: Page['output']; output_has_more: boolean; last_seq: number }
  }
  return {
    status: res.status,
    bytes: text.length,
    output: body.session.output,
    more: body.session.output_has_more,
    lastSeq: body.session.last_seq,
  }
}

async function everything(id: string) {
  const records: Page['output'] = []
  let largest = 0
  for (let after = -1, more = true; more; ) {
    const p = await page(id, after)
    expect(p.status).toBe(200)
    largest = Math.max(largest, p.bytes)
    records.push(...p.output)
    more = p.more
    after = records.at(-1)?.seq ?? after
  }
  return { records, largest }
}

describe('output flood', () => {
  test('32 MB of CLI output: paced, stored under the limit, RSS and health bounded', async () => {
    const client = browserApi(server.url, admin)
    const created = await client.remote.sessions.post({
      machine_id: agent.machineId,
      project_path: join(agent.dir, 'work'),
      cli_tool: CLI,
    })
    expect(created.status).toBe(201)
    const id = created.data!.session.session_id
    const session = client.remote.sessions({ id })
    await waitUntil(
      async () => {
        const { data } = await session.get({ query: { output_limit: 1 } })
        return data?.session.status === 'active' ? true : undefined
      },
      { what: 'session active', timeoutMs: 15_000 },
    )

    const pid = server.proc.pid
    const idleProbe = probeHealth(server.url)
    await Bun.sleep(3000)
    const idleLatencies = await idleProbe.stop()
    const idleRss = rssBytes(pid)

    const rss = sampleRss(pid)
    const floodProbe = probeHealth(server.url)
    const started = performance.now()
    const lines = FLOOD_BYTES / LINE_CHARS
    const sent = await session.chat.post({ content: `flood ${lines}` })
    expect(sent.status).toBeLessThan(300)
    // The last line is the newest output: the limit never drops it.
    await waitUntil(
      async () => {
        const last = await page(id, (await page(id, -1)).lastSeq - 1)
        return last.output.at(-1)?.data === 'flood done' ? true : undefined
      },
      { what: '"flood done" stored', timeoutMs: 240_000 },
    )
    const floodMs = performance.now() - started
    const floodLatencies = await floodProbe.stop()
    const peakRss = await rss.stop()

    const { records, largest } = await everything(id)
    const storedBytes = records.reduce((n, r) => n + r.data.length, 0)
    const [notice, ...rest] = records
    const rows = [
      ['idle RSS', `${(idleRss / MB).toFixed(1)} MB`],
      ['peak RSS during flood', `${(peakRss / MB).toFixed(1)} MB`],
      [
        'health p50 / p99 idle',
        `${percentile(idleLatencies, 50).toFixed(1)} / ${percentile(idleLatencies, 99).toFixed(1)} ms`,
      ],
      [
        'health p50 / p99 flood',
        `${percentile(floodLatencies, 50).toFixed(1)} / ${percentile(floodLatencies, 99).toFixed(1)} ms (${floodLatencies.length} checks)`,
      ],
      [
        'flood duration',
        `${(floodMs / 1000).toFixed(1)} s (${(FLOOD_BYTES / MB / (floodMs / 1000)).toFixed(1)} MB/s)`,
      ],
      [
        'output stored',
        `${(storedBytes / MB).toFixed(1)} MB in ${records.length} records (limit ${LIMIT_MB} MB)`,
      ],
      ['largest session read', `${(largest / MB).toFixed(2)} MB`],
    ]
    console.log(`\noutput flood: ${FLOOD_BYTES / MB} MB from one CLI through the compiled agent`)
    for (const [k, v] of rows) console.log(`  ${k!.padEnd(24)} ${v}`)

    expect(storedBytes).toBeLessThanOrEqual(LIMIT_MB * MB)
    expect(notice!.event?.kind).toBe('output_dropped')
    // Everything after the notice is there, in order, through the last line.
    expect(rest.map((r) => r.seq)).toEqual(rest.map((_, i) => notice!.seq + 1 + i))
    expect(rest.at(-1)!.data).toBe('flood done')
    // One read is a page (about 1 MiB of output), never the session.
    expect(largest).toBeLessThan(2 * MB)
    // Generous bounds for a loaded 2-core CI machine (the embedded database shares the server's
    // event loop, so storing at the agent rate costs health checks tens to hundreds of ms):
    // unbounded buffering costs hundreds of MB (the body burst reached 4.6 GB) and seconds.
    expect(peakRss - idleRss).toBeLessThan(300 * MB)
    expect(percentile(floodLatencies, 99)).toBeLessThan(Math.max(2000, 5 * percentile(idleLatencies, 99)))
  }, 300_000)
})
