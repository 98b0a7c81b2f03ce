// Admission control with a low cap (AGENT_MAX_CONNECTIONS=2) over a real socket: a third agent
// gets 503 + Retry-After on both transports while admins are still served, an admitted agent
// keeps working, and once an agent leaves a new one gets in. Also the open-file limit reading.
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AGENT_MESSAGE_PATH, AGENT_WS_PATH } from '../../protocol/index.ts'
import { closeAgents, connectedAgent, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { parseExposition, sampleValue } from '../../test/support/prometheus.ts'
import { useTestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { loadConfig } from '../config.ts'
import type { AppContext } from '../context/index.ts'
import { admissionCap, readOpenFilesLimit } from './admission.ts'

const RETRY_AFTER = 4
const agents: FakeAgent[] = []

const world = useTestServer({
  listen: true,
  env: {
    AGENT_MAX_CONNECTIONS: '2',
    AGENT_RETRY_AFTER_SECONDS: String(RETRY_AFTER),
    AGENT_OFFLINE_GRACE_MS: '0',
  },
  timeoutMs: 60_000,
  beforeStop: () => closeAgents(agents),
})

const connect = (transport: 'websocket' | 'long_poll') =>
  connectedAgent(world.server, world.admin, agents, transport)

/** A WebSocket upgrade request as a browser-less agent sends it, answered in-process. */
function upgrade(token: string) {
  return world.server.app.handle(
    new Request(`${world.server.url}${AGENT_WS_PATH}`, {
      headers: {
        authorization: `Bearer ${token}`,
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
      },
    }),
  )
}

const poll = (token: string) =>
  world.server.request(AGENT_MESSAGE_PATH, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    json: { events: [], wait: false },
  })

async function metrics() {
  const res = await world.server.request('/metrics', { cookie: world.admin })
  expect(res.status).toBe(200)
  return parseExposition(await res.text())
}

async function expectRefused(res: Response) {
  expect(res.status).toBe(503)
  const retryAfter = Number(res.headers.get('retry-after'))
  expect(Number.isInteger(retryAfter)).toBe(true)
  expect(retryAfter).toBeGreaterThanOrEqual(RETRY_AFTER)
  expect(retryAfter).toBeLessThanOrEqual(Math.ceil(RETRY_AFTER * 1.5))
  const body = (await res.json()) as { error: { type: string; message: string } }
  expect(body.error.type).toBe('over_capacity')
  expect(body.error.message).toContain('limit (2)')
}

describe('agent admission at the cap', () => {
  test('a third agent is refused with 503 + Retry-After; admins are served; a freed slot is reused', async () => {
    const first = await connect('websocket')
    const second = await connect('long_poll')
    // A long-poll agent holds its slot while a poll is in flight (the next one follows the welcome).
    await waitUntil(() => world.server.ctx.state.agentAdmission.current() === 2, {
      what: 'both agents to hold a slot',
    })
    let samples = await metrics()
    expect(sampleValue(samples, 'openace_agent_connection_cap')).toBe(2)
    expect(sampleValue(samples, 'openace_agent_connections_current')).toBe(2)

    const third = await registerMachine(world.server.request, world.admin)
    await expectRefused(await upgrade(third.agentToken))
    await expectRefused(await poll(third.agentToken))
    // Over a real socket the upgrade is refused too: the agent's WebSocket never opens.
    const refused = new FakeAgent({
      url: world.server.url,
      token: third.agentToken,
      machineId: third.machineId,
      transport: 'websocket',
    })
    await expect(refused.connect()).rejects.toThrow('closed before open')

    // The server stays responsive to everything else.
    expect((await world.server.request('/api/remote/machines', { cookie: world.admin })).status).toBe(200)
    expect((await world.server.request('/api/ready')).status).toBe(200)
    // An admitted long-poll agent may post while its poll waits: it holds a slot already.
    expect((await poll(second.agentToken)).status).toBe(200)

    samples = await metrics()
    expect(sampleValue(samples, 'openace_agent_admission_rejections_total', { transport: 'websocket' })).toBe(
      2,
    )
    expect(sampleValue(samples, 'openace_agent_admission_rejections_total', { transport: 'long_poll' })).toBe(
      1,
    )

    await first.agent.close()
    await waitUntil(() => world.server.ctx.state.agentAdmission.current() === 1, {
      what: 'the closed socket to free its slot',
    })
    await FakeAgent.connectTo(world.server.url, third, { track: agents })
    samples = await metrics()
    expect(sampleValue(samples, 'openace_agent_connections', { transport: 'websocket' })).toBe(1)
    expect(sampleValue(samples, 'openace_agent_connections', { transport: 'long_poll' })).toBe(1)
  })
})

describe('the cap from the open-file limit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oa-limits-'))
  const limits = (line: string) => {
    const file = join(dir, `limits-${Math.random()}`)
    writeFileSync(
      file,
      `Limit                     Soft Limit           Hard Limit           Units\nMax processes             63422                63422                processes\n${line}\nMax locked memory         8388608              8388608              bytes\n`,
    )
    return file
  }
  const ctxWith = (env: Record<string, string>) =>
    ({ config: loadConfig({ SECRET_KEY: 'x'.repeat(32), ...env }, { warn: () => {} }) }) as AppContext

  test('reads the soft limit; unlimited or unreadable means unknown', () => {
    expect(
      readOpenFilesLimit(limits('Max open files            20000                524288               files')),
    ).toBe(20000)
    expect(
      readOpenFilesLimit(limits('Max open files            unlimited            unlimited            files')),
    ).toBe(null)
    expect(readOpenFilesLimit(join(dir, 'absent'))).toBe(null)
  })

  test('cap = limit - reserve, the fallback when unknown, the override when set', () => {
    expect(admissionCap(ctxWith({}), 20_000)).toBe(19_000)
    expect(admissionCap(ctxWith({ AGENT_FD_RESERVE: '500' }), 20_000)).toBe(19_500)
    expect(admissionCap(ctxWith({ OPEN_FILES_LIMIT_FALLBACK: '4096' }), null)).toBe(3096)
    expect(admissionCap(ctxWith({ AGENT_MAX_CONNECTIONS: '7' }), 20_000)).toBe(7)
    expect(admissionCap(ctxWith({}), 800)).toBe(1)
  })
})
