// The OpenAPI document (/api/docs/json) is complete when every operation declares a response
// schema for its success status. Operations that do not yet are listed here by name (#19 item 6):
// a new route without one fails, and so does a listed route that gained one (take it off), so the
// list only shrinks.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { DOCS_SPEC_PATH } from './index.ts'

const STILL_WITHOUT_RESPONSE_SCHEMA = new Set<string>([])

interface Answer {
  content?: Record<string, { schema?: unknown }>
  headers?: Record<string, { schema?: unknown }>
}

interface Operation {
  responses?: Record<string, Answer>
}

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.stop())

const first = (op: Operation, status: RegExp) =>
  Object.entries(op.responses ?? {})
    .filter(([code]) => status.test(code))
    .sort(([a], [b]) => a.localeCompare(b))[0]?.[1]

const namesContent = (answer: Answer | undefined) =>
  Object.values(answer?.content ?? {}).some((media) => media.schema !== undefined)

/**
 * Whether the operation's success names a schema: its first 2xx answer's body; for a route whose
 * success is a WebSocket upgrade (101, no 2xx) the frames it sends; for a browser redirect (3xx,
 * no 2xx) its Location header.
 */
function hasSuccessSchema(op: Operation): boolean {
  const ok = first(op, /^2\d\d$/)
  if (ok) return namesContent(ok)
  const upgrade = op.responses?.['101']
  if (upgrade) return namesContent(upgrade)
  const redirect = first(op, /^3\d\d$/)
  return redirect?.headers?.location?.schema !== undefined
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
