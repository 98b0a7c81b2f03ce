import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { readSse } from '../../test/support/sse.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { quotaUsage } from '../db/schema/index.ts'
import { verifyProxyToken } from '../llm-proxy/tokens.ts'

let server: TestServer
let admin: string
let owner: { id: number; cookie: string }
let other: { id: number; cookie: string }
let machineAdmin: { id: number; cookie: string }
let outsider: { id: number; cookie: string }
let machineId: string
let agent: FakeAgent

type Json = Record<string, any>
const call = async (method: string, path: string, cookie?: string, json?: unknown) => {
  const res = await server.request(path, { method, cookie, json })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json }
}

async function waitOnline(id: string) {
  await waitUntil(
    async () => {
      const { body } = await call('GET', `/api/remote/machines/${id}`, admin)
      return body.status === 'online' || body.machine?.status === 'online'
    },
    { what: 'machine online' },
  )
}

async function newSession(cookie = owner.cookie, extra: Json = {}) {
  const res = await call('POST', '/api/remote/sessions', cookie, {
    machine_id: machineId,
    project_path: '/work/project',
    ...extra,
  })
  expect(res.status).toBe(201)
  const id = res.body.session.session_id as string
  const start = (await waitUntil(
    () => agent.commands.find((c) => c.type === 'session.start' && c.session_id === id),
    { what: 'session.start', timeoutMs: 5000 },
  )) as CommandOf<'session.start'>
  return { id, start }
}

async function started(id: string) {
  await agent.send({ type: 'session.started', session_id: id, cli_session_id: `cli-${id.slice(0, 4)}` })
  await waitUntil(
    async () =>
      (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session.status === 'active',
    { what: 'session active' },
  )
}

const output = (id: string, from: number, n: number) =>
  agent.send({
    type: 'session.output',
    session_id: id,
    records: Array.from({ length: n }, (_, i) => ({
      seq: from + i,
      stream: 'stdout',
      data: `line ${from + i}`,
      ts: new Date().toISOString(),
    })),
  })

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  admin = await server.login()
  owner = await createUser(server, admin, 'owen')
  other = await createUser(server, admin, 'otto')
  machineAdmin = await createUser(server, admin, 'mara')
  outsider = await createUser(server, admin, 'oscar')
  const reg = await registerMachine(server.request, admin, { name: 'build-box' })
  machineId = reg.machineId
  for (const [u, permission] of [
    [owner, 'user'],
    [other, 'user'],
    [machineAdmin, 'admin'],
  ] as const) {
    const res = await call('POST', `/api/remote/machines/${machineId}/assign`, admin, {
      user_id: u.id,
      permission,
    })
    expect(res.status).toBeLessThan(300)
  }
  // Room for every session these tests start (the server refuses past the machine's limit).
  agent = new FakeAgent({
    url: server.url,
    token: reg.agentToken,
    machineId,
    transport: 'websocket',
    capabilities: { ...FAKE_CAPABILITIES, max_sessions: 100 },
  })
  await agent.connect()
  await waitOnline(machineId)
})
afterAll(async () => {
  await agent?.close()
  await server.stop()
})

