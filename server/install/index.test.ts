// The install endpoints over HTTP: scripts with their content types, agent files with
// Content-Length, ETag, 304, Range (206/416), the allow-list, and the "not built" 404.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '../../test/support/server.ts'

const BINARY = 'open-ace-agent-linux-x64'
const distDir = mkdtempSync(join(tmpdir(), 'oa-dist-'))
const content = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251))
let server: TestServer

beforeAll(async () => {
  writeFileSync(join(distDir, BINARY), content)
  writeFileSync(
    join(distDir, 'SHA256SUMS'),
    `${createHash('sha256').update(content).digest('hex')}  ${BINARY}\n`,
  )
  // listen: Content-Length must survive a real socket, not only app.handle.
  server = await startTestServer({ listen: true, env: { AGENT_DIST_DIR: distDir } })
})

afterAll(async () => {
  await server.stop()
  rmSync(distDir, { recursive: true, force: true })
})

const file = (name: string, headers: Record<string, string> = {}, method = 'GET') =>
  server.request(`/api/remote/agent/files/${name}`, { method, headers })

describe('install scripts', () => {
  test.each([
    ['install.sh', 'text/x-shellscript; charset=utf-8'],
    ['uninstall.sh', 'text/x-shellscript; charset=utf-8'],
    ['install.ps1', 'text/plain; charset=utf-8'],
    ['uninstall.ps1', 'text/plain; charset=utf-8'],
  ])('%s is served from install/ as %s', async (name, type) => {
    const res = await server.request(`/api/remote/agent/${name}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(type)
    const onDisk = readFileSync(new URL(`../../install/${name}`, import.meta.url), 'utf8')
    expect(await res.text()).toBe(onDisk)
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(onDisk)))
  })
})

describe('agent files', () => {
  test('a binary comes whole with Content-Length, ETag and Accept-Ranges', async () => {
    const res = await file(BINARY)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    expect(res.headers.get('content-length')).toBe('5000')
    expect(res.headers.get('accept-ranges')).toBe('bytes')
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/)
    expect(Buffer.from(await res.arrayBuffer()).equals(content)).toBe(true)
  })

  test('SHA256SUMS is plain text listing the binary', async () => {
    const res = await file('SHA256SUMS')
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(await res.text()).toContain(`  ${BINARY}`)
  })

  test('If-None-Match with the current ETag answers 304 without a body', async () => {
    const etag = (await file(BINARY)).headers.get('etag')!
    const res = await file(BINARY, { 'if-none-match': etag })
    expect(res.status).toBe(304)
    expect((await res.arrayBuffer()).byteLength).toBe(0)
    expect((await file(BINARY, { 'if-none-match': '"other"' })).status).toBe(200)
  })

  test('a resumed download gets exactly the missing bytes (206)', async () => {
    const res = await file(BINARY, { range: 'bytes=4000-' })
    expect(res.status).toBe(206)
    expect(res.headers.get('content-range')).toBe('bytes 4000-4999/5000')
    expect(res.headers.get('content-length')).toBe('1000')
    expect(Buffer.from(await res.arrayBuffer()).equals(content.subarray(4000))).toBe(true)
    const suffix = await file(BINARY, { range: 'bytes=-10' })
    expect(Buffer.from(await suffix.arrayBuffer()).equals(content.subarray(4990))).toBe(true)
  })

  test('a range past the end is 416 with the size; a stale If-Range gets the whole file', async () => {
    const res = await file(BINARY, { range: 'bytes=5000-' })
    expect(res.status).toBe(416)
    expect(res.headers.get('content-range')).toBe('bytes */5000')
    const stale = await file(BINARY, { range: 'bytes=0-9', 'if-range': '"stale"' })
    expect(stale.status).toBe(200)
    expect(stale.headers.get('content-length')).toBe('5000')
  })

  test('HEAD gives the headers only', async () => {
    const res = await file(BINARY, {}, 'HEAD')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe('5000')
    expect((await res.arrayBuffer()).byteLength).toBe(0)
  })

  test('a name outside the allow-list is 404, whatever it points at', async () => {
    for (const name of [
      'package.json',
      '..%2F..%2Fpackage.json',
      'open-ace-agent-linux-x86',
      '.build-info.json',
    ]) {
      const res = await file(name)
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('not_found')
    }
  })

  test('an allowed binary that was not built says how to build it', async () => {
    const res = await file('open-ace-agent-darwin-arm64')
    expect(res.status).toBe(404)
    const body = (await res.json()) as { error: { message: string; type: string } }
    expect(body.error.type).toBe('agent_not_built')
    expect(body.error.message).toContain('bun run build:agent')
  })
})

describe('agent self-service', () => {
  test('status and deregister refuse a missing or unknown agent token with 401', async () => {
    for (const [method, path] of [
      ['GET', '/api/remote/agent/status'],
      ['POST', '/api/remote/agent/deregister'],
    ] as const) {
      expect((await server.request(path, { method })).status).toBe(401)
      const res = await server.request(path, { method, headers: { authorization: 'Bearer nope' } })
      expect(res.status).toBe(401)
      expect(((await res.json()) as { goodbye: { reason: string } }).goodbye.reason).toBe('invalid_token')
    }
  })
})
