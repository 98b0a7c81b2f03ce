// The workspace in a real browser: a user starts a session on their assigned machine (played by
// the protocol test agent), sends a message (Enter sends, Shift+Enter does not), watches the
// streamed answer render as a conversation and raw output, survives a dropped stream, and
// stops the session; the admin then sees it on the sessions page.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import type { AgentFrame, Command } from '../../protocol/index.ts'
import { flushUsage, recordUsage } from '../../server/quota/ledger.ts'
import type { FakeAgent } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD, createUser, type TestServer } from '../support/server.ts'
import {
  BROWSER_TEST_MS,
  type BrowserSuite,
  connectAgent,
  logout,
  registerAgent,
  screenshots,
  signIn,
  startBrowserSuite,
} from './browser.ts'
import { type CutProxy, startCutProxy } from './cut-proxy.ts'

let suite: BrowserSuite
let server: TestServer
let page: Page
let agent: FakeAgent
let sessionId: string
let seq = 0
let proxy: CutProxy
let bobId: number
let bobCookie: string

/** One batch of output as the agent would send it: raw line plus the parsed event. */
function output(
  ...events: Array<Extract<AgentFrame, { type: 'session.output' }>['records'][number]['event']>
) {
  return agent.send({
    type: 'session.output',
    session_id: sessionId,
    records: events.map((event) => ({
      seq: seq++,
      stream: 'stdout' as const,
      data: JSON.stringify(event),
      ts: new Date().toISOString(),
      event,
    })),
  })
}

const inputs = () =>
  agent.commands.filter((c): c is Extract<Command, { type: 'session.input' }> => c.type === 'session.input')

beforeAll(async () => {
  // The browser reaches the server through a proxy the tests can cut.
  suite = await startBrowserSuite({
    via: (started) => {
      proxy = startCutProxy(started.url)
      return proxy.url
    },
  })
  server = suite.server
  page = suite.page
  const admin = await server.login()
  const bob = await createUser(server, admin, 'bob')
  bobId = bob.id
  bobCookie = bob.cookie
  const tokenRes = await server.request('/api/remote/machines/register', {
    method: 'POST',
    cookie: admin,
    json: { tenant_id: 1 },
  })
  const { registration_token } = (await tokenRes.json()) as { registration_token: string }
  const machine = await registerAgent(server, registration_token, 'dev-box')
  const assign = await server.request(`/api/remote/machines/${machine.machineId}/assign`, {
    method: 'POST',
    cookie: admin,
    json: { user_id: bob.id, permission: 'user' },
  })
  if (assign.status !== 200) throw new Error(`assign: ${assign.status} ${await assign.text()}`)
  agent = await connectAgent(server, machine)
}, BROWSER_TEST_MS * 3)

afterAll(async () => {
  await agent?.close()
  await suite?.close()
  await proxy?.stop()
})

