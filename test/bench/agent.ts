// Benchmark of the compiled agent (linux-x64): start-up time (`version`, and spawn -> hello on
// a WebSocket) and idle RSS once connected. Baselines from the same run: /bin/true for process
// start, and a bare `bun` script for start-up and idle memory. Targets: start <= 100 ms,
// idle RSS <= 60 MB. Then what the session sandbox costs at CLI start: the same commands
// (/bin/true, and `qwen --version` of the repository's Qwen Code) started plainly and through
// sandboxCommand as a session would be (target <= 50 ms added). Run: bun test/bench/agent.ts
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { detectIsolation } from '../../agent/isolation.ts'
import { type SandboxRequest, sandboxCommand } from '../../agent/sandbox.ts'
import { AGENT_DIST_DIR, AGENT_TARGETS, buildAgent } from '../../scripts/build-agent.ts'

const RUNS = 20
const IDLE_SETTLE_MS = 3000
const BINARY = join(AGENT_DIST_DIR, AGENT_TARGETS['linux-x64'])

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!
const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, p90 ${p90(xs).toFixed(1)} ms`

async function timeRun(cmd: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  const t0 = performance.now()
  const proc = Bun.spawn(cmd, { stdout: 'ignore', stderr: 'ignore', stdin: 'ignore', ...opts })
  await proc.exited
  return performance.now() - t0
}

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) / 1024
}

await buildAgent({ targets: ['linux-x64'], log: () => {} })

// A minimal server side: answers hello with welcome and notes when it arrived.
let helloAt = 0
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req, srv) {
    return srv.upgrade(req) ? undefined : new Response('no', { status: 400 })
  },
  websocket: {
    message(ws, message) {
      const frame = JSON.parse(String(message))
      if (frame.type === 'hello') {
        helloAt = performance.now()
        ws.send(
          JSON.stringify({
            type: 'welcome',
            machine_id: frame.machine_id,
            protocol_version: 1,
            heartbeat_interval_seconds: 30,
            server_time: new Date().toISOString(),
          }),
        )
      } else if (frame.id) ws.send(JSON.stringify({ type: 'received', ids: [frame.id] }))
    },
  },
})
const dir = mkdtempSync(join(tmpdir(), 'oa-bench-'))
writeFileSync(
  join(dir, 'config.json'),
  JSON.stringify({
    server_url: `http://127.0.0.1:${server.port}`,
    agent_token: 'bench-token',
    machine_id: 'bench-machine',
  }),
  { mode: 0o600 },
)
const idleScript = join(dir, 'idle.ts')
writeFileSync(idleScript, 'setInterval(() => {}, 1000)\n')

const trueTimes: number[] = []
const bunTimes: number[] = []
const versionTimes: number[] = []
for (let i = 0; i < RUNS; i++) {
  trueTimes.push(await timeRun(['/bin/true']))
  bunTimes.push(await timeRun([process.execPath, '-e', '0']))
  versionTimes.push(await timeRun([BINARY, 'version']))
}

const helloTimes: number[] = []
let agentRss = 0
for (let i = 0; i < 5; i++) {
  helloAt = 0
  const t0 = performance.now()
  const agent = Bun.spawn([BINARY, 'run', '--dir', dir], {
    stdout: 'ignore',
    stderr: 'ignore',
    stdin: 'ignore',
  })
  while (helloAt === 0) await Bun.sleep(1)
  helloTimes.push(helloAt - t0)
  if (i === 0) {
    await Bun.sleep(IDLE_SETTLE_MS)
    agentRss = rssMb(agent.pid)
  }
  agent.kill('SIGTERM')
  await agent.exited
}

const idle = Bun.spawn([process.execPath, idleScript], { stdout: 'ignore', stderr: 'ignore' })
await Bun.sleep(IDLE_SETTLE_MS)
const bunRss = rssMb(idle.pid)
idle.kill()
await idle.exited
server.stop(true)

// CLI start with and without the sandbox, alternating so load hits both alike.
const isolation = detectIsolation({ mode: 'auto', runAs: '' })
const project = join(dir, 'work', 'project')
const home = join(dir, 'homes', 'u-1')
for (const d of [project, home, join(dir, 'work', 'other')]) mkdirSync(d, { recursive: true })
const qwen = join(import.meta.dir, '../../node_modules/.bin/qwen')
const cliEnv = { PATH: `${join(import.meta.dir, '../../node_modules/.bin')}:${process.env.PATH}`, HOME: dir }
const request = (argv: string[]): SandboxRequest => ({
  argv,
  cwd: project,
  env: cliEnv,
  home: { source: home, target: dir },
  hidden: [dir, join(dir, 'work'), join(dir, 'work', 'other')],
})
const cliRows: { name: string; plain: number[]; sandboxed: number[] }[] = []
for (const [name, argv] of [
  ['/bin/true', ['/bin/true']],
  ...(existsSync(qwen) ? [['qwen --version', [qwen, '--version']] as const] : []),
] as const) {
  const row = { name, plain: [] as number[], sandboxed: [] as number[] }
  const boxed = sandboxCommand(isolation, request([...argv]))
  for (let i = 0; i < RUNS; i++) {
    row.plain.push(await timeRun([...argv], { env: cliEnv, cwd: project }))
    row.sandboxed.push(await timeRun(boxed.argv, { env: boxed.env, cwd: boxed.cwd }))
  }
  cliRows.push(row)
}

console.log(`agent binary: ${BINARY}`)
console.log(`process start baseline (/bin/true):     ${fmt(trueTimes)}`)
console.log(`bun runtime baseline (bun -e 0):         ${fmt(bunTimes)}`)
console.log(`agent start (open-ace-agent version):    ${fmt(versionTimes)}   target <= 100 ms`)
console.log(`agent spawn -> hello on WebSocket:       ${fmt(helloTimes)} (${helloTimes.length} runs)`)
console.log(`idle RSS baseline (bare bun script):     ${bunRss.toFixed(1)} MB`)
console.log(
  `agent idle RSS (connected, ${IDLE_SETTLE_MS / 1000} s idle): ${agentRss.toFixed(1)} MB   target <= 60 MB`,
)
console.log(
  `\nCLI start with the session sandbox (${isolation.level}/${isolation.mechanism || 'none'}), ${RUNS} runs each:`,
)
console.log('| command | plain (median / p90) | sandboxed (median / p90) | added (median) | target |')
console.log('|---|---|---|---|---|')
for (const r of cliRows) {
  const added = median(r.sandboxed) - median(r.plain)
  console.log(
    `| ${r.name} | ${median(r.plain).toFixed(1)} / ${p90(r.plain).toFixed(1)} ms | ${median(r.sandboxed).toFixed(1)} / ${p90(r.sandboxed).toFixed(1)} ms | ${added.toFixed(1)} ms | <= 50 ms |`,
  )
}
