// The UI server: files with content types and cache policy, SPA fallback, JSON 404s under /api,
// path traversal refused, and the "not built" page when there is no build.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Elysia } from 'elysia'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { httpBase } from '../http/index.ts'
import { uiRoutes } from './index.ts'
import { IMMUTABLE_CACHE } from './static.ts'

const INDEX = '<!doctype html><title>spa</title>'
let server: TestServer
let buildDir: string

function appFor(dir: string) {
  return new Elysia().use(httpBase(server.ctx)).use(uiRoutes(server.ctx, { dir }))
}
const get = (app: ReturnType<typeof appFor>, path: string, headers?: Record<string, string>) =>
  app.handle(new Request(`http://localhost${path}`, { headers }))

beforeAll(async () => {
  server = await startTestServer()
  buildDir = mkdtempSync(join(tmpdir(), 'oa-ui-'))
  mkdirSync(join(buildDir, '_app/immutable/entry'), { recursive: true })
  writeFileSync(join(buildDir, 'index.html'), INDEX)
  writeFileSync(join(buildDir, 'favicon.svg'), '<svg/>')
  writeFileSync(join(buildDir, '_app/immutable/entry/app.abc123.js'), 'export {}')
  writeFileSync(join(buildDir, '_app/version.json'), '{"version":"1"}')
})

afterAll(async () => {
  await server.stop()
  rmSync(buildDir, { recursive: true, force: true })
})

describe('ui server', () => {
  test('hashed bundles are served with their type and cached forever', async () => {
    const res = await get(appFor(buildDir), '/_app/immutable/entry/app.abc123.js')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe(IMMUTABLE_CACHE)
    expect(await res.text()).toBe('export {}')
  })

  test('other files revalidate, and a matching ETag answers 304', async () => {
    const app = appFor(buildDir)
    const res = await get(app, '/favicon.svg')
    expect(res.headers.get('content-type')).toBe('image/svg+xml')
    expect(res.headers.get('cache-control')).toBe('no-cache')
    const again = await get(app, '/favicon.svg', { 'if-none-match': res.headers.get('etag')! })
    expect(again.status).toBe(304)
  })

  test('UI files follow the same rules as downloads: weak If-None-Match, Range, HEAD', async () => {
    const app = appFor(buildDir)
    const etag = (await get(app, '/favicon.svg')).headers.get('etag')!
    expect((await get(app, '/favicon.svg', { 'if-none-match': `W/${etag}` })).status).toBe(304)
    const part = await get(app, '/favicon.svg', { range: 'bytes=0-3' })
    expect(part.status).toBe(206)
    expect(await part.text()).toBe('<svg')
    const head = await app.handle(new Request('http://localhost/favicon.svg', { method: 'HEAD' }))
    expect(head.status).toBe(200)
    expect(head.headers.get('etag')).toBe(etag)
    expect(await head.text()).toBe('')
  })

  test('page paths fall back to index.html', async () => {
    for (const path of ['/', '/workspace', '/manage/remote/machines']) {
      const res = await get(appFor(buildDir), path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(await res.text()).toBe(INDEX)
    }
  })

  test('unknown /api paths and missing bundles stay 404, /api as JSON', async () => {
    const app = appFor(buildDir)
    const api = await get(app, '/api/nope')
    expect(api.status).toBe(404)
    expect(await api.json()).toEqual({ error: { message: 'No route for GET /api/nope', type: 'not_found' } })
    expect((await get(app, '/_app/immutable/missing.js')).status).toBe(404)
  })

  test('paths escaping the build folder are refused', async () => {
    const res = await get(appFor(buildDir), '/..%2F..%2Fetc%2Fpasswd')
    expect(res.status).toBe(400)
  })

  test('without a build, pages explain how to build the UI', async () => {
    const res = await get(appFor(join(buildDir, 'absent')), '/workspace')
    expect(res.status).toBe(503)
    expect(await res.text()).toContain('bun run build:ui')
  })

  test('the real app keeps API routes and JSON 404s ahead of the UI', async () => {
    expect((await server.request('/api/health')).status).toBe(200)
    const res = await server.request('/api/does-not-exist')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toContain('application/json')
  })
})

describe('ui content security policy', () => {
  test("pages carry the build's own policy as a header, never framed", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-ui-csp-'))
    try {
      const policy = "default-src 'self'; script-src 'self' 'sha256-abc='; img-src 'self' data:"
      writeFileSync(
        join(dir, 'index.html'),
        `<!doctype html><head><meta http-equiv="content-security-policy" content="${policy}"></head>`,
      )
      const res = await get(appFor(dir), '/workspace')
      expect(res.headers.get('content-security-policy')).toBe(`${policy}; frame-ancestors 'none'`)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a build without a policy still gets a same-origin-only one', async () => {
    const res = await get(appFor(buildDir), '/')
    const policy = res.headers.get('content-security-policy') ?? ''
    expect(policy).toContain("script-src 'self';")
    expect(policy).toContain("img-src 'self' data:")
  })
})
