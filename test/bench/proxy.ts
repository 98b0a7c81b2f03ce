// Benchmark of the LLM proxy's added cost, in one process tree: this process is the client; it
// spawns the fake upstream, the server (the real app), a bare Bun forwarder and (when the nginx
// binary is installed, e.g. Debian's nginx-light) an nginx reverse proxy on a loopback port with a
// temporary config, then measures every path against client -> fake (direct) in the same run.
//   bun test/bench/proxy.ts [--quick] [--profile=DIR]
// --profile=DIR runs the server under Bun's CPU profiler (--cpu-prof-md) and writes its profile
// (.cpuprofile and a Markdown summary) to DIR when the bench ends; only direct and our proxy are
// measured then, without the concurrent-streams run, so the profile shows the request path.
// Prints one table (our proxy twice: an unlimited user, and a user with quotas, whose every call
// reserves): latency p50/p99 at c=1 and what each path adds, streaming time to first
// chunk p99 and what it adds, req/s at c=64 and its ratio to direct; then how many concurrent
// streams our proxy held without a stall. The machine may be shared: compare within one run.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFakeLlm } from '../support/fake-llm.ts'

/** Bun's fetch allows 256 requests in flight by default; the stream test needs more, in every process. */
const MAX_HTTP_REQUESTS = '8192'
const QUICK = process.argv.includes('--quick')
const PROFILE_DIR = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length)
const LATENCY_REQUESTS = QUICK ? 1000 : 5000
const WARMUP_REQUESTS = 500
const THROUGHPUT_CONCURRENCY = 64
const THROUGHPUT_SECONDS = QUICK ? 2 : 4
const TTFT_REQUESTS = QUICK ? 300 : 1000
const STREAMS = QUICK ? 1000 : 2000
const STREAM_CHUNKS = 20
const STREAM_CHUNK_DELAY_MS = 100
/** A gap between chunks longer than this counts as a stall (chunks are sent every 100 ms). */
const STALL_MS = 1000

async function runFake() {
  const fast = await startFakeLlm({ reply: 'ok', chunks: 3 })
  const slow = await startFakeLlm({
    reply: 'x'.repeat(STREAM_CHUNKS),
    chunks: STREAM_CHUNKS,
    chunkDelayMs: STREAM_CHUNK_DELAY_MS,
  })
  // Recording every request would grow without bound over a benchmark run.
  setInterval(() => {
    fast.requests.length = 0
    slow.requests.length = 0
  }, 1000)
  console.log(JSON.stringify({ fast: fast.url, slow: slow.url }))
}

async function runServer() {
  const { createUser, startTestServer } = await import('../support/server.ts')
  const { proxyTokenFor, storeKey } = await import('../support/llm-proxy.ts')
  const [fast, slow] = process.argv.slice(-2) as [string, string]
  const server = await startTestServer({ listen: true, env: { LOG_LEVEL: 'info' } })
  server.logs.push = () => 0
  const admin = await server.login()
  await storeKey(server, admin, {
    provider: 'openai',
    key_name: 'bench',
    api_key: 'sk-bench-key-0000',
    base_url: `${fast}/v1`,
  })
  await storeKey(server, admin, {
    provider: 'anthropic',
    key_name: 'bench',
    api_key: 'sk-ant-bench-0000',
    base_url: slow,
  })
  const openai = await proxyTokenFor(server, 1, { provider: 'openai' })
  const anthropic = await proxyTokenFor(server, 1, { provider: 'anthropic' })
  // A user with token and request limits far above what the bench uses: every call reserves.
  const limitedUser = await createUser(server, admin, 'bench-limited')
  const quota = await server.request(`/api/quotas/users/${limitedUser.id}`, {
    method: 'PUT',
    cookie: admin,
    json: { daily_token_limit: 1_000_000_000_000, daily_request_limit: 1_000_000_000 },
  })
  if (quota.status !== 200) throw new Error(`bench quota: ${quota.status} ${await quota.text()}`)
  const limited = await proxyTokenFor(server, limitedUser.id, { provider: 'openai' })
  // A profiled server must exit normally for Bun to write its profile.
  process.on('SIGTERM', () => void server.stop().finally(() => process.exit(0)))
  console.log(
    JSON.stringify({
      url: server.url,
      openai: openai.token,
      limited: limited.token,
      anthropic: anthropic.token,
    }),
  )
}