describe('creating a session', () => {
  test('queues session.start with a proxy token for the proxy, never a provider key', async () => {
    const { id, start } = await newSession(owner.cookie, { title: 'First', model: 'qwen3-coder' })
    expect(start.project_path).toBe('/work/project')
    expect(start.model).toBe('qwen3-coder')
    expect(start.cli_tool).toBe('qwen-code')
    expect(start.proxy_base_url).toBe(`${server.url}/api/remote/llm-proxy`)
    expect(start.permission_mode).toBe('default')
    const claims = await verifyProxyToken(server.ctx, start.proxy_token)
    expect(claims?.sessionId).toBe(id)
    expect(claims?.provider).toBe('openai')
    const { body } = await call('GET', `/api/remote/sessions/${id}`, owner.cookie)
    expect(body.session).toMatchObject({
      session_id: id,
      status: 'starting',
      machine_id: machineId,
      workspace_type: 'remote',
      project_path: '/work/project',
      model: 'qwen3-coder',
      total_tokens: 0,
      message_count: 0,
      output: [],
    })
  })

  test('claude-code sessions get an anthropic proxy token', async () => {
    const { start } = await newSession(owner.cookie, { cli_tool: 'claude-code' })
    expect((await verifyProxyToken(server.ctx, start.proxy_token))?.provider).toBe('anthropic')
  })

  test('refusals: unassigned 403, unknown machine 404, bad fields 400, logged out 401', async () => {
    expect(
      (
        await call('POST', '/api/remote/sessions', outsider.cookie, {
          machine_id: machineId,
          project_path: '/x',
        })
      ).status,
    ).toBe(403)
    expect(
      (
        await call('POST', '/api/remote/sessions', owner.cookie, {
          machine_id: 'no-such-machine',
          project_path: '/x',
        })
      ).status,
    ).toBe(404)
    const bad = await call('POST', '/api/remote/sessions', owner.cookie, {
      machine_id: machineId,
      project_path: '',
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.field).toBe('project_path')
    const mode = await call('POST', '/api/remote/sessions', owner.cookie, {
      machine_id: machineId,
      project_path: '/x',
      permission_mode: 'reckless',
    })
    expect(mode.body.error.field).toBe('permission_mode')
    expect(
      (await call('POST', '/api/remote/sessions', undefined, { machine_id: machineId, project_path: '/x' }))
        .status,
    ).toBe(401)
  })

  test('an offline machine is refused with a reason a person understands', async () => {
    const reg = await registerMachine(server.request, admin, { name: 'sleepy-box' })
    await call('POST', `/api/remote/machines/${reg.machineId}/assign`, admin, {
      user_id: owner.id,
      permission: 'user',
    })
    const res = await call('POST', '/api/remote/sessions', owner.cookie, {
      machine_id: reg.machineId,
      project_path: '/x',
    })
    expect(res.status).toBe(409)
    expect(res.body.error.type).toBe('machine_offline')
    expect(res.body.error.message).toMatch(/sleepy-box.*offline/)
    expect(res.body.error.field).toBe('machine_id')
  })
})

describe('a session lifecycle', () => {
  test('chat, output, pause/resume, abort, stop; impossible moves are 409', async () => {
    const { id, start } = await newSession()
    await started(id)
    const sent = await call('POST', `/api/remote/sessions/${id}/chat`, owner.cookie, {
      content: 'hello there',
    })
    expect(sent.status).toBe(200)
    const input = (await waitUntil(
      () => agent.commands.find((c) => c.type === 'session.input' && c.session_id === id),
      { what: 'session.input', timeoutMs: 5000 },
    )) as CommandOf<'session.input'>
    expect(input.content).toBe('hello there')
    expect(input.message_id).toBe(sent.body.message_id)

    await output(id, 0, 3)
    await output(id, 1, 3) // a resend overlapping what was stored: stored once
    const view = await waitUntil(
      async () => {
        const { session } = (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body
        return session.output.length >= 4 && session
      },
      { what: 'four output lines' },
    )
    expect(view.output.map((o: Json) => o.seq)).toEqual([0, 1, 2, 3])
    expect(view.output[0]).toMatchObject({ data: 'line 0', stream: 'stdout' })
    expect(view.output[0].timestamp).toMatch(/Z$/)
    expect(view.messages).toEqual([expect.objectContaining({ content: 'hello there', role: 'user' })])
    const paged = (
      await call('GET', `/api/remote/sessions/${id}?output_after=1&output_limit=1`, owner.cookie)
    ).body.session
    expect(paged.output.map((o: Json) => o.seq)).toEqual([2])
    expect(paged.output_has_more).toBe(true)

    expect((await call('POST', `/api/remote/sessions/${id}/resume`, owner.cookie)).status).toBe(409)
    expect((await call('POST', `/api/remote/sessions/${id}/pause`, owner.cookie)).body.status).toBe('paused')
    await waitUntil(() => agent.commands.find((c) => c.type === 'session.pause' && c.session_id === id), {
      what: 'pause',
      timeoutMs: 5000,
    })
    const whilePaused = await call('POST', `/api/remote/sessions/${id}/chat`, owner.cookie, { content: 'x' })
    expect(whilePaused.status).toBe(409)
    expect(whilePaused.body.error.message).toMatch(/paused/)
    expect((await call('POST', `/api/remote/sessions/${id}/resume`, owner.cookie)).body.status).toBe('active')
    expect((await call('POST', `/api/remote/sessions/${id}/abort`, owner.cookie)).body.status).toBe('active')
    await waitUntil(() => agent.commands.find((c) => c.type === 'session.abort' && c.session_id === id), {
      what: 'abort',
      timeoutMs: 5000,
    })

    const stop = await call('POST', `/api/remote/sessions/${id}/stop`, owner.cookie)
    expect(stop.body.status).toBe('stopped')
    await waitUntil(() => agent.commands.find((c) => c.type === 'session.stop' && c.session_id === id), {
      what: 'stop',
      timeoutMs: 5000,
    })
    expect(await verifyProxyToken(server.ctx, start.proxy_token)).toBeNull()
    const proxied = await server.request('/api/remote/llm-proxy/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${start.proxy_token}` },
      json: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
    })
    expect(proxied.status).toBe(401)
    for (const action of ['chat', 'stop', 'pause', 'resume', 'abort']) {
      const res = await call(
        'POST',
        `/api/remote/sessions/${id}/${action}`,
        owner.cookie,
        action === 'chat' ? { content: 'late' } : undefined,
      )
      expect(res.status).toBe(409)
    }
    const audit = (
      await call('GET', `/api/audit?target_type=session&target_id=${id}`, admin)
    ).body.entries.map((e: Json) => e.event)
    for (const e of [
      'session.create',
      'session.chat',
      'session.pause',
      'session.resume',
      'session.abort',
      'session.stop',
    ])
      expect(audit).toContain(e)
  })

  test('total_tokens and message_count come from the proxy ledger', async () => {
    const { id } = await newSession()
    await server.ctx.db.insert(quotaUsage).values([
      {
        userId: owner.id,
        tenantId: 1,
        sessionId: id,
        machineId,
        provider: 'openai',
        inputTokens: 100,
        outputTokens: 20,
        requests: 1,
        status: 200,
      },
      {
        userId: owner.id,
        tenantId: 1,
        sessionId: id,
        machineId,
        provider: 'openai',
        inputTokens: 7,
        outputTokens: 3,
        requests: 1,
        status: 200,
      },
    ])
    const view = (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session
    expect(view.total_tokens).toBe(130)
    expect(view.message_count).toBe(2)
  })
})

describe('live output over SSE', () => {
  test('streams records in order and resumes after Last-Event-ID without repeats', async () => {
    const { id } = await newSession()
    await started(id)
    await output(id, 0, 2)
    const res = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: owner.cookie })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reading = readSse(res, (evs) => evs.filter((e) => e.event === 'output').length >= 5)
    await Bun.sleep(50)
    await output(id, 2, 3)
    const first = (await reading).filter((e) => e.event === 'output')
    expect(first.map((e) => Number(e.id))).toEqual([0, 1, 2, 3, 4])
    expect(JSON.parse(first[4]!.data).data).toBe('line 4')

    await output(id, 5, 2)
    const resumed = await server.request(`/api/remote/sessions/${id}/stream`, {
      cookie: owner.cookie,
      headers: { 'last-event-id': '4' },
    })
    const again = (
      await readSse(resumed, (evs) => evs.filter((e) => e.event === 'output').length >= 2)
    ).filter((e) => e.event === 'output')
    expect(again.map((e) => Number(e.id))).toEqual([5, 6])
  })

  test('status changes are pushed as status events', async () => {
    const { id } = await newSession()
    await started(id)
    const res = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: owner.cookie })
    const reading = readSse(res, (evs) =>
      evs.some((e) => e.event === 'status' && JSON.parse(e.data).status === 'paused'),
    )
    await Bun.sleep(50)
    await call('POST', `/api/remote/sessions/${id}/pause`, owner.cookie)
    const events = await reading
    expect(events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data).status)).toEqual([
      'active',
      'paused',
    ])
  })
})

