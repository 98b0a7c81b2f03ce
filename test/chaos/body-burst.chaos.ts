// Bounded load: the body burst that took the server from 393 MB to 4.6 GB. Eight clients at
// once each send 100 MB to POST /api/remote/agent/register, half with a declared
// Content-Length, half chunked with none, over raw sockets so the test itself holds nothing.
// During the burst the server's RSS is sampled and /api/health is timed; the server must stay
// within 100 MB of its idle RSS and keep answering health checks quickly.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type ServerProcess, spawnServer } from '../support/process.ts'
import { MB, percentile, probeHealth, rssBytes } from './load.ts'

const CLIENTS = 8
const BODY_BYTES = 100 * MB
const CHUNK = new Uint8Array(256 * 1024).fill(0x61)

let server: ServerProcess

beforeAll(async () => {
  server = await spawnServer()
})
afterAll(async () => {
  await server?.stop()
})

/** Sends one oversized body; resolves with the status line the server answered (or 'closed'). */
function sendBody(port: number, chunked: boolean): Promise<string> {
  return new Promise((resolve) => {
    let sent = 0
    let answer = ''
    let done = false
    let pump = () => {}
    const finish = (value: string) => {
      if (!done) {
        done = true
        resolve(value)
      }
    }
    void Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        open(socket) {
          const length = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${BODY_BYTES}`
          const prefix = '{"registration_token":"'
          socket.write(
            `POST /api/remote/agent/register HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
              `Content-Type: application/json\r\n${length}\r\n\r\n` +
              (chunked ? `${prefix.length.toString(16)}\r\n${prefix}\r\n` : prefix),
          )
          pump = () => {
            while (!done && sent < BODY_BYTES) {
              const frame = chunked
                ? Buffer.concat([
                    Buffer.from(`${CHUNK.byteLength.toString(16)}\r\n`),
                    CHUNK,
                    Buffer.from('\r\n'),
                  ])
                : CHUNK
              const written = socket.write(frame)
              if (written < frame.byteLength) return // wait for drain
              sent += CHUNK.byteLength
            }
            if (!done && chunked) socket.write('0\r\n\r\n')
          }
          pump()
        },
        drain() {
          pump()
        },
        data(socket, data) {
          answer += Buffer.from(data).toString()
          const line = answer.split('\r\n')[0]
          if (line) {
            finish(line)
            socket.end()
          }
        },
        close() {
          finish(answer.split('\r\n')[0] || 'closed')
        },
        error() {
          finish('error')
        },
      },
    }).catch(() => finish('error'))
  })
}

describe('body burst', () => {
  test('eight concurrent 100 MB bodies: RSS stays within 100 MB of idle, health stays fast', async () => {
    const pid = server.proc.pid
    // Warm up, then take the idle baselines.
    const idleProbe = probeHealth(server.url)
    await Bun.sleep(3000)
    const idleLatencies = await idleProbe.stop()
    const idleRss = rssBytes(pid)

    let peakRss = idleRss
    let bursting = true
    const sampler = (async () => {
      while (bursting) {
        peakRss = Math.max(peakRss, rssBytes(pid))
        await Bun.sleep(25)
      }
    })()
    const burstProbe = probeHealth(server.url)
    await Bun.sleep(300)
    const started = performance.now()
    const answers = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => sendBody(server.port, i % 2 === 1)),
    )
    const burstMs = performance.now() - started
    // Keep sampling a little after the last answer: memory freed late would show here.
    await Bun.sleep(1000)
    bursting = false
    await sampler
    const burstLatencies = await burstProbe.stop()
    const afterRss = rssBytes(pid)

    const rows = [
      ['idle RSS', `${(idleRss / MB).toFixed(1)} MB`],
      ['peak RSS during burst', `${(peakRss / MB).toFixed(1)} MB`],
      ['RSS after burst', `${(afterRss / MB).toFixed(1)} MB`],
      [
        'health p50 / p99 idle',
        `${percentile(idleLatencies, 50).toFixed(1)} / ${percentile(idleLatencies, 99).toFixed(1)} ms`,
      ],
      [
        'health p50 / p99 burst',
        `${percentile(burstLatencies, 50).toFixed(1)} / ${percentile(burstLatencies, 99).toFixed(1)} ms (${burstLatencies.length} checks)`,
      ],
      ['burst duration', `${burstMs.toFixed(0)} ms`],
      ['answers', [...new Set(answers)].join(', ')],
    ]
    console.log(`\nbody burst: ${CLIENTS} x ${BODY_BYTES / MB} MB to /api/remote/agent/register`)
    for (const [k, v] of rows) console.log(`  ${k!.padEnd(24)} ${v}`)

    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 413|^closed$/)
    expect(answers.some((a) => a.startsWith('HTTP/1.1 413'))).toBe(true)
    expect(peakRss - idleRss).toBeLessThan(100 * MB)
    // The target is 50 ms (printed above). Buffered bodies took health to seconds (8.4 s); on a
    // loaded CI machine one stalled check among ~90 already passes 50, so the assertion guards
    // the failure mode: well under a quarter second, or 3x the idle p99 on a machine that slow.
    expect(percentile(burstLatencies, 99)).toBeLessThan(Math.max(250, 3 * percentile(idleLatencies, 99)))
  }, 120_000)
})
