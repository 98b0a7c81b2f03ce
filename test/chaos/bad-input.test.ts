// Bad input against every HTTP route the app has (enumerated from app.routes, so a new route
// is covered without editing this file): malformed JSON, wrong types, a huge body, unicode
// edge cases, CR/LF header injection, SQL-looking strings and hostile path parameters, as
// an admin and anonymously. Never a 5xx; every refusal is the JSON error shape and writes
// no row anywhere (the audit log aside).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import type { TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { registerMachine } from '../support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { bodyProbes, PARAM_VALUES, type Probe } from './probes.ts'
import { rowCounts, tableNames } from './rows.ts'

const ORIGIN = 'http://localhost'
/** Bodies also sent without credentials (public routes such as login and agent register see them all). */
const ANONYMOUS_PROBES = new Set([
  'truncated JSON',
  'JSON array',
  'huge body',
  'wrong types #1',
  'edge string #2',
])
/** Not API routes: the UI's catch-all, the OpenAPI docs, the agent WebSocket (tested elsewhere). */
const SKIPPED = (method: string, path: string) =>
  method === 'WS' ||
  path === '/' ||
  path === '/*' ||
  path.startsWith('/api/docs') ||
  !path.startsWith('/api/')

let server: TestServer
let admin: string
let tables: string[]
let agentToken: string
let machineId: string
let userId: number

beforeAll(async () => {
  server = await startTestServer()
  admin = await server.login()
  userId = (await createUser(server, admin, 'bystander')).id
  ;({ agentToken, machineId } = await registerMachine(server.request, admin))
  tables = await tableNames(server)
})
afterAll(async () => {
  await server?.stop()
})

/** What went wrong in the current test; emptied before each. */
let failures: string[] = []
beforeEach(() => {
  failures = []
})

function errorShaped(text: string): boolean {
  try {
    const err = JSON.parse(text).error
    return typeof err?.message === 'string' && typeof err?.type === 'string'
  } catch {
    return false
  }
}

/** Row counts as of the last refusal; cleared after an accepted request (which may write). */
let snapshot: Record<string, number> | undefined

/** Sends one request; records a failure for a 5xx, a non-JSON refusal, or rows written by a refusal. */
async function probe(method: string, path: string, p: Probe, auth: 'admin' | 'anonymous' | 'agent') {
  snapshot ??= await rowCounts(server, tables)
  const before = snapshot
  const headers: Record<string, string> = { origin: ORIGIN }
  if (auth === 'admin') headers.cookie = admin
  if (auth === 'agent') headers.authorization = `Bearer ${agentToken}`
  if (p.body !== undefined) headers['content-type'] = p.contentType ?? 'application/json'
  const hasBody = p.body !== undefined && method !== 'GET' && method !== 'HEAD'
  const res = await server.app.handle(
    new Request(`${ORIGIN}${path}`, { method, headers, ...(hasBody ? { body: p.body } : {}) }),
  )
  const where = `${auth} ${method} ${path} [${p.label}] -> ${res.status}`
  const text = await res.text()
  if (res.status >= 500) failures.push(`${where}: ${text.slice(0, 200)}`)
  if (res.status >= 400) {
    // The proxy answers in the provider's own error shape, which CLIs understand.
    if (!path.startsWith('/api/remote/llm-proxy') && !errorShaped(text))
      failures.push(`${where}: not the JSON error shape: ${text.slice(0, 120)}`)
    const after = await rowCounts(server, tables)
    for (const t of tables) if (after[t] !== before[t]) failures.push(`${where}: wrote to ${t}`)
    snapshot = after
  } else {
    // An accepted request may write; the next refusal is measured from after it.
    snapshot = undefined
  }
  for (const [name, value] of res.headers) {
    if (/injected|pwned/i.test(name) || /pwned/.test(value))
      failures.push(`${where}: header injected: ${name}`)
  }
  // Logout ends the admin's session whatever its query string says; log in again after it.
  if (res.status < 300 && path.split('?')[0] === '/api/auth/logout') admin = await server.login()
  return res.status
}

function routes() {
  return server.app.routes
    .filter((r) => !SKIPPED(r.method, r.path))
    .map((r) => ({
      method: r.method === 'ALL' ? 'POST' : r.method,
      path: r.path,
      hasSchema: !!r.hooks?.body,
      // A body whose fields are all optional is met by `{}`; Elysia then takes any body as that.
      allOptional: !!r.hooks?.body && Value.Check(r.hooks.body as TSchema, {}),
    }))
}

/** The route with every parameter filled with `value` (and the wildcard with a path). */
const fill = (path: string, value: string) =>
  path.replace(/:[a-z_]+/g, value).replace('*', 'v1/chat/completions')