describe('workspace in the browser', () => {
  test(
    'a user starts a session on their online machine from the new-session dialog',
    async () => {
      await signIn(page, 'bob', 'bob-password')
      await page.getByText('No sessions yet').waitFor()
      await page.getByTestId('new-session').click()
      const dialog = page.getByRole('dialog')
      await dialog.getByText('dev-box').waitFor()
      expect(await dialog.getByLabel('Project path').inputValue()).toBe('/home/alice/project')
      await dialog.getByLabel(/Title/).fill('Fix the build')
      await screenshots(page, 'workspace-new-session')
      await dialog.getByRole('button', { name: 'Start session' }).click()
      await page.waitForURL(/session=/)
      sessionId = new URL(page.url()).searchParams.get('session')!
      const start = await agent.waitForCommand('session.start')
      expect(start).toMatchObject({
        session_id: sessionId,
        project_path: '/home/alice/project',
        cli_tool: 'qwen-code',
      })
      await agent.send({ type: 'session.started', session_id: sessionId })
      await page.locator('.session-head [data-status="active"]').waitFor()
      await page.getByTestId('session-list').getByText('Fix the build').waitFor()
    },
    BROWSER_TEST_MS,
  )

  test(
    'Shift+Enter adds a line, Enter sends; the streamed answer renders as a conversation',
    async () => {
      const composer = page.getByTestId('composer')
      await composer.fill('Why does the build fail?')
      await composer.press('Shift+Enter')
      await composer.pressSequentially('Please check.')
      expect(await composer.inputValue()).toBe('Why does the build fail?\nPlease check.')
      expect(inputs()).toHaveLength(0)
      await composer.press('Enter')
      const input = await agent.waitForCommand('session.input')
      expect(input).toMatchObject({
        session_id: sessionId,
        content: 'Why does the build fail?\nPlease check.',
      })
      await page.waitForFunction(
        () => (document.querySelector('[data-testid="composer"]') as HTMLTextAreaElement).value === '',
      )

      await output({ kind: 'thinking', text: 'Look at the compiler output first.' })
      await output({ kind: 'assistant_text', text: 'The build fails because **tsc** ' })
      await page.getByTestId('assistant-message').getByText('The build fails because').waitFor()
      await output(
        { kind: 'assistant_text', text: 'cannot find `lib.ts`.' },
        { kind: 'tool_use', tool_use_id: 't1', name: 'read_file', input: { path: 'src/lib.ts' } },
        { kind: 'tool_result', tool_use_id: 't1', output: 'ENOENT: no such file' },
        { kind: 'result', usage: { input_tokens: 120, output_tokens: 45 } },
      )
      await page.getByText('ENOENT: no such file').waitFor()
      const answer = page.getByTestId('assistant-message')
      expect((await answer.textContent())?.trim()).toBe('The build fails because tsc cannot find lib.ts.')
      expect(await answer.locator('strong').textContent()).toBe('tsc')
      expect(await page.getByText('Why does the build fail?').count()).toBe(1)
      await screenshots(page, 'workspace-session')
    },
    BROWSER_TEST_MS,
  )

  test(
    'output sent while the stream is down arrives once after it reconnects',
    async () => {
      // A cut the browser retries by itself (Last-Event-ID)...
      proxy.cut()
      await output({ kind: 'assistant_text', text: 'Sent during a short cut.' })
      await page.getByText('Sent during a short cut.').waitFor({ timeout: 20_000 })
      // ...and an outage long enough that the stream is given up and reopened from the last seq.
      proxy.refuse = true
      proxy.cut()
      await page.getByText('Reconnecting…').waitFor({ timeout: 15_000 })
      await output({ kind: 'assistant_text', text: 'Written while you were away.' })
      proxy.refuse = false
      await page.getByText('Written while you were away.').waitFor({ timeout: 20_000 })
      await page.getByText('Reconnecting…').waitFor({ state: 'detached' })
      await page.getByRole('tab', { name: 'Raw output' }).click()
      const lines = await page.getByTestId('terminal').locator('.line').allTextContents()
      expect(lines).toHaveLength(seq)
      expect(new Set(lines).size).toBe(seq)
      await screenshots(page, 'workspace-raw-output')
      await page.getByRole('tab', { name: 'Conversation' }).click()
    },
    BROWSER_TEST_MS,
  )

  test(
    'stop ends the session: the agent is told, the badge and composer follow',
    async () => {
      await page.getByRole('button', { name: 'Stop', exact: true }).click()
      // Stop asks first: nothing reaches the agent until the person confirms.
      const confirm = page.getByRole('dialog')
      await confirm.getByText('Stop this session?').waitFor()
      expect(agent.commands.some((c) => c.type === 'session.stop')).toBe(false)
      await confirm.getByRole('button', { name: 'Stop', exact: true }).click()
      await agent.waitForCommand('session.stop')
      await page.locator('.session-head [data-status="stopped"]').waitFor()
      expect(await page.getByTestId('composer').isDisabled()).toBe(true)
    },
    BROWSER_TEST_MS,
  )

  test(
    'a session that fails says why, in the session view',
    async () => {
      const res = await server.request('/api/remote/sessions', {
        method: 'POST',
        cookie: bobCookie,
        json: { machine_id: agent.options.machineId, project_path: '/home/alice/gone', title: 'Broken path' },
      })
      expect(res.status).toBe(201)
      const failed = ((await res.json()) as { session: { session_id: string } }).session.session_id
      await page.goto(`/workspace?session=${failed}`)
      await page.locator('.session-head [data-status="starting"]').waitFor()
      await agent.send({
        type: 'session.error',
        session_id: failed,
        code: 'bad_project_path',
        message: 'The folder /home/alice/gone does not exist on this machine',
      })
      await page
        .getByTestId('session-error')
        .getByText('The session failed: The folder /home/alice/gone does not exist on this machine')
        .waitFor()
      await screenshots(page, 'workspace-session-error')
    },
    BROWSER_TEST_MS,
  )

  test(
    'the admin sees the session, its machine, tokens and output on the sessions page',
    async () => {
      // Usage as the LLM proxy records it for this session: today and two days ago.
      const day = 86_400_000
      for (const [ago, input, output] of [
        [0, 1200, 300],
        [2 * day, 800, 200],
      ] as const) {
        recordUsage(server.ctx, {
          ts: new Date(Date.now() - ago),
          userId: bobId,
          tenantId: 1,
          sessionId,
          machineId: null,
          provider: 'openai',
          model: `m-${ago}`,
          apiKeyId: null,
          inputTokens: input,
          outputTokens: output,
          requests: 1,
          latencyMs: 10,
          status: 200,
        })
      }
      await flushUsage(server.ctx)
      await logout(page)
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.goto('/manage/sessions')
      const row = page.getByTestId('sessions-table').locator('tr', { hasText: 'Fix the build' })
      await row.waitFor()
      expect(await row.textContent()).toContain('dev-box')
      expect(await row.textContent()).toContain('bob')
      expect(await row.textContent()).toContain('2,500')
      await screenshots(page, 'manage-sessions')
      // The admin session view renders bob's conversation as his workspace does, read-only.
      await row.getByRole('link', { name: 'Fix the build' }).click()
      await page.waitForURL(/\/manage\/sessions\/[0-9a-f-]+$/)
      await page.getByTestId('assistant-message').getByText('Written while you were away.').waitFor()
      expect(await page.getByTestId('assistant-message').count()).toBeGreaterThan(1)
      expect(await page.getByText('{"kind"').count()).toBe(0)
      await page.getByTestId('read-only-note').getByText("bob's session").waitFor()
      expect(await page.getByTestId('composer').count()).toBe(0)
      await screenshots(page, 'manage-session-detail')
    },
    BROWSER_TEST_MS,
  )

  test(
    'the usage page charts tokens per day for the chosen user',
    async () => {
      await page.keyboard.press('Escape')
      await page.getByRole('link', { name: 'Usage', exact: true }).click()
      await page.getByTestId('usage-user').selectOption({ label: 'bob' })
      const chart = page.getByTestId('usage-chart')
      await chart.waitFor()
      // Two days with usage (Chart.js draws on a canvas; its numbers are in the chart's table too).
      await page.locator('[data-testid="usage-chart"][data-days-with-usage="2"]').waitFor()
      await page.getByText('2,500').first().waitFor()
      await screenshots(page, 'manage-usage-chart')
    },
    BROWSER_TEST_MS,
  )
})
