// Browser notifications in real Chromium: off by default; turning them on asks the browser for
// permission (refused: they stay off and the person is told; granted through the browser
// context: on, remembered across a reload); with the tab hidden, "needs approval" and "turn
// finished" each create a Notification, and nothing is shown while the tab is visible or they
// are off. The page's window.Notification is wrapped by an init script that records each call
// and then calls the real constructor: it records what our code did, it stands in for nothing.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import type { FakeAgent } from '../support/fake-agent.ts'
import { createUser, type TestServer } from '../support/server.ts'
import {
  BROWSER_TEST_MS,
  type BrowserSuite,
  connectAgent,
  registerAgent,
  signIn,
  startBrowserSuite,
} from './browser.ts'

let suite: BrowserSuite
let server: TestServer
let page: Page
let agent: FakeAgent
let sessionId: string
let seq = 0

const RECORDER = () => {
  const Real = window.Notification
  const w = window as unknown as { notified: { title: string; body?: string }[]; asked: number }
  w.notified = []
  w.asked = 0
  class Recorded extends Real {
    constructor(title: string, options?: NotificationOptions) {
      super(title, options)
      w.notified.push({ title, body: options?.body })
    }
    static override requestPermission(...args: Parameters<typeof Real.requestPermission>) {
      w.asked++
      return Real.requestPermission(...args)
    }
  }
  window.Notification = Recorded as typeof Notification
}

const notified = () =>
  page.evaluate(() => (window as unknown as { notified: { title: string; body?: string }[] }).notified)
const asked = () => page.evaluate(() => (window as unknown as { asked: number }).asked)

/** What a hidden tab looks like to the page (another tab in front, the window minimised). */
async function setHidden(hidden: boolean) {
  await page.evaluate((value) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => value })
    Object.defineProperty(document, 'visibilityState', {
      configurable: true,
      get: () => (value ? 'hidden' : 'visible'),
    })
    document.dispatchEvent(new Event('visibilitychange'))
  }, hidden)
}

const record = (event: Record<string, unknown>, data = '') => ({
  seq: seq++,
  stream: 'stdout' as const,
  data,
  ts: new Date().toISOString(),
  event,
})
/** One turn of the CLI: its answer, then the end of the turn, in one frame (in this order). */
const turn = (text: string) =>
  agent.send({
    type: 'session.output',
    session_id: sessionId,
    records: [record({ kind: 'assistant_text', text }), record({ kind: 'result', text: 'done' })],
  })
const ask = (requestId: string, command: string) =>
  agent.send({
    type: 'session.output',
    session_id: sessionId,
    records: [
      record({
        kind: 'permission_request',
        request_id: requestId,
        tool_name: 'run_shell_command',
        input: { command },
      }),
    ],
  })

beforeAll(async () => {
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
  await page.addInitScript(RECORDER)
  const admin = await server.login()
  const token = await server.request('/api/remote/machines/register', {
    method: 'POST',
    cookie: admin,
    json: { tenant_id: 1 },
  })
  const machine = await registerAgent(
    server,
    ((await token.json()) as { registration_token: string }).registration_token,
    'notify-box',
  )
  agent = await connectAgent(server, machine)
  const user = await createUser(server, admin, 'nora')
  await server.request(`/api/remote/machines/${machine.machineId}/assign`, {
    method: 'POST',
    cookie: admin,
    json: { user_id: user.id },
  })
  const created = await server.request('/api/remote/sessions', {
    method: 'POST',
    cookie: user.cookie,
    json: { machine_id: machine.machineId, project_path: '/home/alice/project', title: 'Notify me' },
  })
  sessionId = ((await created.json()) as { session: { session_id: string } }).session.session_id
  await agent.send({ type: 'session.started', session_id: sessionId })
})

afterAll(async () => {
  await agent?.close()
  await suite?.close()
})

describe('browser notifications', () => {
  test(
    'off by default; asked once when turned on; with the tab hidden, approvals and finished turns notify',
    async () => {
      await signIn(page, 'nora', 'nora-password')
      await page.goto(`/workspace?session=${sessionId}`)
      await page.locator('.session-head [data-status="active"]').waitFor()
      const toggle = page.getByTestId('notify-toggle')
      expect(await toggle.getAttribute('aria-pressed')).toBe('false')

      // Off: a hidden tab's finished turn shows nothing (the turn's text rendered, so it was seen).
      await setHidden(true)
      await turn('Working on it while notifications are off.')
      await page.getByText('Working on it while notifications are off.').waitFor()
      await page.getByTestId('working-indicator').waitFor({ state: 'detached' })
      await setHidden(false)

      // Turning them on asks the browser; refused (headless Chromium grants nothing by itself),
      // they stay off and the person is told.
      await toggle.click()
      await page.getByText('The browser did not allow notifications.').waitFor()
      expect(await asked()).toBe(1)
      expect(await toggle.getAttribute('aria-pressed')).toBe('false')
      expect(await notified()).toEqual([])

      // Granted: on, and remembered across a reload without asking again.
      await suite.browser.context.grantPermissions(['notifications'], { origin: server.url })
      await toggle.click()
      await page.waitForFunction(
        () =>
          document.querySelector('[data-testid="notify-toggle"]')?.getAttribute('aria-pressed') === 'true',
      )
      await page.reload()
      await page.locator('.session-head [data-status="active"]').waitFor()
      expect(await page.getByTestId('notify-toggle').getAttribute('aria-pressed')).toBe('true')
      expect(await asked()).toBe(0)

      // Visible: the person is looking, nothing pops up.
      await turn('A visible turn.')
      await page.getByText('A visible turn.').waitFor()

      // Hidden: a permission request, then the end of the turn, each notify.
      await setHidden(true)
      await ask('req-hidden-1', 'ls -la')
      await page.waitForFunction(() => (window as unknown as { notified: unknown[] }).notified.length >= 1)
      await turn('The listing is done.')
      await page.waitForFunction(() => (window as unknown as { notified: unknown[] }).notified.length >= 2)
      expect(await notified()).toEqual([
        { title: 'A session needs your approval', body: 'run_shell_command' },
        { title: 'A session finished its turn', body: 'Notify me' },
      ])
    },
    BROWSER_TEST_MS * 2,
  )
})
