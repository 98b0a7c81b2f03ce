// A session whose oldest output was dropped at its limit says so in the conversation and the
// raw output, in the reader's language (en, then zh after switching).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { FakeAgent } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import {
  BROWSER_TEST_MS,
  type BrowserSuite,
  connectAgent,
  registerAgent,
  signIn,
  startBrowserSuite,
} from './browser.ts'

let suite: BrowserSuite
let agent: FakeAgent
let sessionId: string

beforeAll(async () => {
  suite = await startBrowserSuite({ env: { SESSION_OUTPUT_MAX_MB: '1' } })
  const { server } = suite
  const admin = await server.login()
  const tokenRes = await server.request('/api/remote/machines/register', {
    method: 'POST',
    cookie: admin,
    json: { tenant_id: 1 },
  })
  const { registration_token } = (await tokenRes.json()) as { registration_token: string }
  const machine = await registerAgent(server, registration_token, 'chatty-box')
  agent = await connectAgent(server, machine)
  const created = await server.request('/api/remote/sessions', {
    method: 'POST',
    cookie: admin,
    json: { machine_id: machine.machineId, project_path: '/srv/work/app' },
  })
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`)
  sessionId = ((await created.json()) as { session: { session_id: string } }).session.session_id
  // 3 MB into a session limited to 1 MB: the oldest is dropped, with the notice in its place.
  for (let n = 0; n < 12; n++) {
    const id = `chatty-${n}`
    await agent.send({
      type: 'session.output',
      id,
      session_id: sessionId,
      records: [{ seq: n, stream: 'stdout', data: 'q'.repeat(250 * 1024), ts: new Date().toISOString() }],
    })
    await waitUntil(() => agent.frames.some((f) => f.type === 'received' && f.ids.includes(id)), {
      what: `receipt of ${id}`,
      timeoutMs: 30_000,
    })
  }
}, 120_000)
afterAll(async () => {
  await agent?.close()
  await suite?.close()
})

describe('output dropped at the session limit', () => {
  test(
    'the notice shows in the conversation and the raw output, in en and zh',
    async () => {
      const { page } = suite
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.goto(`/workspace?session=${sessionId}`)
      const notice = page.getByTestId('output-dropped')
      await notice.waitFor({ timeout: 30_000 })
      expect(await notice.textContent()).toMatch(
        /^Earlier output \(\d+(\.\d)? MB\) was dropped to keep this session under its 1 MB limit$/,
      )
      await page.getByTestId('language-switch').first().selectOption('zh')
      await page
        .getByText(/较早的输出（\d+(\.\d)? MB）已被丢弃/)
        .first()
        .waitFor({ timeout: 10_000 })
      expect(await notice.textContent()).toContain('1 MB 上限')
      await page.getByRole('tab', { name: '原始输出' }).click()
      await page
        .getByTestId('terminal')
        .getByText(/较早的输出（\d+(\.\d)? MB）已被丢弃/)
        .waitFor({ timeout: 10_000 })
    },
    BROWSER_TEST_MS,
  )
})
