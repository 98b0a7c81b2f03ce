// Benchmark of the LLM proxy's added cost, in one process tree: this process is the client; it
// spawns the fake upstream and the server (the real app) as children, then measures
// client -> fake (baseline) against client -> proxy -> fake in the same run.
//   bun test/bench/proxy.ts [--quick]
// Prints: added latency p50/p99 at c=1, req/s at c=64, streaming time-to-first-token overhead,
// and how many concurrent streams were held without a stall.
import { startFakeLlm } from '../support/fake-llm.ts'

/** Bun's fetch allows 256 requests in flight by default; the stream test needs more, in every process. */
const MAX_HTTP_REQUESTS = '8192'
const QUICK = process.argv.includes('--quick')
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
  const { startTestServer } = await import('../support/server.ts')
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
  console.log(JSON.stringify({ url: server.url, openai: openai.token, anthropic: anthropic.token }))
}

async function spawnRole(name: string, args: string[] = []) {
  const proc = Bun.spawn([process.execPath, import.meta.path, `--role=${name}`, ...args], {
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

async function runClient() {
  const fake = await spawnRole('fake')
  const server = await spawnRole('server', [fake.info.fast, fake.info.slow])
  try {
    const direct = `${fake.info.fast}/v1/chat/completions`
    const proxied = `${server.info.url}/api/remote/llm-proxy/v1/chat/completions`
    const json = { 'content-type': 'application/json' }
    const directHeaders = { ...json, authorization: 'Bearer sk-direct' }
    const proxyHeaders = { ...json, authorization: `Bearer ${server.info.openai}` }
    await latencies(direct, directHeaders, WARMUP_REQUESTS)
    await latencies(proxied, proxyHeaders, WARMUP_REQUESTS)

    const d = await latencies(direct, directHeaders, LATENCY_REQUESTS)
    const p = await latencies(proxied, proxyHeaders, LATENCY_REQUESTS)
    console.log(`c=1 latency over ${LATENCY_REQUESTS} requests`)
    console.log(`  direct  p50 ${us(percentile(d, 50))}  p99 ${us(percentile(d, 99))}`)
    console.log(`  proxied p50 ${us(percentile(p, 50))}  p99 ${us(percentile(p, 99))}`)
    console.log(
      `  added   p50 ${us(percentile(p, 50) - percentile(d, 50))}  p99 ${us(percentile(p, 99) - percentile(d, 99))}`,
    )

    const td = await throughput(direct, directHeaders)
    const tp = await throughput(proxied, proxyHeaders)
    console.log(`c=${THROUGHPUT_CONCURRENCY} throughput over ${THROUGHPUT_SECONDS} s`)
    console.log(`  direct  ${Math.round(td.rps)} req/s (${td.failed} failed)`)
    console.log(`  proxied ${Math.round(tp.rps)} req/s (${tp.failed} failed)`)

    const sd = await ttft(direct, directHeaders)
    const sp = await ttft(proxied, proxyHeaders)
    console.log(`streaming time to first chunk over ${TTFT_REQUESTS} streams`)
    console.log(`  direct  p50 ${us(percentile(sd, 50))}  p99 ${us(percentile(sd, 99))}`)
    console.log(`  proxied p50 ${us(percentile(sp, 50))}  p99 ${us(percentile(sp, 99))}`)
    console.log(`  added   p50 ${us(percentile(sp, 50) - percentile(sd, 50))}`)

    const streamsUrl = `${server.info.url}/api/remote/llm-proxy/v1/messages`
    const held = await concurrentStreams(streamsUrl, { ...json, 'x-api-key': server.info.anthropic }, STREAMS)
    console.log(
      `concurrent streams: ${held} of ${STREAMS} held without a stall (${STREAM_CHUNKS} chunks every ${STREAM_CHUNK_DELAY_MS} ms each)`,
    )
  } finally {
    server.proc.kill()
    fake.proc.kill()
    await Promise.all([server.proc.exited, fake.proc.exited])
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
else await runClient()