/** The 30-line proxy the issue compares against: fetch upstream, stream the answer back. */
async function runForwarder() {
  const upstream = process.argv.at(-1)!
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url)
      const headers = new Headers(req.headers)
      headers.delete('host')
      const res = await fetch(`${upstream}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body: req.body,
      })
      const out = new Headers(res.headers)
      out.delete('content-encoding')
      out.delete('content-length')
      return new Response(res.body, { status: res.status, headers: out })
    },
  })
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.port}` }))
}

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p))

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}

/** nginx as a keep-alive reverse proxy to the fake, unbuffered (as for SSE), in a temp prefix. */
async function startNginx(upstream: string) {
  if (!NGINX) return null
  const dir = mkdtempSync(join(tmpdir(), 'oa-bench-nginx-'))
  const port = await freePort()
  const target = new URL(upstream)
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream fake { server ${target.host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`,
  )
  const proc = Bun.spawn([NGINX, '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/v1/models`)
      return { url, proc, dir }
    } catch {
      await Bun.sleep(50)
    }
  }
  proc.kill()
  rmSync(dir, { recursive: true, force: true })
  return null
}

async function spawnRole(name: string, args: string[] = [], runtimeFlags: string[] = []) {
  const proc = Bun.spawn([process.execPath, ...runtimeFlags, import.meta.path, `--role=${name}`, ...args], {
    env: process.env,
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const reader = proc.stdout.getReader()
  let text = ''
  while (!text.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`${name} exited before it was ready`)
    text += new TextDecoder().decode(value)
  }
  return { proc, info: JSON.parse(text.split('\n')[0]!) }
}

const CHAT_BODY = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hello' }] })
const STREAM_BODY = JSON.stringify({
  model: 'bench',
  stream: true,
  messages: [{ role: 'user', content: 'hello' }],
})

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
}
const us = (ms: number) => `${Math.round(ms * 1000)} µs`

async function latencies(url: string, headers: Record<string, string>, count: number) {
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const res = await fetch(url, { method: 'POST', headers, body: CHAT_BODY })
    await res.arrayBuffer()
    out.push(performance.now() - t0)
  }
  return out.sort((a, b) => a - b)
}

async function throughput(url: string, headers: Record<string, string>) {
  let done = 0
  let failed = 0
  const end = performance.now() + THROUGHPUT_SECONDS * 1000
  const worker = async () => {
    while (performance.now() < end) {
      const res = await fetch(url, { method: 'POST', headers, body: CHAT_BODY })
      await res.arrayBuffer()
      if (res.status === 200) done++
      else failed++
    }
  }
  await Promise.all(Array.from({ length: THROUGHPUT_CONCURRENCY }, worker))
  return { rps: done / THROUGHPUT_SECONDS, failed }
}

async function ttft(url: string, headers: Record<string, string>) {
  const out: number[] = []
  for (let i = 0; i < TTFT_REQUESTS; i++) {
    const t0 = performance.now()
    const res = await fetch(url, { method: 'POST', headers, body: STREAM_BODY })
    const reader = res.body!.getReader()
    await reader.read()
    out.push(performance.now() - t0)
    while (!(await reader.read()).done) {}
  }
  return out.sort((a, b) => a - b)
}

/** Opens `count` slow streams at once; a stream is held if every chunk came within STALL_MS of the last. */
async function concurrentStreams(url: string, headers: Record<string, string>, count: number) {
  const body = JSON.stringify({ model: 'bench', max_tokens: 5, stream: true, messages: [] })
  const one = async () => {
    try {
      const res = await fetch(url, { method: 'POST', headers, body })
      if (res.status !== 200) return false
      const reader = res.body!.getReader()
      let last = performance.now()
      let worst = 0
      let text = ''
      for (;;) {
        const { value, done } = await reader.read()
        const now = performance.now()
        worst = Math.max(worst, now - last)
        last = now
        if (done) break
        text += new TextDecoder().decode(value)
      }
      return worst < STALL_MS && text.includes('message_stop')
    } catch {
      return false
    }
  }
  const results = await Promise.all(Array.from({ length: count }, one))
  return results.filter(Boolean).length
}

interface PathResult {
  name: string
  c1: number[]
  ttft: number[]
  rps: number
  failed: number
}