describe('who may see and steer a session', () => {
  test('another user sees 404; the machine admin may view and stop but not chat; lists follow suit', async () => {
    const { id } = await newSession()
    await started(id)
    expect((await call('GET', `/api/remote/sessions/${id}`, other.cookie)).status).toBe(404)
    expect((await call('POST', `/api/remote/sessions/${id}/stop`, other.cookie)).status).toBe(404)
    expect((await call('GET', `/api/remote/sessions/${id}`, outsider.cookie)).status).toBe(404)
    expect((await call('GET', `/api/remote/sessions/${id}`, machineAdmin.cookie)).status).toBe(200)
    expect(
      (await call('POST', `/api/remote/sessions/${id}/chat`, machineAdmin.cookie, { content: 'hi' })).status,
    ).toBe(403)
    expect((await call('POST', `/api/remote/sessions/${id}/pause`, machineAdmin.cookie)).status).toBe(403)
    const otherList = (await call('GET', '/api/remote/sessions', other.cookie)).body.sessions.map(
      (s: Json) => s.session_id,
    )
    expect(otherList).not.toContain(id)
    const adminList = (await call('GET', '/api/remote/sessions', machineAdmin.cookie)).body.sessions.map(
      (s: Json) => s.session_id,
    )
    expect(adminList).toContain(id)
    const sysList = (await call('GET', '/api/remote/sessions?all=true', admin)).body.sessions.map(
      (s: Json) => s.session_id,
    )
    expect(sysList).toContain(id)
    const sysOwn = (await call('GET', '/api/remote/sessions?all=false', admin)).body.sessions.map(
      (s: Json) => s.session_id,
    )
    expect(sysOwn).not.toContain(id)
    expect((await call('POST', `/api/remote/sessions/${id}/stop`, machineAdmin.cookie)).body.status).toBe(
      'stopped',
    )
  })

  test('system admins may pause, resume and stop anyone', async () => {
    const { id } = await newSession()
    await started(id)
    expect((await call('POST', `/api/remote/sessions/${id}/pause`, admin)).body.status).toBe('paused')
    expect((await call('POST', `/api/remote/sessions/${id}/resume`, admin)).body.status).toBe('active')
    expect((await call('POST', `/api/remote/sessions/${id}/chat`, admin, { content: 'x' })).status).toBe(403)
    expect((await call('POST', `/api/remote/sessions/${id}/stop`, admin)).body.status).toBe('stopped')
  })

  test('a malformed id is a 400 naming it, an unknown one a 404', async () => {
    const bad = await call('GET', '/api/remote/sessions/not-a-uuid', owner.cookie)
    expect(bad.status).toBe(400)
    expect(bad.body.error.field).toBe('id')
    expect((await call('GET', `/api/remote/sessions/${crypto.randomUUID()}`, owner.cookie)).status).toBe(404)
  })
})

