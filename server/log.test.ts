import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ADMIN_PASSWORD, cookieFrom, startTestServer, type TestServer } from '../test/support/server.ts'
import { createLogger } from './log.ts'

describe('redaction', () => {
  test('secret-looking fields are redacted at any depth', () => {
    const lines: string[] = []
    const log = createLogger('debug', (l) => lines.push(l))
    log.info('x', {
      password: 'p1',
      nested: { api_key: 'k1', Authorization: 'Bearer t1', ok: 'visible' },
      list: [{ token: 't2' }],
    })
    const out = lines.join()
    for (const secret of ['p1', 'k1', 't1', 't2']) expect(out).not.toContain(secret)
    expect(out).toContain('visible')
  })

  test('the level threshold drops lower levels', () => {
    const lines: string[] = []
    const log = createLogger('warn', (l) => lines.push(l))
    log.info('hidden')
    log.warn('shown')
    expect(lines.length).toBe(1)
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', msg: 'shown' })
  })
})

describe('request logs of a real server', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ listen: true, env: { LOG_LEVEL: 'debug' } })
  })
  afterAll(() => server.stop())

  test('passwords and cookies never appear, query strings are not logged', async () => {
    const res = await server.request('/api/auth/login', {
      method: 'POST',
      json: { username: 'admin', password: ADMIN_PASSWORD },
    })
    const cookie = cookieFrom(res)
    await server.request('/api/auth/login', {
      method: 'POST',
      json: { username: 'admin', password: 'Wrong-Secret-42' },
    })
    await server.request('/api/auth/me?key=query-secret-77', { cookie })
    await server.request('/api/users', {
      method: 'POST',
      cookie,
      json: { username: 'logged', password: 'Created-Secret-99' },
    })
    await Bun.sleep(50)
    const all = server.logs.join('\n')
    expect(all).toContain('"path":"/api/auth/login"')
    expect(all).toContain('"path":"/api/auth/me"')
    const token = decodeURIComponent(cookie.split('=').slice(1).join('='))
    for (const secret of [
      ADMIN_PASSWORD,
      'Wrong-Secret-42',
      'Created-Secret-99',
      'query-secret-77',
      token,
      token.split('.')[0]!,
    ]) {
      expect(all).not.toContain(secret)
    }
  })
})
