// The acceptance path with nothing faked but the LLM provider: in the browser the admin
// stores a key pointed at the fake upstream, copies the install command, the compiled agent
// binary registers with it and turns online on screen without a reload, the admin assigns a
// user; that user starts a session running the real Qwen Code CLI, sends a message, watches
// the streamed answer appear, and stops the session.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { Page } from 'playwright-core'
import { AGENT_BINARY, ensureAgentBinary, runAgentBinary } from '../support/agent-binary.ts'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { ADMIN_PASSWORD, createUser, type TestServer } from '../support/server.ts'
import { type BrowserSuite, logout, ROOT, screenshots, signIn, startBrowserSuite } from './browser.ts'

const REPLY = 'Hello from the fake model, through the browser.'
const REAL_KEY = 'sk-real-provider-key-browser-0123456789'
const STEP_MS = 120_000
let suite: BrowserSuite
let server: TestServer
let fake: FakeLlm
let page: Page
const processes: Subprocess[] = []
let machineId: string
let agentDir: string | undefined
let workDir: string

beforeAll(async () => {
  await ensureAgentBinary()
  fake = await startFakeLlm({ reply: REPLY, usage: { input: 21, output: 8 } })
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
}, 300_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await Promise.all(processes.map((p) => p.exited))
  if (agentDir) rmSync(agentDir, { recursive: true, force: true })
  await suite?.close()
  await fake?.close()
})

/** Runs the agent's own registration with the server and token taken from the copied command. */
async function registerFromCommand(command: string) {
  const serverUrl = /--server (\S+)/.exec(command)?.[1]
  const token = /--token (\S+)/.exec(command)?.[1]
  if (!serverUrl || !token) throw new Error(`no --server/--token in: ${command}`)
  const dir = mkdtempSync(join(tmpdir(), 'oa-agent-browser-'))
  agentDir = dir
  workDir = join(dir, 'work')
  mkdirSync(workDir)
  const env = {
    PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
    HOME: dir,
    OPENACE_WORK_DIR: workDir,
  }
  const reg = Bun.spawn(
    [AGENT_BINARY, 'register', '--server', serverUrl, '--token', token, '--dir', dir, '--name', 'lab-box'],
    {
      env,
      stdout: 'pipe',
      stderr: 'pipe',
    },
  )
  if ((await reg.exited) !== 0)
    throw new Error(`agent register failed: ${await new Response(reg.stderr).text()}`)
  machineId = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).machine_id
  runAgentBinary(dir, machineId, env, processes)
}

describe('acceptance in the browser with the real agent and CLI', () => {
  test(
    'the admin stores a key, registers the agent with the copied command and assigns a user',
    async () => {
      await createUser(server, await server.login(), 'quinn')
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.goto('/manage/remote/api-keys')
      await page.getByTestId('add-key').click()
      const keyDialog = page.getByRole('dialog')
      await keyDialog.getByLabel('Key name').fill('fake-upstream')
      await keyDialog.getByLabel('API key').fill(REAL_KEY)
      await keyDialog.getByLabel(/Base URL/).fill(`${fake.url}/v1`)
      await keyDialog.getByRole('button', { name: 'Store key' }).click()
      await page.locator('tr[data-key-name="fake-upstream"]').waitFor()

      await page.getByRole('link', { name: 'Remote machines' }).click()
      await page.getByTestId('generate-token').click()
      await page.getByTestId('copy-bash').click()
      const command = await page.evaluate(() => navigator.clipboard.readText())
      expect(command).toBe((await page.getByTestId('install-bash').textContent())!.trim())
      await page.getByRole('dialog').getByRole('button', { name: 'Close' }).last().click()
      await registerFromCommand(command)
      await page
        .locator(`tr[data-machine-id="${machineId}"] [data-status="online"]`)
        .waitFor({ timeout: 30_000 })

      await page.locator(`tr[data-machine-id="${machineId}"] a`).click()
      await page.waitForURL(`**/manage/remote/machines/${machineId}`)
      await page.getByTestId('assign-user').selectOption({ label: 'quinn' })
      await page.getByRole('button', { name: 'Assign', exact: true }).click()
      await page.getByTestId('assigned-users').getByText('quinn').waitFor()
    },
    STEP_MS,
  )

  test(
    'the user starts a session, sends a message, sees the streamed answer and stops it',
    async () => {
      await logout(page)
      await signIn(page, 'quinn', 'quinn-password')
      await page.getByTestId('new-session').click()
      const dialog = page.getByRole('dialog')
      await dialog.getByText('lab-box').waitFor()
      await dialog.getByLabel('Project path').fill(workDir)
      // The model picker lists what the upstream's models endpoint answers.
      await dialog
        .getByTestId('model-picker')
        .locator('option[value="fake-model"]')
        .waitFor({ state: 'attached' })
      await dialog.getByTestId('model-picker').selectOption('fake-model')
      await dialog.getByLabel(/Title/).fill('Acceptance')
      await dialog.getByRole('button', { name: 'Start session' }).click()
      await page.locator('.session-head [data-status="active"]').waitFor({ timeout: 60_000 })

      await page.getByTestId('composer').fill('Say hello.')
      await page.getByTestId('composer').press('Enter')
      await page.getByTestId('assistant-message').getByText(REPLY).waitFor({ timeout: 90_000 })
      const completions = fake.requests.filter((r) => r.path.endsWith('/chat/completions'))
      expect(completions.length).toBeGreaterThan(0)
      for (const r of completions) expect(r.key).toBe(REAL_KEY)
      expect(await page.content()).not.toContain(REAL_KEY)
      await screenshots(page, 'acceptance-session')

      await page.getByRole('button', { name: 'Stop', exact: true }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Stop', exact: true }).click()
      await page.locator('.session-head [data-status="stopped"]').waitFor({ timeout: 30_000 })
      expect(await page.getByTestId('composer').isDisabled()).toBe(true)
    },
    STEP_MS,
  )
})
