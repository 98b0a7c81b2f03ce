// The OpenAPI document (/api/docs/json) is complete when every operation declares a response
// schema for its success status. Operations that do not yet are listed here by name (#19 item 6):
// a new route without one fails, and so does a listed route that gained one (take it off), so the
// list only shrinks.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { DOCS_SPEC_PATH } from './index.ts'

const STILL_WITHOUT_RESPONSE_SCHEMA = new Set([
  'TRACE /api/remote/llm-proxy',
  'TRACE /api/remote/llm-proxy/*',
  'WS /api/remote/agent/ws',
  'WS /api/remote/terminals/{id}/ws',
  'DELETE /api/remote/llm-proxy',
  'DELETE /api/remote/llm-proxy/*',
  'GET /api/auth/oidc/callback',
  'GET /api/auth/oidc/login',
  'GET /api/remote/agent/files/{name}',
  'GET /api/remote/agent/status',
  'GET /api/remote/agent/ws',
  'GET /api/remote/api-keys/health',
  'GET /api/remote/llm-proxy',
  'GET /api/remote/llm-proxy/*',
  'GET /api/remote/models',
  'HEAD /api/remote/llm-proxy',
  'HEAD /api/remote/llm-proxy/*',
  'OPTIONS /api/remote/llm-proxy',
  'OPTIONS /api/remote/llm-proxy/*',
  'PATCH /api/remote/llm-proxy',
  'PATCH /api/remote/llm-proxy/*',
  'POST /api/remote/agent/deregister',
  'POST /api/remote/agent/message',
  'POST /api/remote/agent/register',
  'POST /api/remote/llm-proxy',
  'POST /api/remote/llm-proxy/*',
  'PUT /api/remote/llm-proxy',
  'PUT /api/remote/llm-proxy/*',
])

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>
}

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.stop())

/** Whether the operation's first 2xx answer names a schema. */
function hasSuccessSchema(op: Operation): boolean {
  const success = Object.entries(op.responses ?? {})
    .filter(([status]) => /^2\d\d$/.test(status))
    .sort(([a], [b]) => a.localeCompare(b))[0]
  return Object.values(success?.[1].content ?? {}).some((media) => media.schema !== undefined)
}

describe('the OpenAPI document', () => {
  test('every operation declares a response schema for its success status', async () => {
    const res = await server.request(DOCS_SPEC_PATH)
    expect(res.status).toBe(200)
    const doc = (await res.json()) as { paths: Record<string, Record<string, Operation>> }
    const without: string[] = []
    const seen = new Set<string>()
    for (const [path, operations] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(operations)) {
        const name = `${method.toUpperCase()} ${path}`
        seen.add(name)
        if (!hasSuccessSchema(op)) without.push(name)
      }
    expect(seen.size).toBeGreaterThan(50)
    expect(without.filter((name) => !STILL_WITHOUT_RESPONSE_SCHEMA.has(name))).toEqual([])
    const gained = [...STILL_WITHOUT_RESPONSE_SCHEMA].filter((name) => !without.includes(name))
    expect(gained).toEqual([])
  })
})
