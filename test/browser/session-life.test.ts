// A session as a person lives it, in Chromium with the real agent binary and the real Qwen Code
// CLI against a fake upstream that streams slowly (one SSE event per write, 400 ms apart): the
// pickers of the new-session dialog (CLIs with versions, the upstream's models, folders), the
// answer growing as it is generated, the working indicator, a permission prompt pinned in view
// and marked in the list and the tab title, following output and reopening at the newest
// message, the reasons of failures (bad path, missing CLI, offline machine), the quota warning at
// 80% and the refusal banner, and a session stopped by its quota set to continue at the reset or
// continued at once, resuming its conversation.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { Page } from 'playwright-core'
import { usedSince } from '../../server/quota/service.ts'
import {
  cliWithVersion,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
} from '../support/agent-binary.ts'
import { startCliMachine } from '../support/cli-session.ts'
import { browserApi } from '../support/client.ts'
import type { FakeAgent } from '../support/fake-agent.ts'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { createUser, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import {
  type BrowserSuite,
  connectAgent,
  ROOT,
  registerAgent,
  screenshots,
  signIn,
  startBrowserSuite,
} from './browser.ts'

const STEP_MS = 150_000
/** Streamed in 8 pieces, 400 ms apart: about three seconds from the first piece to the last. */
const SLOW_REPLY = 'Streaming works: this answer arrives piece by piece while the model is still writing it.'
const SLOW = { reply: SLOW_REPLY, chunks: 8, chunkDelayMs: 400 }
const MODELS = ['fake-model', 'fake-model-large']

let suite: BrowserSuite
let server: TestServer
let page: Page
let fake: FakeLlm
let agent: RunningAgent
let admin: string

/** The typed client as the admin (the cookie is set once the server is up). */
const asAdmin = () => browserApi(server.url, admin)
const sessionView = async () => (await asAdmin().remote.sessions({ id: sessionId }).get()).data?.session
let userId: number
let sessionId: string
const processes: Subprocess[] = []
let spare: FakeAgent | undefined

beforeAll(async () => {
  await ensureAgentBinary()
  fake = await startFakeLlm({ ...SLOW, models: MODELS }, { writes: 'separate' })
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
  admin = await server.login()
  agent = await startCliMachine({
    serverUrl: server.url,
    admin,
    track: processes,
    key: { provider: 'openai', apiKey: 'sk-fake-upstream-key-0123456789', baseUrl: `${fake.url}/v1` },
    path: [join(ROOT, 'node_modules/.bin')],
    onlineTimeoutMs: 60_000,
  })
  // The dialog shows the CLI's version, which a slow --version reports after the hello.
  await waitUntil(cliWithVersion(server.url, admin, agent.machineId, 'qwen-code'), {
    what: "qwen-code's version",
    timeoutMs: 30_000,
  })
  // The hello waits only so long for `qwen --version` (seconds under load); the version follows
  // in a report of its own, and the dialog is to show it.
  await waitUntil(cliWithVersion(server.url, admin, agent.machineId, 'qwen-code'), {
    what: 'qwen version',
    timeoutMs: 60_000,
  })
  // The machine offers the CLIs it has, and one it lacks (OpenClaw), as an admin may allow.
  const machineAsAdmin = asAdmin().remote.machines({ id: agent.machineId })
  const machine = (await machineAsAdmin.get()).data!.machine
  const detected = machine.cli_tools.map((c) => c.name)
  expect(detected).toContain('qwen-code')
  expect(detected).not.toContain('openclaw')
  const settings = await machineAsAdmin.settings.patch({ allowed_cli_tools: ['qwen-code', 'openclaw'] })
  expect(settings.status).toBe(200)
  const user = await createUser(server, admin, 'pat')
  userId = user.id
  await machineAsAdmin.assign.post({ user_id: user.id })
}, 300_000)

afterAll(async () => {
  await spare?.close()
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await Promise.all(processes.map((p) => p.exited))
  await suite?.close()
  await fake?.close()
})

/** Opens the new-session dialog on the real machine, with its pickers loaded. */
async function openDialog() {
  await page.getByTestId('new-session').click()
  const dialog = page.getByRole('dialog')
  await dialog.locator('label.machine', { hasText: 'e2e' }).click()
  await dialog.getByTestId('cli-picker').locator('option[value="qwen-code"]').waitFor({ state: 'attached' })
  return dialog
}

async function startSession(path?: string): Promise<string> {
  const dialog = await openDialog()
  if (path) await dialog.getByLabel('Project path').fill(path)
  await dialog.getByRole('button', { name: 'Start session' }).click()
  await page.waitForURL(/session=/)
  return new URL(page.url()).searchParams.get('session')!
}

/** Sends a message from the composer. */
async function say(text: string) {
  const composer = page.getByTestId('composer')
  await composer.fill(text)
  await composer.press('Enter')
}

describe('a session as a person lives it', () => {
  test(
    'the dialog offers the machine’s CLIs with versions, the upstream’s models and its folders',
    async () => {
      await signIn(page, 'pat', 'pat-password')
      const dialog = await openDialog()
      const clis = await dialog.getByTestId('cli-picker').locator('option').allTextContents()
      expect(clis).toHaveLength(2)
      expect(clis[0]).toMatch(/^Qwen Code \d+\.\d+\.\d+/)
      expect(clis[1]).toBe('OpenClaw')
      const models = dialog.getByTestId('model-picker')
      await models.locator(`option[value="${MODELS[1]}"]`).waitFor({ state: 'attached' })
      expect(await models.locator('option').allTextContents()).toEqual([
        'Default (the CLI’s own model)',
        ...MODELS,
      ])
      // The folder picker lists the work folder's parent through the agent and picks one.
      const workDir = join(agent.dir, 'work')
      expect(await dialog.getByLabel('Project path').inputValue()).toBe(workDir)
      await dialog.getByTestId('browse-folders').click()
      const picker = dialog.getByTestId('folder-picker')
      await picker.getByText(workDir).waitFor()
      await picker.getByRole('button', { name: /Up/ }).click()
      await picker.getByRole('button', { name: /work$/ }).click()
      await picker.getByText(workDir).waitFor()
      await picker.getByRole('button', { name: 'Use this folder' }).click()
      expect(await dialog.getByLabel('Project path').inputValue()).toBe(workDir)
      await models.selectOption(MODELS[1]!)
      await screenshots(page, 'session-new-pickers')
      await dialog.getByRole('button', { name: 'Start session' }).click()
      await page.waitForURL(/session=/)
      sessionId = new URL(page.url()).searchParams.get('session')!
      await page.locator('.session-head [data-status="active"]').waitFor({ timeout: 60_000 })
    },
    STEP_MS,
  )

  test(
    'the answer appears as it is generated, while the working indicator runs',
    async () => {
      // The page notes when streamed text first shows, by its own clock (the same machine's).
      await page.evaluate(() => {
        const w = window as unknown as { firstPartialAt?: number }
        const observer = new MutationObserver(() => {
          const bubble = document.querySelector('[data-testid="assistant-streaming"]')
          if (bubble?.textContent?.trim() && w.firstPartialAt === undefined) w.firstPartialAt = Date.now()
        })
        observer.observe(document.body, { childList: true, subtree: true, characterData: true })
      })
      const before = fake.requests.length
      await say('Tell me about streaming.')
      await page.getByTestId('working-indicator').first().waitFor()
      await page.getByTestId('session-list').getByTestId('working-indicator').waitFor()
      await page.getByTestId('assistant-streaming').waitFor({ timeout: 60_000 })
      await screenshots(page, 'session-streaming')
      await page.getByTestId('assistant-message').getByText(SLOW_REPLY).waitFor({ timeout: 60_000 })
      await page.getByTestId('assistant-streaming').waitFor({ state: 'detached' })
      await page.getByTestId('working-indicator').first().waitFor({ state: 'detached', timeout: 30_000 })

      const streamed = fake.requests
        .slice(before)
        .find((r) => r.sent.some((s) => s.data.includes('Streamin')))
      expect(streamed).toBeDefined()
      const firstToken = streamed!.sent.find((s) => s.data.includes('Streamin'))!.at
      const lastToken = streamed!.sent.filter((s) => s.data.includes('"content"')).at(-1)!.at
      const shown = await page.evaluate(
        () => (window as unknown as { firstPartialAt?: number }).firstPartialAt,
      )
      expect(shown).toBeDefined()
      console.log(
        `first partial text visible ${shown! - firstToken} ms after the upstream sent the first token ` +
          `(stream lasted ${lastToken - firstToken} ms)`,
      )
      // Shown while the upstream was still writing: the text streamed, it did not arrive whole.
      expect(shown!).toBeLessThan(lastToken)
      // The request went out with the model picked in the dialog; the header names it.
      expect((streamed!.json as { model?: string }).model).toBe(MODELS[1])
      await page.getByTestId('model-in-use').getByText(MODELS[1]!).waitFor()
    },
    STEP_MS,
  )

  test(
    'a permission prompt is pinned in view, marked in the list and the tab title, and its outcome recorded',
    async () => {
      // Qwen Code makes side calls of its own beside a turn's, so the upstream answers every call
      // alike (setBehaviour), changed as the turn goes, instead of a queue in call order.
      fake.setBehaviour({
        toolCalls: [
          {
            name: 'run_shell_command',
            arguments: { command: 'touch made-by-test.txt', description: 'make a file' },
          },
        ],
      })
      await say('Make a file please.')
      const prompt = page.getByTestId('permission-prompt')
      await prompt.waitFor({ timeout: 60_000 })
      await prompt.getByTestId('permission-command').getByText('touch made-by-test.txt').waitFor()
      // In the viewport as it is, without scrolling anything.
      const box = await prompt.boundingBox()
      const viewport = page.viewportSize()!
      expect(box).not.toBeNull()
      expect(box!.y).toBeGreaterThanOrEqual(0)
      expect(box!.y + box!.height).toBeLessThanOrEqual(viewport.height)
      await page.getByTestId('session-list').getByTestId('session-waiting').waitFor({ timeout: 15_000 })
      await page.waitForFunction(() => document.title.startsWith('(1)'))
      await screenshots(page, 'session-permission-pending')
      fake.setBehaviour({ reply: 'The file is there.' })
      // Alt+A ("always allow this tool") works while the composer has the focus.
      await page.getByTestId('composer').focus()
      await page.keyboard.press('Alt+KeyA')
      await page.getByTestId('permission-outcome').getByText('touch made-by-test.txt').waitFor()
      expect(await page.getByTestId('permission-outcome').textContent()).toMatch(/Allowed:\s+run\s+touch/)
      await prompt.waitFor({ state: 'detached' })
      await page.getByTestId('assistant-message').getByText('The file is there.').waitFor({ timeout: 60_000 })
      await page.waitForFunction(() => !document.title.startsWith('('))
      const shell = page.locator('[data-testid="tool-call"][data-tool-kind="shell"]')
      await shell.locator('.command').getByText('touch made-by-test.txt').waitFor()
      // The rule is in force and shown; revoking it makes the tool ask again.
      const rules = page.getByTestId('permission-rules')
      await rules.getByText('run_shell_command').waitFor()
      expect(await page.getByTestId('permission-outcome').textContent()).toContain('now always allowed')
      await screenshots(page, 'session-permission-allowed')
      await rules.getByRole('button', { name: 'Ask again before run_shell_command' }).click()
      await rules.waitFor({ state: 'detached' })
      const left = await asAdmin().remote.sessions({ id: sessionId })['permission-rules'].get()
      expect(left.data?.rules).toEqual([])
    },
    STEP_MS,
  )

  test(
    'the view follows new output, offers "new output" when scrolled up, and reopens at the newest message',
    async () => {
      const long = Array.from({ length: 40 }, (_, i) => `Line ${i + 1} of a long answer.`).join('\n\n')
      fake.setBehaviour({ reply: `${long}\n\nThe very last line.`, chunks: 4 })
      await say('Write a long answer.')
      await page.getByText('The very last line.').waitFor({ timeout: 60_000 })
      const atBottom = () =>
        page
          .getByTestId('conversation')
          .evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 60)
      await page.waitForFunction(() => {
        const el = document.querySelector('[data-testid="conversation"]')!
        return el.scrollHeight - el.scrollTop - el.clientHeight < 60
      })
      // Scrolled up, new output does not move the view; a button says there is more. (Sending
      // goes to the bottom, so the reader scrolls up while the upstream is still thinking.)
      fake.setBehaviour({ reply: 'Something new below.', chunks: 2, delayMs: 1500 })
      await say('One more thing.')
      await page.getByText('One more thing.').waitFor()
      await page.getByTestId('conversation').evaluate((el) => {
        el.scrollTop = 0
        el.dispatchEvent(new Event('scroll'))
      })
      await page.getByTestId('new-output').waitFor({ timeout: 60_000 })
      expect(await atBottom()).toBe(false)
      await screenshots(page, 'session-new-output')
      await page.getByTestId('new-output').click()
      await page.waitForFunction(() => {
        const el = document.querySelector('[data-testid="conversation"]')!
        return el.scrollHeight - el.scrollTop - el.clientHeight < 60
      })
      await page
        .getByTestId('assistant-message')
        .getByText('Something new below.')
        .waitFor({ timeout: 60_000 })
      await page.reload()
      await page.getByText('Something new below.').waitFor()
      await page.waitForFunction(() => {
        const el = document.querySelector('[data-testid="conversation"]')
        return (
          !!el && el.scrollHeight > el.clientHeight && el.scrollHeight - el.scrollTop - el.clientHeight < 60
        )
      })
      const last = await page.getByText('Something new below.').boundingBox()
      expect(last!.y + last!.height).toBeLessThanOrEqual(page.viewportSize()!.height)
      await screenshots(page, 'session-reopened-at-newest')
    },
    STEP_MS,
  )

  test(
    'past 80% of a limit: the session shows the warning banner, apart from the refusal',
    async () => {
      // Requests made today so far; a daily request limit they are just under 80% of, with room
      // left for the turn's calls (Qwen Code makes side calls of its own).
      const made = (await usedSince(server.ctx, userId, new Date())).dayRequests
      const limit = Math.max(made + 3, Math.floor((made + 1) / 0.8))
      const set = await asAdmin().quotas.users({ id: userId }).put({ daily_request_limit: limit })
      expect(set.status).toBe(200)
      fake.setBehaviour({ reply: 'Still here, nearly at the limit.' })
      await say('How much quota is left?')
      const warning = page.getByTestId('quota-warning')
      await warning.waitFor({ timeout: 60_000 })
      expect(await warning.textContent()).toMatch(
        /Quota nearly used:\s+\d+% of your daily request quota is used/,
      )
      expect(await page.getByTestId('session-alert').count()).toBe(0)
      await page
        .getByTestId('assistant-message')
        .getByText('Still here, nearly at the limit.')
        .waitFor({ timeout: 60_000 })
      await screenshots(page, 'session-quota-warning')
    },
    STEP_MS,
  )

  test(
    'over quota: the session shows the banner within 2 s of the refusal',
    async () => {
      const used = await asAdmin().quotas.users({ id: userId }).put({ daily_token_limit: 1 })
      expect(used.status).toBe(200)
      const calls = fake.requests.length
      await say('Are you still there?')
      const banner = page.getByTestId('session-alert')
      await banner.waitFor({ timeout: 60_000 })
      const shownAt = Date.now()
      const alert = (await sessionView())!
      console.log(
        `quota banner visible ${shownAt - Date.parse(alert.alert!.at)} ms after the proxy's refusal (upper bound)`,
      )
      expect(await banner.textContent()).toMatch(/quota reached/i)
      expect(fake.requests.filter((r) => r.path.endsWith('/chat/completions')).length).toBe(
        fake.requests.slice(0, calls).filter((r) => r.path.endsWith('/chat/completions')).length,
      )
      await screenshots(page, 'session-over-quota')
      await asAdmin().quotas.users({ id: userId }).delete()
      await page.getByRole('button', { name: 'Stop', exact: true }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Stop', exact: true }).click()
      await page.locator('.session-head [data-status="stopped"]').waitFor({ timeout: 30_000 })
    },
    STEP_MS,
  )

  test(
    'stopped by its quota: set to continue by itself at the reset, or continued now, resuming its conversation',
    async () => {
      const banner = page.getByTestId('session-alert')
      await banner.getByText(/quota reached/i).waitFor()
      const toggle = page.getByTestId('auto-continue')
      expect(await toggle.isChecked()).toBe(false)
      await screenshots(page, 'session-stopped-by-quota')
      await toggle.check()
      await waitUntil(async () => (await sessionView())?.auto_continue === true, {
        what: 'auto-continue stored',
      })
      await screenshots(page, 'session-auto-continue-on')
      const button = page.getByTestId('continue-session')
      await screenshots(page, 'session-continue-button')
      const before = fake.requests.length
      fake.setBehaviour({ reply: 'Welcome back, the conversation goes on.' })
      const clickedAt = Date.now()
      await button.click()
      await page.locator('.session-head [data-status="active"]').waitFor({ timeout: 60_000 })
      console.log(`continued session active ${Date.now() - clickedAt} ms after Continue was clicked`)
      await banner.waitFor({ state: 'detached' })
      expect((await sessionView())?.auto_continue).toBe(false)
      await say('Do you remember what I asked first?')
      await page
        .getByTestId('assistant-message')
        .getByText('Welcome back, the conversation goes on.')
        .waitFor({ timeout: 60_000 })
      // The resumed Qwen Code sent the earlier conversation along with the new message.
      const resumed = fake.requests
        .slice(before)
        .filter(
          (r) =>
            r.path.endsWith('/chat/completions') && r.body.includes('Do you remember what I asked first?'),
        )
      expect(resumed.some((r) => r.body.includes('Tell me about streaming.'))).toBe(true)
      await screenshots(page, 'session-continued')
      await asAdmin().remote.sessions({ id: sessionId }).stop.post()
      await page.locator('.session-head [data-status="stopped"]').waitFor({ timeout: 30_000 })
    },
    STEP_MS,
  )

  test(
    'a folder that does not exist: the session says so and what to do',
    async () => {
      await startSession(join(agent.dir, 'work', 'no-such-folder'))
      const error = page.getByTestId('session-error')
      await error.waitFor({ timeout: 60_000 })
      expect(await error.textContent()).toContain('no-such-folder')
      await page
        .getByTestId('session-error-hint')
        .getByText(/Pick an existing folder/)
        .waitFor()
      await screenshots(page, 'session-error-bad-path')
    },
    STEP_MS,
  )

  test(
    'a CLI the machine lacks is refused in the dialog with how to install it',
    async () => {
      const dialog = await openDialog()
      await dialog.getByTestId('cli-picker').selectOption('openclaw')
      await dialog.getByRole('button', { name: 'Start session' }).click()
      const failure = dialog.getByRole('alert')
      await failure.getByText(/openclaw is not installed on/).waitFor()
      expect(await failure.textContent()).toContain('Install it on that machine')
      await screenshots(page, 'session-error-missing-cli')
      await page.keyboard.press('Escape')
    },
    STEP_MS,
  )

  test(
    'a machine that goes offline is refused in the dialog with the reason',
    async () => {
      const token = await asAdmin().remote.machines.register.post({ tenant_id: 1 })
      const machine = await registerAgent(server, token.data!.registration_token, 'spare-box')
      const spareAsAdmin = asAdmin().remote.machines({ id: machine.machineId })
      await spareAsAdmin.assign.post({ user_id: userId })
      spare = await connectAgent(server, machine)
      await waitUntil(machineOnline(server.url, admin, machine.machineId), {
        what: 'spare online',
        timeoutMs: 15_000,
      })
      await page.getByTestId('new-session').click()
      const dialog = page.getByRole('dialog')
      await dialog.getByText('spare-box').click()
      await spare.close()
      spare = undefined
      await waitUntil(
        async () => ((await spareAsAdmin.get()).data?.machine.status !== 'online' ? true : undefined),
        { what: 'spare offline', timeoutMs: 15_000 },
      )
      await dialog.getByRole('button', { name: 'Start session' }).click()
      const failure = dialog.getByRole('alert')
      await failure.getByText(/spare-box' is offline/).waitFor()
      expect(await failure.textContent()).toContain('Start its agent')
      await screenshots(page, 'session-error-offline')
      await page.keyboard.press('Escape')
    },
    STEP_MS,
  )
})
