// Resumable downloads against the server's real agent-files route (ETag, Range, If-Range): a
// cut transfer resumes with only the missing bytes, a leftover from another build of the file
// is replaced whole, and the SHA-256 of the result is the file's.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { downloadResumable, sha256File } from './download.ts'

const NAME = 'open-ace-agent-linux-x64'
const dist = mkdtempSync(join(tmpdir(), 'oa-dl-dist-'))
const work = mkdtempSync(join(tmpdir(), 'oa-dl-'))
const content = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256))
let server: TestServer
let url: string

beforeAll(async () => {
  writeFileSync(join(dist, NAME), content)
  server = await startTestServer({ listen: true, env: { AGENT_DIST_DIR: dist } })
  url = `${server.url}/api/remote/agent/files/${NAME}`
}, 60_000)
afterAll(async () => {
  await server.stop()
  rmSync(dist, { recursive: true, force: true })
  rmSync(work, { recursive: true, force: true })
}, 60_000)

/**
 * fetch that records what was asked and received; `cutAfter` ends the first body early: once
 * the downloader has read that many bytes, its next read fails as a reset connection would.
 * `part` is the downloader's partial file: its size when each request is made is recorded.
 */
function recordingFetch(cutAfter?: number, part?: string) {
  const calls: { range: string | null; status: number; bytes: number; partBytes: number }[] = []
  const wrapped = (async (input: string | URL | Request, init?: RequestInit) => {
    const partBytes = part && existsSync(part) ? statSync(part).size : 0
    const res = await fetch(input, init)
    const call = { range: new Headers(init?.headers).get('range'), status: res.status, bytes: 0, partBytes }
    calls.push(call)
    const cut = calls.length === 1 ? cutAfter : undefined
    const reader = res.body!.getReader()
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        // Asked for more after the cut: everything before it was read, so the reset comes now.
        if (cut !== undefined && call.bytes >= cut) {
          await reader.cancel()
          return controller.error(new Error('connection reset'))
        }
        const r = await reader.read()
        if (r.done) return controller.close()
        let chunk = r.value
        if (cut !== undefined && call.bytes + chunk.byteLength > cut)
          chunk = chunk.subarray(0, cut - call.bytes)
        call.bytes += chunk.byteLength
        controller.enqueue(chunk)
      },
    })
    return new Response(body, { status: res.status, headers: res.headers })
  }) as typeof fetch
  return { fetch: wrapped, calls }
}

describe('downloadResumable', () => {
  test('a transfer cut half way resumes with only the missing bytes', async () => {
    const dest = join(work, 'a')
    const { fetch, calls } = recordingFetch(100_000, `${dest}.part`)
    await downloadResumable(url, dest, { fetch })
    expect(readFileSync(dest).equals(content)).toBe(true)
    expect(calls.map((c) => c.status)).toEqual([200, 206])
    // The resumed request asks from what the downloader had written when the transfer was cut.
    const written = calls[1]!.partBytes
    expect(written).toBeGreaterThan(0)
    expect(written).toBeLessThanOrEqual(100_000)
    expect(calls[1]!.range).toBe(`bytes=${written}-`)
    expect(written + calls[1]!.bytes).toBe(content.length)
    expect(existsSync(`${dest}.part`)).toBe(false)
    expect(await sha256File(dest)).toBe(createHash('sha256').update(content).digest('hex'))
  })

  test('a leftover part from another build of the file (stale ETag) is replaced by the whole file', async () => {
    const dest = join(work, 'b')
    writeFileSync(`${dest}.part`, Buffer.alloc(1000, 1))
    writeFileSync(`${dest}.part.json`, JSON.stringify({ url, etag: '"not-this-build"' }))
    const { fetch, calls } = recordingFetch()
    await downloadResumable(url, dest, { fetch })
    expect(calls.map((c) => c.status)).toEqual([200])
    expect(readFileSync(dest).equals(content)).toBe(true)
    expect(statSync(dest).size).toBe(content.length)
  })

  test('a part of another URL is not resumed; a server error is the error', async () => {
    const dest = join(work, 'c')
    writeFileSync(`${dest}.part`, Buffer.alloc(1000, 1))
    writeFileSync(`${dest}.part.json`, JSON.stringify({ url: 'http://elsewhere/x' }))
    const { fetch, calls } = recordingFetch()
    await downloadResumable(url, dest, { fetch })
    expect(calls[0]!.range).toBeNull()
    expect(readFileSync(dest).equals(content)).toBe(true)
    const missing = `${server.url}/api/remote/agent/files/open-ace-agent-darwin-arm64`
    await expect(downloadResumable(missing, join(work, 'd'), { attempts: 1 })).rejects.toThrow(/answered 404/)
  })
})
