// The one static-file module the UI and the downloads share: each header rule on its own, against
// a real file (ETag, If-None-Match, Range and If-Range, Cache-Control, content types, HEAD).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contentTypeOf, etagOf, serveFile } from './static-file.ts'

const BODY = '0123456789abcdef'
let dir: string
let path: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'oa-static-'))
  path = join(dir, 'app.js')
  writeFileSync(path, BODY)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const serve = async (headers: Record<string, string> = {}, method = 'GET', extra = {}) => {
  const res = await serveFile(new Request('http://localhost/app.js', { method, headers }), {
    path,
    cacheControl: 'no-cache',
    ...extra,
  })
  if (!res) throw new Error('no response')
  return res
}

describe('serveFile', () => {
  test('a whole file: 200, its bytes, length, strong ETag from size and mtime, Last-Modified, Accept-Ranges', async () => {
    const res = await serve()
    const info = statSync(path)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(BODY)
    expect(res.headers.get('content-length')).toBe(String(BODY.length))
    expect(res.headers.get('etag')).toBe(etagOf(info.size, info.mtimeMs))
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/)
    expect(res.headers.get('last-modified')).toBe(info.mtime.toUTCString())
    expect(res.headers.get('accept-ranges')).toBe('bytes')
  })

  test('the ETag changes when the file is rebuilt', async () => {
    const before = (await serve()).headers.get('etag')
    const later = new Date(statSync(path).mtimeMs + 5000)
    utimesSync(path, later, later)
    expect((await serve()).headers.get('etag')).not.toBe(before)
  })

  test('If-None-Match: the ETag, a list holding it, its weak form or * answer 304 without a body', async () => {
    const etag = (await serve()).headers.get('etag')!
    for (const header of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
      const res = await serve({ 'if-none-match': header })
      expect(res.status).toBe(304)
      expect(await res.text()).toBe('')
      expect(res.headers.get('etag')).toBe(etag)
    }
    expect((await serve({ 'if-none-match': '"other"' })).status).toBe(200)
  })

  test('Range: one range is 206 with Content-Range; past the end is 416 naming the size', async () => {
    const part = await serve({ range: 'bytes=2-5' })
    expect(part.status).toBe(206)
    expect(await part.text()).toBe('2345')
    expect(part.headers.get('content-range')).toBe(`bytes 2-5/${BODY.length}`)
    expect(part.headers.get('content-length')).toBe('4')
    const suffix = await serve({ range: 'bytes=-3' })
    expect(await suffix.text()).toBe('def')
    const outside = await serve({ range: 'bytes=100-' })
    expect(outside.status).toBe(416)
    expect(outside.headers.get('content-range')).toBe(`bytes */${BODY.length}`)
  })

  test('If-Range: the current ETag allows the range, another one gets the whole file', async () => {
    const etag = (await serve()).headers.get('etag')!
    expect((await serve({ range: 'bytes=0-1', 'if-range': etag })).status).toBe(206)
    const stale = await serve({ range: 'bytes=0-1', 'if-range': '"stale"' })
    expect(stale.status).toBe(200)
    expect(await stale.text()).toBe(BODY)
  })

  test("Cache-Control is the caller's; the content type comes from the extension unless given", async () => {
    const forever = await serve({}, 'GET', { cacheControl: 'public, max-age=31536000, immutable' })
    expect(forever.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect((await serve()).headers.get('cache-control')).toBe('no-cache')
    expect((await serve()).headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const binary = await serve({}, 'GET', {
      contentType: 'application/octet-stream',
      attachmentName: 'agent',
    })
    expect(binary.headers.get('content-type')).toBe('application/octet-stream')
    expect(binary.headers.get('content-disposition')).toBe('attachment; filename="agent"')
    expect(contentTypeOf('/x/index.HTML')).toBe('text/html; charset=utf-8')
    expect(contentTypeOf('/x/agent-linux-x64')).toBe('application/octet-stream')
  })

  test('HEAD: the same headers and length, no body', async () => {
    const res = await serve({}, 'HEAD')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(BODY.length))
    expect(await res.text()).toBe('')
  })

  test('no such file, or a directory, is null (the caller words the 404)', async () => {
    const request = new Request('http://localhost/x')
    expect(await serveFile(request, { path: join(dir, 'missing'), cacheControl: 'no-cache' })).toBeNull()
    expect(await serveFile(request, { path: dir, cacheControl: 'no-cache' })).toBeNull()
  })
})
