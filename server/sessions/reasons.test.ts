// Every failure of a session has a reason: what the server can know is refused at creation
// (offline 409, CLI missing or path outside the roots 422, machine full 429 + Retry-After), what
// the agent reports is kept on the session as `error: {code, message}`, a repeated create with
// one Idempotency-Key makes one session, the detail splits input and output tokens, and an
// "always allow" answer is honoured for the rest of the session.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import type { CommandOf } from '../../protocol/index.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { sessions } from '../db/schema/index.ts'
import { flushUsage, recordUsage } from '../quota/ledger.ts'

let server: TestServer
let admin: string
let owner: { id: number; cookie: string }
let machineId: string
let agent: FakeAgent
const MAX_SESSIONS = 2

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
type Json = Record<string, any>
const call = async (method: string, path: string, cookie?: string, json?: unknown, headers?: Json) => {
  const res = await server.request(path, { method, cookie, json, headers })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json }
}

const create = (extra: Json = {}, headers?: Json) =>
  call(
    'POST',
    '/api/remote/sessions',
    owner.cookie,
    { machine_id: machineId, project_path: '/srv/work/app', ...extra },
    headers,
  )

async function endAll() {
  const list = (await call('GET', '/api/remote/sessions', owner.cookie)).body.sessions as Json[]
  for (const s of list)
    if (['starting', 'active', 'paused'].includes(s.status))
      await call('POST', `/api/remote/sessions/${s.session_id}/stop`, owner.cookie)
}

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  admin = await server.login()
  owner = await createUser(server, admin, 'rhea')
  const reg = await registerMachine(server.request, admin, { name: 'lab-box' })
  machineId = reg.machineId
  await call('POST', `/api/remote/machines/${machineId}/assign`, admin, {
    user_id: owner.id,
    permission: 'user',
  })
  agent = new FakeAgent({
    url: server.url,
    token: reg.agentToken,
    machineId,
    transport: 'websocket',
    capabilities: {
      ...FAKE_CAPABILITIES,
      max_sessions: MAX_SESSIONS,
      fs_roots: ['/srv/work', '/home/rhea'],
      // Claude Code is known to the agent but not found on this machine.
      cli_tools: [{ name: 'qwen-code', version: '0.24.4', path: '/usr/bin/qwen' }],
    },
  })
  await agent.connect()
  await waitUntil(
    async () => {
      const { body } = await call('GET', `/api/remote/machines/${machineId}`, admin)
      const m = body.machine ?? body
      return m.status === 'online' && m.capabilities?.max_sessions === MAX_SESSIONS
    },
    { what: 'machine online with its capabilities' },
  )
})
afterAll(async () => {
  await agent?.close()
  await server.stop()
})

describe('refused at creation with the reason', () => {
  test('a CLI the machine does not have is a 422 naming it', async () => {
    const res = await create({ cli_tool: 'claude-code' })
    expect(res.status).toBe(422)
    expect(res.body.error).toMatchObject({ type: 'cli_not_installed', field: 'cli_tool' })
    expect(res.body.error.message).toContain('claude-code is not installed on')
  })

  test('a project path outside the folders the agent allows is a 422', async () => {
    const res = await create({ project_path: '/etc/secret' })
    expect(res.status).toBe(422)
    expect(res.body.error).toMatchObject({ type: 'path_outside_roots', field: 'project_path' })
    expect(res.body.error.message).toContain('/srv/work')
    // A sibling sharing the prefix is outside too.
    expect((await create({ project_path: '/srv/workshop' })).status).toBe(422)
  })

  test('past the machine session limit: 429 with Retry-After, never 201 then error', async () => {
    await endAll()
    const made = [await create(), await create()]
    expect(made.map((r) => r.status)).toEqual([201, 201])
    const full = await create()
    expect(full.status).toBe(429)
    expect(full.body.error.type).toBe('machine_full')
    expect(full.body.error.message).toContain(`maximum of ${MAX_SESSIONS} sessions`)
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0)
    // Nothing was made for the refused create; once one ends there is room again.
    const list = (await call('GET', '/api/remote/sessions', owner.cookie)).body.sessions as Json[]
    expect(list.filter((s) => s.status === 'starting')).toHaveLength(MAX_SESSIONS)
    await call('POST', `/api/remote/sessions/${made[0]!.body.session.session_id}/stop`, owner.cookie)
    expect((await create()).status).toBe(201)
    await endAll()
  })
})

