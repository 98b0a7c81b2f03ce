// Authentication comes before validation on every authenticated route: a caller without valid
// credentials gets 401 whatever it sends, never a 400 that describes the route's schema.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { AGENT_MESSAGE_PATH } from '../../protocol/index.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer

/** Routes anyone may call: they validate first because there is nothing to authenticate. */
const PUBLIC_ROUTES = new Set([
  'POST /api/auth/login',
  'POST /api/auth/logout',
  'POST /api/remote/agent/register',
])

beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.stop())

const concrete = (path: string) =>
  path
    .replace(/:id|:machineId|:sessionId/g, '00000000-0000-4000-8000-000000000000')
    .replace(/:[A-Za-z_]+/g, '1')
    .replace(/\*$/, 'x')

describe('authentication before validation', () => {
  test('a wrong agent bearer with {} on the long-poll is 401, not 400', async () => {
    const res = await server.request(AGENT_MESSAGE_PATH, {
      method: 'POST',
      headers: { authorization: 'Bearer not-a-token' },
      json: {},
    })
    expect(res.status).toBe(401)
  })

  test('every state-changing route that needs credentials answers 401 to {} without them', async () => {
    const checked: string[] = []
    const wrong: string[] = []
    for (const route of server.app.routes) {
      if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method)) continue
      const key = `${route.method} ${route.path}`
      if (PUBLIC_ROUTES.has(key) || route.path.startsWith('/api/remote/llm-proxy')) continue
      const res = await server.request(concrete(route.path), {
        method: route.method,
        headers: { authorization: 'Bearer not-a-token', cookie: 'openace_session=not-a-session' },
        json: {},
      })
      checked.push(key)
      if (res.status !== 401) wrong.push(`${key} -> ${res.status}`)
    }
    expect(checked.length).toBeGreaterThan(20)
    expect(wrong).toEqual([])
  })
})