async function measure(name: string, base: string, headers: Record<string, string>): Promise<PathResult> {
  const url = `${base}/v1/chat/completions`
  await latencies(url, headers, WARMUP_REQUESTS)
  const c1 = await latencies(url, headers, LATENCY_REQUESTS)
  const t = await throughput(url, headers)
  const first = await ttft(url, headers)
  return { name, c1, ttft: first, rps: t.rps, failed: t.failed }
}

function table(results: PathResult[]) {
  const direct = results[0]!
  const rows = [
    [
      'path',
      'p50',
      'p99',
      'added p50',
      'added p99',
      'TTFT p99',
      'added TTFT p99',
      `req/s c=${THROUGHPUT_CONCURRENCY}`,
      'vs direct',
    ],
  ]
  for (const r of results) {
    const first = r === direct
    rows.push([
      r.name,
      us(percentile(r.c1, 50)),
      us(percentile(r.c1, 99)),
      first ? '—' : us(percentile(r.c1, 50) - percentile(direct.c1, 50)),
      first ? '—' : us(percentile(r.c1, 99) - percentile(direct.c1, 99)),
      us(percentile(r.ttft, 99)),
      first ? '—' : us(percentile(r.ttft, 99) - percentile(direct.ttft, 99)),
      `${Math.round(r.rps)}${r.failed ? ` (${r.failed} failed)` : ''}`,
      `${(r.rps / direct.rps).toFixed(2)}×`,
    ])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log(line(rows[0]!))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const row of rows.slice(1)) console.log(line(row))
}

async function runClient() {
  const fake = await spawnRole('fake')
  const profile = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${PROFILE_DIR}`] : []
  const server = await spawnRole('server', [fake.info.fast, fake.info.slow], profile)
  const forwarder = await spawnRole('forwarder', [fake.info.fast])
  const nginx = await startNginx(fake.info.fast)
  try {
    const json = { 'content-type': 'application/json' }
    const directHeaders = { ...json, authorization: 'Bearer sk-direct' }
    const proxyHeaders = { ...json, authorization: `Bearer ${server.info.openai}` }
    console.log(
      `LLM proxy benchmark: c=1 over ${LATENCY_REQUESTS} requests, c=${THROUGHPUT_CONCURRENCY} for ${THROUGHPUT_SECONDS} s, TTFT over ${TTFT_REQUESTS} streams${NGINX ? '' : ' (nginx not installed: its row is missing)'}`,
    )
    const results = [await measure('direct', fake.info.fast, directHeaders)]
    if (nginx && !PROFILE_DIR) results.push(await measure('nginx', nginx.url, directHeaders))
    if (!PROFILE_DIR) results.push(await measure('bare Bun forwarder', forwarder.info.url, directHeaders))
    const proxyBase = `${server.info.url}/api/remote/llm-proxy`
    results.push(await measure('our proxy', proxyBase, proxyHeaders))
    const limitedHeaders = { ...json, authorization: `Bearer ${server.info.limited}` }
    results.push(await measure('our proxy, user with a quota', proxyBase, limitedHeaders))
    table(results)
    if (PROFILE_DIR) return

    const streamsUrl = `${server.info.url}/api/remote/llm-proxy/v1/messages`
    const held = await concurrentStreams(streamsUrl, { ...json, 'x-api-key': server.info.anthropic }, STREAMS)
    console.log(
      `concurrent streams through our proxy: ${held} of ${STREAMS} held without a stall (${STREAM_CHUNKS} chunks every ${STREAM_CHUNK_DELAY_MS} ms each)`,
    )
  } finally {
    for (const p of [server.proc, fake.proc, forwarder.proc, nginx?.proc]) p?.kill()
    await Promise.all([server.proc.exited, fake.proc.exited, forwarder.proc.exited, nginx?.proc.exited])
    if (nginx) rmSync(nginx.dir, { recursive: true, force: true })
    if (PROFILE_DIR) console.log(`server CPU profile written to ${PROFILE_DIR}`)
  }
}

const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7)
if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  // Re-run with the fetch limit raised: it is read once when Bun starts.
  const child = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: MAX_HTTP_REQUESTS },
    stdio: ['inherit', 'inherit', 'inherit'],
  })
  process.exit(await child.exited)
} else if (role === 'fake') await runFake()
else if (role === 'server') await runServer()
else if (role === 'forwarder') await runForwarder()
else await runClient()