describe('Idempotency-Key on POST /sessions', () => {
  test('four quick creates with one key make one session and answer it each time', async () => {
    await endAll()
    const before = (await call('GET', '/api/remote/sessions', owner.cookie)).body.sessions.length
    const key = { 'idempotency-key': `double-click-${crypto.randomUUID()}` }
    const first = await create({ title: 'once' }, key)
    expect(first.status).toBe(201)
    const again = await Promise.all([1, 2, 3].map(() => create({ title: 'once' }, key)))
    for (const r of again) {
      expect(r.status).toBe(201)
      expect(r.body.session.session_id).toBe(first.body.session.session_id)
    }
    const after = (await call('GET', '/api/remote/sessions', owner.cookie)).body.sessions.length
    expect(after).toBe(before + 1)
    // A different key is a different create.
    const other = await create({ title: 'twice' }, { 'idempotency-key': `other-${crypto.randomUUID()}` })
    expect(other.status).toBe(201)
    expect(other.body.session.session_id).not.toBe(first.body.session.session_id)
    await endAll()
  })

  test('concurrent creates with one key still make one session', async () => {
    await endAll()
    const key = { 'idempotency-key': `race-${crypto.randomUUID()}` }
    const answers = await Promise.all([1, 2, 3, 4].map(() => create({ title: 'race' }, key)))
    const ids = new Set(answers.filter((r) => r.status === 201).map((r) => r.body.session.session_id))
    expect(ids.size).toBe(1)
    for (const r of answers) expect([201, 409]).toContain(r.status)
    await endAll()
  })

  test('a refusal is kept for its key too; a malformed key is a 400', async () => {
    const key = { 'idempotency-key': `refused-${crypto.randomUUID()}` }
    expect((await create({ cli_tool: 'claude-code' }, key)).status).toBe(422)
    expect((await create({ cli_tool: 'claude-code' }, key)).status).toBe(422)
    const bad = await create({}, { 'idempotency-key': 'x'.repeat(300) })
    expect(bad.status).toBe(400)
    expect(bad.body.error.field).toBe('Idempotency-Key')
  })
})

