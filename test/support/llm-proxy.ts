// Test fixtures for the LLM proxy: a live session row to hang proxy tokens on, a stored key
// pointing at the fake upstream, and a proxy token for it.

import type { LlmProvider } from '../../server/db/schema/index.ts'
import { sessions } from '../../server/db/schema/index.ts'
import { issueProxyToken } from '../../server/llm-proxy/tokens.ts'
import type { TestServer } from './server.ts'

export async function insertLiveSession(server: TestServer, userId: number, tenantId = 1): Promise<string> {
  const [row] = await server.ctx.db
    .insert(sessions)
    .values({ tenantId, userId, projectPath: '/tmp/project', cliTool: 'qwen-code', status: 'active' })
    .returning({ id: sessions.id })
  return row!.id
}

export async function storeKey(
  server: TestServer,
  adminCookie: string,
  body: { provider: LlmProvider; key_name: string; api_key: string; base_url?: string },
): Promise<number> {
  const res = await server.request('/api/remote/api-keys', {
    method: 'POST',
    cookie: adminCookie,
    json: body,
  })
  if (res.status !== 201) throw new Error(`store key: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { api_key: { id: number } }).api_key.id
}

/** Keys pointed at the fake upstream where each SDK looks (OpenAI's under /v1), stored in order; their ids. */
export async function storeFakeUpstreamKeys(
  server: TestServer,
  adminCookie: string,
  fake: { url: string },
  keys: Array<{ provider: LlmProvider; key_name: string; api_key: string }>,
): Promise<number[]> {
  const ids: number[] = []
  for (const key of keys)
    ids.push(
      await storeKey(server, adminCookie, {
        ...key,
        base_url: key.provider === 'openai' ? `${fake.url}/v1` : fake.url,
      }),
    )
  return ids
}

/** A live session for the user and a proxy token bound to it. */
export async function proxyTokenFor(
  server: TestServer,
  userId: number,
  options: { provider?: LlmProvider; machineId?: string | null; tenantId?: number } = {},
) {
  const sessionId = await insertLiveSession(server, userId, options.tenantId)
  const issued = await issueProxyToken(server.ctx, {
    sessionId,
    userId,
    machineId: options.machineId ?? null,
    tenantId: options.tenantId ?? 1,
    provider: options.provider,
  })
  return { sessionId, ...issued }
}

/** The smallest chat body the proxy forwards; the fake upstream answers any. */
const CHAT_BODY = { model: 'm', messages: [] }

/**
 * One OpenAI chat-completions call through the proxy, as a CLI makes it with its proxy token; the
 * response unread. The proxy is a wildcard route (`/api/remote/llm-proxy/*`) that Eden cannot
 * name, so this goes through server.request (a real socket when the server listens).
 */
export function proxyChat(
  server: Pick<TestServer, 'request'>,
  token: string,
  body: unknown = CHAT_BODY,
  init: RequestInit = {},
) {
  const headers = new Headers(init.headers)
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`)
  return server.request('/api/remote/llm-proxy/v1/chat/completions', {
    method: 'POST',
    ...init,
    headers,
    json: body,
  })
}

/** One Anthropic messages call through the proxy (x-api-key, as Claude Code sends it); see proxyChat. */
export function proxyMessages(server: Pick<TestServer, 'request'>, token: string, body: unknown) {
  return server.request('/api/remote/llm-proxy/v1/messages', {
    method: 'POST',
    headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01' },
    json: body,
  })
}
