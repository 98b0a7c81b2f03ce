// GET /api/remote/machines/{id}/sessions filters by status and pages: it used to ignore both
// and answer every session of the machine, stopped ones included.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer
let admin: string
let agent: FakeAgent
let machineId: string
const created: string[] = []
const stopped = new Set<string>()

type Page = { sessions: Array<{ session_id: string; status: string }>; next_cursor: string | null }
async function get(query: string) {
  const res = await server.request(`/api/remote/machines/${machineId}/sessions${query}`, { cookie: admin })
  return { status: res.status, body: (await res.json()) as Page & { error?: { field?: string } } }
}

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  admin = await server.login()
  const reg = await registerMachine(server.request, admin, { name: 'paged' })
  machineId = reg.machineId
  agent = await FakeAgent.connectTo(server.url, reg, {
    capabilities: { ...FAKE_CAPABILITIES, max_sessions: 100 },
  })
  for (let i = 0; i < 7; i++) {
    const res = await server.request('/api/remote/sessions', {
      method: 'POST',
      cookie: admin,
      json: { machine_id: machineId, project_path: `/work/p${i}` },
    })
    expect(res.status).toBe(201)
    created.push(((await res.json()) as { session: { session_id: string } }).session.session_id)
  }
  for (const id of created.slice(0, 3)) {
    const res = await server.request(`/api/remote/sessions/${id}/stop`, { method: 'POST', cookie: admin })
    expect(res.status).toBe(200)
    stopped.add(id)
  }
})
afterAll(async () => {
  await agent?.close()
  await server.stop()
})

describe('GET /api/remote/machines/{id}/sessions', () => {
  test('?status= answers only sessions in that state (or set)', async () => {
    const onlyStopped = await get('?status=stopped')
    expect(onlyStopped.status).toBe(200)
    expect(new Set(onlyStopped.body.sessions.map((s) => s.session_id))).toEqual(stopped)
    const live = await get('?status=live')
    expect(live.body.sessions.map((s) => s.session_id).sort()).toEqual(
      created.filter((id) => !stopped.has(id)).sort(),
    )
    expect(live.body.sessions.every((s) => s.status !== 'stopped')).toBe(true)
    const ended = await get('?status=ended')
    expect(ended.body.sessions).toHaveLength(3)
  })

  test('?limit= pages newest first; next_cursor walks every session once', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page = await get(`?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      expect(page.status).toBe(200)
      expect(page.body.sessions.length).toBeLessThanOrEqual(3)
      seen.push(...page.body.sessions.map((s) => s.session_id))
      cursor = page.body.next_cursor
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual([...created].reverse())
  })

  test('status and paging combine', async () => {
    const first = await get('?status=live&limit=2')
    expect(first.body.sessions).toHaveLength(2)
    const rest = await get(`?status=live&limit=2&cursor=${first.body.next_cursor}`)
    expect(rest.body.sessions).toHaveLength(2)
    expect(rest.body.next_cursor).toBeNull()
    expect([...first.body.sessions, ...rest.body.sessions].map((s) => s.session_id)).toEqual(
      created.slice(3).reverse(),
    )
  })

  test('a bad status or cursor is a 400 naming the field; a limit out of range a 400', async () => {
    for (const [query, field] of [
      ['?status=sleeping', 'status'],
      ['?cursor=not-a-cursor', 'cursor'],
    ] as const) {
      const res = await get(query)
      expect(res.status).toBe(400)
      expect(res.body.error?.field).toBe(field)
    }
    // (Elysia reports a coerced query integer's failure as `property`, as on every route.)
    for (const query of ['?limit=0', '?limit=1000']) expect((await get(query)).status).toBe(400)
  })
})