describe('what the session says about itself', () => {
  test('an agent-reported failure is kept as error {code, message}', async () => {
    await endAll()
    const made = await create()
    const id = made.body.session.session_id as string
    expect(made.body.session.error).toBeNull()
    await agent.send({
      type: 'session.error',
      session_id: id,
      code: 'bad_project_path',
      message: 'The folder /srv/work/app does not exist on lab-box',
    })
    const view = await waitUntil(
      async () => {
        const s = (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session
        return s.status === 'error' ? s : undefined
      },
      { what: 'session in error' },
    )
    expect(view.error).toEqual({
      code: 'bad_project_path',
      message: 'The folder /srv/work/app does not exist on lab-box',
    })
    const listed = (await call('GET', '/api/remote/sessions', owner.cookie)).body.sessions.find(
      (s: Json) => s.session_id === id,
    )
    expect(listed.error.code).toBe('bad_project_path')
  })

  test('the detail splits input and output tokens and names the model in use', async () => {
    await endAll()
    const id = (await create({ model: '' })).body.session.session_id as string
    for (const [input, output, model] of [
      [100, 20, 'qwen3-coder-plus'],
      [50, 5, 'qwen3.7-max'],
    ] as const) {
      recordUsage(server.ctx, {
        ts: new Date(),
        userId: owner.id,
        tenantId: 1,
        sessionId: id,
        machineId,
        provider: 'openai',
        model,
        apiKeyId: null,
        inputTokens: input,
        outputTokens: output,
        requests: 1,
        latencyMs: 5,
        status: 200,
      })
      await flushUsage(server.ctx)
      await Bun.sleep(5)
    }
    const s = (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session
    expect(s).toMatchObject({
      total_tokens: 175,
      input_tokens: 150,
      output_tokens: 25,
      model_in_use: 'qwen3.7-max',
    })
    await endAll()
  })

  test('working: a sent message starts a turn, tool events name the tool, the result ends it', async () => {
    await endAll()
    const id = (await create()).body.session.session_id as string
    await agent.send({ type: 'session.started', session_id: id })
    await waitUntil(
      async () => {
        const [row] = await server.ctx.db.select().from(sessions).where(eq(sessions.id, id))
        return row?.status === 'active'
      },
      { what: 'active' },
    )
    await call('POST', `/api/remote/sessions/${id}/chat`, owner.cookie, { content: 'list files' })
    const get = async () => (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session
    expect((await get()).working).toMatchObject({ tool: null })
    const ts = () => new Date().toISOString()
    await agent.send({
      type: 'session.output',
      session_id: id,
      records: [
        {
          seq: 0,
          stream: 'stdout',
          data: '',
          ts: ts(),
          event: { kind: 'tool_use', tool_use_id: 't1', name: 'run_shell_command', input: { command: 'ls' } },
        },
      ],
    })
    await waitUntil(async () => (await get()).working?.tool === 'run_shell_command', { what: 'current tool' })
    await agent.send({
      type: 'session.output',
      session_id: id,
      records: [
        {
          seq: 1,
          stream: 'stdout',
          data: '',
          ts: ts(),
          event: { kind: 'tool_result', tool_use_id: 't1', output: 'a' },
        },
        { seq: 2, stream: 'stdout', data: '', ts: ts(), event: { kind: 'result', text: 'done' } },
      ],
    })
    await waitUntil(async () => (await get()).working === null, { what: 'turn over' })
    await endAll()
  })
})

describe('"always allow" is honoured for the session', () => {
  const ask = (id: string, seq: number, requestId: string, tool: string) =>
    agent.send({
      type: 'session.output',
      session_id: id,
      records: [
        {
          seq,
          stream: 'stdout',
          data: '',
          ts: new Date().toISOString(),
          event: {
            kind: 'permission_request',
            request_id: requestId,
            tool_name: tool,
            input: { command: 'ls' },
          },
        },
      ],
    })
  const answers = (id: string, requestId: string) =>
    agent.commands.filter(
      (c): c is CommandOf<'session.permission'> =>
        c.type === 'session.permission' && c.session_id === id && c.request_id === requestId,
    )

  test('the next request of that tool is allowed without asking; revoking the rule asks again', async () => {
    await endAll()
    const id = (await create()).body.session.session_id as string
    await agent.send({ type: 'session.started', session_id: id })
    await ask(id, 0, 'r1', 'run_shell_command')
    await waitUntil(
      async () =>
        (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session.pending_permissions
          .length === 1,
      { what: 'first request pending' },
    )
    const answered = await call('POST', `/api/remote/sessions/${id}/permission`, owner.cookie, {
      request_id: 'r1',
      allow: true,
      always: true,
    })
    expect(answered.body).toEqual({ request_id: 'r1', decision: 'allowed', always: true })
    const rules = await call('GET', `/api/remote/sessions/${id}/permission-rules`, owner.cookie)
    expect(rules.body.rules.map((r: Json) => r.tool_name)).toEqual(['run_shell_command'])

    // Same tool again: answered by the server at once, nothing waits for the person.
    await ask(id, 1, 'r2', 'run_shell_command')
    const auto = await waitUntil(() => answers(id, 'r2')[0], { what: 'automatic answer', timeoutMs: 5000 })
    expect(auto).toMatchObject({ allow: true })
    const view = (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session
    expect(view.pending_permissions).toHaveLength(0)
    expect(view.permission_outcomes.find((o: Json) => o.request_id === 'r2')).toMatchObject({
      decision: 'allowed',
      by: 'auto',
    })
    expect(view.permission_rules.map((r: Json) => r.tool_name)).toEqual(['run_shell_command'])

    // Another tool still asks.
    await ask(id, 2, 'r3', 'write_file')
    await waitUntil(
      async () =>
        (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session.pending_permissions
          .length === 1,
      { what: 'other tool pending' },
    )
    expect(answers(id, 'r3')).toHaveLength(0)

    // Revoked: the shell asks again.
    const revoked = await call(
      'DELETE',
      `/api/remote/sessions/${id}/permission-rules/run_shell_command`,
      owner.cookie,
    )
    expect(revoked.body.rules).toEqual([])
    expect(
      (await call('DELETE', `/api/remote/sessions/${id}/permission-rules/run_shell_command`, owner.cookie))
        .status,
    ).toBe(404)
    await ask(id, 3, 'r4', 'run_shell_command')
    await waitUntil(
      async () =>
        (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session.pending_permissions
          .length === 2,
      { what: 'asks again after revoke' },
    )
    expect(answers(id, 'r4')).toHaveLength(0)
    await endAll()
  })
})

describe('quota and provider problems reach the session', () => {
  test('a refused proxy call puts an alert into the session stream at once', async () => {
    // A user of their own, so no other test's usage counts against the limit.
    const user = await createUser(server, admin, 'quota-quinn')
    await call('POST', `/api/remote/machines/${machineId}/assign`, admin, {
      user_id: user.id,
      permission: 'user',
    })
    await endAll()
    const made = await call('POST', '/api/remote/sessions', user.cookie, {
      machine_id: machineId,
      project_path: '/srv/work/app',
    })
    const id = made.body.session.session_id as string
    const start = (await waitUntil(
      () => agent.commands.find((c) => c.type === 'session.start' && c.session_id === id),
      { what: 'session.start', timeoutMs: 5000 },
    )) as CommandOf<'session.start'>
    const quota = await server.request(`/api/quotas/users/${user.id}`, {
      method: 'PUT',
      cookie: admin,
      json: { daily_token_limit: 1000 },
    })
    expect(quota.status).toBe(200)
    const use = async (tokens: number) => {
      recordUsage(server.ctx, {
        ts: new Date(),
        userId: user.id,
        tenantId: 1,
        sessionId: id,
        machineId,
        provider: 'openai',
        model: 'm',
        apiKeyId: null,
        inputTokens: tokens,
        outputTokens: 0,
        requests: 1,
        latencyMs: 1,
        status: 200,
      })
      await flushUsage(server.ctx)
      await Bun.sleep(2100) // the quota's cached totals are re-read after 2 s
    }
    const proxyCall = () =>
      server.request('/api/remote/llm-proxy/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${start.proxy_token}` },
        json: { model: 'm', messages: [] },
      })
    const stream = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: user.cookie })
    const reader = stream.body!.getReader()
    const decoder = new TextDecoder()
    let seen = ''
    const nextAlert = async (code: string) => {
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        const match = new RegExp(`event: alert\\ndata: (\\{[^\\n]*"code":"${code}"[^\\n]*\\})`).exec(seen)
        if (match) return JSON.parse(match[1]!)
        const { value } = await reader.read()
        seen += decoder.decode(value)
      }
      throw new Error(`no ${code} alert in: ${seen}`)
    }
    await use(1000)
    const refused = await proxyCall()
    expect(refused.status).toBe(429)
    const alert = await nextAlert('quota_exceeded')
    expect(alert).toMatchObject({ level: 'error' })
    expect(alert.message).toContain('Daily token quota reached: 1,000 of 1,000')
    const view = (await call('GET', `/api/remote/sessions/${id}`, user.cookie)).body.session
    expect(view.alert.code).toBe('quota_exceeded')
    await reader.cancel()
    await call('POST', `/api/remote/sessions/${id}/stop`, user.cookie)
  }, 20_000)
})