/** The route with real ids, so a bad body meets the deepest validation, not a 404 first. */
function fillReal(path: string): string {
  const id = path.startsWith('/api/remote/machines/')
    ? machineId
    : path.startsWith('/api/remote/sessions/')
      ? crypto.randomUUID()
      : String(userId)
  return path.replace(':id', id).replace(':user_id', String(userId)).replace('*', 'v1/chat/completions')
}

describe('bad input on every route', () => {
  test('the route list is the app (sanity: the known public routes are in it)', () => {
    const listed = routes().map((r) => `${r.method} ${r.path}`)
    expect(listed).toContain('POST /api/auth/login')
    expect(listed).toContain('GET /api/remote/machines/:id/browse')
    expect(listed).toContain('POST /api/remote/agent/message')
    expect(listed.length).toBeGreaterThan(40)
  })

  test('hostile bodies: no 5xx, clear JSON refusals, nothing written; schema routes refuse them', async () => {
    const bad: string[] = []
    for (const route of routes()) {
      if (route.method === 'GET' || route.method === 'DELETE') continue
      const path = fillReal(route.path)
      for (const p of bodyProbes()) {
        // Anonymous requests stop at the auth check; a few probes show that holds.
        const who = ANONYMOUS_PROBES.has(p.label) ? (['admin', 'anonymous'] as const) : (['admin'] as const)
        for (const auth of who) {
          const status = await probe(route.method, path, p, auth)
          if (route.hasSchema && !route.allOptional && status < 400 && !p.label.startsWith('edge string'))
            bad.push(`${auth} ${route.method} ${path} [${p.label}] accepted with ${status}`)
        }
      }
    }
    expect(failures).toEqual([])
    expect(bad).toEqual([])
  }, 60_000)

  test('hostile path parameters and query strings: no 5xx, nothing written', async () => {
    for (const route of routes()) {
      for (const value of PARAM_VALUES) {
        const path = `${fill(route.path, value)}?path=${value}&output_limit=${value}&all=${value}`
        await probe(route.method, path, { label: `param ${value}` }, 'admin')
        await probe(route.method, path, { label: `param ${value}` }, 'anonymous')
      }
    }
    expect(failures).toEqual([])
  }, 60_000)

  test('agent endpoints with a valid agent token and hostile bodies: 4xx, never 5xx', async () => {
    const agentRoutes = routes().filter((r) => r.path.startsWith('/api/remote/agent/') && r.hasSchema)
    expect(agentRoutes.length).toBeGreaterThanOrEqual(2)
    const accepted: string[] = []
    for (const route of agentRoutes) {
      for (const p of bodyProbes()) {
        const status = await probe(route.method, route.path, p, 'agent')
        if (status < 400 && !p.label.startsWith('edge string')) accepted.push(`${route.path} [${p.label}]`)
      }
    }
    expect(failures).toEqual([])
    expect(accepted).toEqual([])
  }, 30_000)

  test('CR/LF in machine, key and user names never reaches a header and is stored verbatim or refused', async () => {
    const name = 'evil\r\nSet-Cookie: pwned=1'
    const user = await server.request('/api/users', {
      method: 'POST',
      cookie: admin,
      headers: { origin: ORIGIN },
      json: { username: name, password: 'long-enough-password', role: 'user' },
    })
    expect(user.status).toBe(400)
    expect((await user.json()).error.field).toBe('username')
    const key = await server.request('/api/remote/api-keys', {
      method: 'POST',
      cookie: admin,
      headers: { origin: ORIGIN },
      json: { provider: 'openai', key_name: name, api_key: 'sk-test-key-123456789' },
    })
    expect(key.status).toBe(400)
    expect((await key.json()).error.field).toBe('key_name')

    const token = await server.request('/api/remote/machines/register', {
      method: 'POST',
      cookie: admin,
      headers: { origin: ORIGIN },
      json: { tenant_id: 1 },
    })
    const { registration_token } = (await token.json()) as { registration_token: string }
    const machines = await rowCounts(server, ['remote_machines'])
    const agent = await server.request('/api/remote/agent/register', {
      method: 'POST',
      json: {
        registration_token,
        machine_id: crypto.randomUUID(),
        machine_name: name,
        hostname: name,
        os_type: 'linux',
        os_version: '6.1',
        capabilities: {},
        agent_version: '1.0.0',
      },
    })
    expect(agent.status).toBeLessThan(500)
    expect([...agent.headers.keys()].join()).not.toMatch(/set-cookie/i)
    if (agent.status >= 400) expect(await rowCounts(server, ['remote_machines'])).toEqual(machines)
    else {
      const list = await server.request('/api/remote/machines', { cookie: admin })
      expect(JSON.stringify(await list.json())).toContain(JSON.stringify(name).slice(1, -1))
    }
    expect(failures).toEqual([])
  })
})