describe('tool permissions', () => {
  const ask = (id: string, seq: number, requestId: string, tool: string) =>
    agent.send({
      type: 'session.output',
      session_id: id,
      records: [
        {
          seq,
          stream: 'stdout',
          data: JSON.stringify({ type: 'control_request', request_id: requestId }),
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

  async function pending(id: string, n: number) {
    for (let i = 0; i < 100; i++) {
      const list = (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body.session
        .pending_permissions
      if (list.length === n) return list
      await Bun.sleep(20)
    }
    throw new Error(`expected ${n} pending permission requests`)
  }

  test('default mode: the request waits for the person, survives a reload, is answered once', async () => {
    const { id } = await newSession()
    await started(id)
    await ask(id, 0, 'req-1', 'run_shell_command')
    const [request] = await pending(id, 1)
    expect(request).toMatchObject({
      request_id: 'req-1',
      tool_name: 'run_shell_command',
      input: { command: 'ls' },
    })
    expect(
      (
        await call('POST', `/api/remote/sessions/${id}/permission`, other.cookie, {
          request_id: 'req-1',
          allow: true,
        })
      ).status,
    ).toBe(404)
    const answer = await call('POST', `/api/remote/sessions/${id}/permission`, owner.cookie, {
      request_id: 'req-1',
      allow: true,
      always: true,
    })
    expect(answer.body).toEqual({ request_id: 'req-1', decision: 'allowed', always: true })
    const cmd = (await waitUntil(
      () => agent.commands.find((c) => c.type === 'session.permission' && c.session_id === id),
      { what: 'session.permission', timeoutMs: 5000 },
    )) as CommandOf<'session.permission'>
    expect(cmd).toMatchObject({ request_id: 'req-1', allow: true, always: true })
    await pending(id, 0)
    expect(
      (
        await call('POST', `/api/remote/sessions/${id}/permission`, owner.cookie, {
          request_id: 'req-1',
          allow: false,
        })
      ).status,
    ).toBe(409)
    expect(
      (
        await call('POST', `/api/remote/sessions/${id}/permission`, owner.cookie, {
          request_id: 'nope',
          allow: false,
        })
      ).status,
    ).toBe(404)
  })

  test('yolo answers by itself; auto-edit only lets edits through', async () => {
    const { id } = await newSession(owner.cookie, { permission_mode: 'auto-edit' })
    await started(id)
    await ask(id, 0, 'edit-1', 'edit')
    await ask(id, 1, 'shell-1', 'run_shell_command')
    await waitUntil(
      () =>
        agent.commands.find(
          (c) => c.type === 'session.permission' && c.session_id === id && c.request_id === 'edit-1',
        ),
      { what: 'auto-allowed edit', timeoutMs: 5000 },
    )
    const [waiting] = await pending(id, 1)
    expect(waiting.request_id).toBe('shell-1')
    const patched = await call('PATCH', `/api/remote/sessions/${id}`, owner.cookie, {
      permission_mode: 'yolo',
    })
    expect(patched.body.session.permission_mode).toBe('yolo')
    await ask(id, 2, 'shell-2', 'run_shell_command')
    const auto = (await waitUntil(
      () =>
        agent.commands.find(
          (c) => c.type === 'session.permission' && c.session_id === id && c.request_id === 'shell-2',
        ),
      { what: 'auto-allowed shell', timeoutMs: 5000 },
    )) as CommandOf<'session.permission'>
    expect(auto.allow).toBe(true)
    await pending(id, 1)
  })
})

describe('proxy token renewal', () => {
  test('a live session whose token nears expiry gets a fresh one over the channel; ended ones do not', async () => {
    const { renewExpiringTokens } = await import('./token-renewal.ts')
    const { proxyTokens } = await import('../db/schema/index.ts')
    const { eq } = await import('drizzle-orm')
    const live = await newSession()
    await started(live.id)
    const ended = await newSession()
    await call('POST', `/api/remote/sessions/${ended.id}/stop`, owner.cookie)
    const soon = new Date(Date.now() + 60_000)
    for (const id of [live.id, ended.id])
      await server.ctx.db.update(proxyTokens).set({ expiresAt: soon }).where(eq(proxyTokens.sessionId, id))
    await renewExpiringTokens(server.ctx)
    const refresh = (await waitUntil(
      () => agent.commands.find((c) => c.type === 'token.refresh' && c.session_id === live.id),
      { what: 'token.refresh', timeoutMs: 5000 },
    )) as CommandOf<'token.refresh'>
    const claims = await verifyProxyToken(server.ctx, refresh.proxy_token)
    expect(claims?.sessionId).toBe(live.id)
    expect(new Date(refresh.expires_at).getTime()).toBeGreaterThan(soon.getTime())
    expect(agent.commands.some((c) => c.type === 'token.refresh' && c.session_id === ended.id)).toBe(false)
    // Renewed: a second sweep finds nothing to do for it.
    const before = agent.commands.filter((c) => c.type === 'token.refresh').length
    await renewExpiringTokens(server.ctx)
    await Bun.sleep(100)
    expect(agent.commands.filter((c) => c.type === 'token.refresh').length).toBe(before)
  })

  test('the token a running CLI started with outlives its expiry while the session is renewed, and dies with the session', async () => {
    const { renewExpiringTokens } = await import('./token-renewal.ts')
    const { id, start } = await newSession()
    await started(id)
    const realNow = server.ctx.now
    const hours = (h: number) => () => new Date(Date.now() + h * 3600_000)
    try {
      server.ctx.now = hours(3.5)
      await renewExpiringTokens(server.ctx)
      await waitUntil(() => agent.commands.find((c) => c.type === 'token.refresh' && c.session_id === id), {
        what: 'token.refresh',
        timeoutMs: 5000,
      })
      server.ctx.now = hours(5)
      const claims = await verifyProxyToken(server.ctx, start.proxy_token)
      expect(claims?.sessionId).toBe(id)
      server.ctx.now = hours(9)
      await Bun.sleep(1100) // past the verification cache
      expect(await verifyProxyToken(server.ctx, start.proxy_token)).toBeNull()
    } finally {
      server.ctx.now = realNow
    }
    const other = await newSession()
    await started(other.id)
    server.ctx.now = hours(3.5)
    try {
      await renewExpiringTokens(server.ctx)
      await call('POST', `/api/remote/sessions/${other.id}/stop`, owner.cookie)
      server.ctx.now = hours(5)
      await Bun.sleep(1100)
      expect(await verifyProxyToken(server.ctx, other.start.proxy_token)).toBeNull()
    } finally {
      server.ctx.now = realNow
    }
  })
})

describe('output reads', () => {
  test('a session read carries at most about 1 MB of output; the rest follows page by page', async () => {
    const { id } = await newSession()
    await started(id)
    const big = 'x'.repeat(200 * 1024)
    for (let batch = 0; batch < 3; batch++) {
      await agent.send({
        type: 'session.output',
        session_id: id,
        records: Array.from({ length: 4 }, (_, i) => ({
          seq: batch * 4 + i,
          stream: 'stdout' as const,
          data: big,
          ts: new Date().toISOString(),
        })),
      })
    }
    const first = await waitUntil(
      async () => {
        const { session } = (await call('GET', `/api/remote/sessions/${id}`, owner.cookie)).body
        return session.last_seq >= 11 && session
      },
      { what: 'output up to seq 11' },
    )
    expect(first.last_seq).toBe(11)
    expect(first.output.length).toBe(5) // 5 x 200 KB fit in 1 MiB, a sixth would not
    expect(first.output_has_more).toBe(true)
    const seqs: number[] = first.output.map((o: Json) => o.seq)
    let after = seqs.at(-1)!
    for (let more = true; more; ) {
      const page = (await call('GET', `/api/remote/sessions/${id}?output_after=${after}`, owner.cookie)).body
        .session
      seqs.push(...page.output.map((o: Json) => o.seq))
      after = seqs.at(-1)!
      more = page.output_has_more
    }
    expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => i))
  })
})
