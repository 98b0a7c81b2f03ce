// Every event stream the server offers answers with the same headers (SSE_HEADERS): a proxy in
// front (nginx buffers by default) must not hold events back, nor a cache keep them. The streams
// are found in the OpenAPI document, so a new one is checked without being listed here. The LLM
// proxy relays the provider's stream with the provider's headers (streams.test.ts checks it).
import { describe, expect, test } from 'bun:test'
import { DOCS_SPEC_PATH } from '../api-docs/index.ts'
import { newSession, owner, server, useSessionWorld } from '../sessions/session-test-world.ts'
import { SSE_HEADERS } from './sse.ts'

useSessionWorld()

interface Spec {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, unknown> }> }>>
}

async function eventStreamPaths(): Promise<string[]> {
  const spec = (await (await server.request(DOCS_SPEC_PATH)).json()) as Spec
  return Object.entries(spec.paths)
    .filter(([, ops]) => ops.get?.responses?.['200']?.content?.['text/event-stream'] !== undefined)
    .filter(([path]) => !path.startsWith('/api/remote/llm-proxy'))
    .map(([path]) => path)
}

describe('event streams', () => {
  test('every one answers with the SSE headers: no caching, no proxy buffering', async () => {
    const paths = await eventStreamPaths()
    // The session stream, its changes, and the live lists at least.
    expect(paths.length).toBeGreaterThanOrEqual(5)
    const { id } = await newSession()
    for (const path of paths) {
      const res = await server.request(path.replace('{id}', id), { cookie: owner.cookie })
      const headers = Object.fromEntries(
        Object.keys(SSE_HEADERS).map((name) => [name, res.headers.get(name)]),
      )
      expect({ path, status: res.status, headers }).toEqual({ path, status: 200, headers: SSE_HEADERS })
      await res.body?.cancel()
    }
  })
})
