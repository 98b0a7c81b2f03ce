// The machine page in Chromium with the real agent binary: it has its own URL, says what the
// machine is in words (detected CLIs with versions, isolation, features; never the raw
// capabilities object), shows the load the agent's heartbeats carry, and keeps labels.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { Page } from 'playwright-core'
import {
  cliWithVersion,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { ADMIN_PASSWORD, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import {
  BROWSER_TEST_MS,
  type BrowserSuite,
  ROOT,
  screenshots,
  signIn,
  startBrowserSuite,
} from './browser.ts'

const STEP_MS = 120_000
let suite: BrowserSuite
let server: TestServer
let page: Page
let agent: RunningAgent
const processes: Subprocess[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  // Heartbeats every second, flushed within 200 ms: the page has new load to show quickly.
  suite = await startBrowserSuite({
    env: { AGENT_HEARTBEAT_INTERVAL_SECONDS: '1', AGENT_HEARTBEAT_FLUSH_MS: '200' },
  })
  server = suite.server
  page = suite.page
  const admin = await server.login()
  agent = await startAgentBinary({
    serverUrl: server.url,
    cookie: admin,
    track: processes,
    env: { PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` },
  })
  await waitUntil(machineOnline(server.url, admin, agent.machineId), {
    what: 'agent online',
    timeoutMs: 60_000,
  })
  await waitUntil(cliWithVersion(server.url, admin, agent.machineId, 'qwen-code'), {
    what: 'qwen-code version probed',
    timeoutMs: 60_000,
  })
}, STEP_MS)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await Promise.all(processes.map((p) => p.exited))
  await suite?.close()
})

describe('machine page', () => {
  test(
    'opens at its own URL from the list and says what the machine is in words',
    async () => {
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.goto('/manage/remote/machines')
      await page.locator(`tr[data-machine-id="${agent.machineId}"] a`).click()
      await page.waitForURL(`**/manage/remote/machines/${agent.machineId}`)
      const facts = page.getByTestId('machine-facts')
      await facts.waitFor()
      expect(await facts.textContent()).toContain(agent.machineId)
      const qwen = page.locator('[data-testid="cli-tools"] tr[data-cli="qwen-code"]')
      expect(await qwen.locator('td').nth(1).textContent()).toMatch(/^\d+\.\d+/)
      expect(await facts.textContent()).toContain('pause and resume')
      const text = (await page.locator('main').textContent()) ?? ''
      expect(text).not.toContain('cli_tools')
      expect(text).not.toMatch(/\bpause\s+true\b/)

      // A reload at the same address lands on the same machine.
      await page.reload()
      await page.getByTestId('machine-facts').waitFor()
      expect(await page.getByTestId('machine-facts').textContent()).toContain(agent.machineId)
    },
    STEP_MS,
  )

  test(
    'shows the load from the agent’s heartbeats as numbers and charts, updated live without a reload',
    async () => {
      const load = page.getByTestId('machine-load')
      await load.waitFor({ timeout: 30_000 })
      const navigations: string[] = []
      page.on('framenavigated', (frame) => navigations.push(frame.url()))
      const first = await load.getAttribute('data-sample-at')
      // The next heartbeat's sample reaches the open page through the machines stream.
      await page.waitForFunction(
        (before) =>
          document.querySelector('[data-testid="machine-load"]')?.getAttribute('data-sample-at') !== before,
        first,
        { timeout: 30_000 },
      )
      expect(navigations).toEqual([])
      expect(await page.getByTestId('load-memory').textContent()).toMatch(/^\d+(\.\d)? %$/)
      expect(await page.getByTestId('load-disk').textContent()).toMatch(/GB/)
      expect(await load.locator('canvas').count()).toBe(3)
      await screenshots(page, 'manage-machine-page')
    },
    BROWSER_TEST_MS,
  )

  test(
    'labels are added and removed, and kept',
    async () => {
      await page.getByTestId('label-input').fill('gpu')
      await page.getByRole('button', { name: 'Add label' }).click()
      await page.getByTestId('machine-labels').getByText('gpu').waitFor()
      await page.reload()
      await page.getByTestId('machine-labels').getByText('gpu').waitFor()
      await page.getByRole('button', { name: 'Remove label gpu' }).click()
      await page.getByText('No labels.').waitFor()
      const res = await server.request(`/api/remote/machines/${agent.machineId}`, {
        cookie: await server.login(),
      })
      expect(((await res.json()) as { machine: { labels: string[] } }).machine.labels).toEqual([])
    },
    BROWSER_TEST_MS,
  )

  test(
    'the session limit is set on the page below the agent’s, shown, and cleared back to it',
    async () => {
      const machine = async () =>
        (
          (await (
            await server.request(`/api/remote/machines/${agent.machineId}`, { cookie: await server.login() })
          ).json()) as { machine: { max_sessions: number | null; max_sessions_setting: number | null } }
        ).machine
      const agentLimit = (await machine()).max_sessions
      expect(agentLimit).toBeGreaterThan(1)
      const policy = page.getByTestId('machine-policy')
      await policy.locator('input[name="max_sessions"]').fill('1')
      await policy.getByRole('button', { name: 'Save session policy' }).click()
      await page.getByTestId('machine-max-sessions').getByText('1', { exact: true }).waitFor()
      expect(await machine()).toMatchObject({ max_sessions: 1, max_sessions_setting: 1 })
      await policy.locator('input[name="max_sessions"]').fill('')
      await policy.getByRole('button', { name: 'Save session policy' }).click()
      await page.getByTestId('machine-max-sessions').getByText(String(agentLimit), { exact: true }).waitFor()
      expect(await machine()).toMatchObject({ max_sessions: agentLimit, max_sessions_setting: null })
    },
    BROWSER_TEST_MS,
  )

  test(
    "shows the agent's recent log lines, asked of the agent itself, without its token",
    async () => {
      const log = page.getByTestId('agent-log-lines')
      await log.waitFor({ timeout: 20_000 })
      const shown = (await log.textContent()) ?? ''
      // What the agent wrote to its own log file, through the channel and onto the page.
      const firstLine = readFileSync(join(agent.dir, 'agent.log'), 'utf8').split('\n')[0]?.trim()
      expect(firstLine).toBeTruthy()
      expect(shown).toContain(firstLine as string)
      const token = JSON.parse(readFileSync(join(agent.dir, 'config.json'), 'utf8')).agent_token as string
      expect(shown).not.toContain(token)
      await page.getByTestId('agent-log-refresh').click()
      await log.waitFor()
    },
    BROWSER_TEST_MS,
  )

  test(
    'an unknown machine id says so',
    async () => {
      await page.goto('/manage/remote/machines/00000000-0000-4000-8000-000000000000')
      await page.getByTestId('machine-missing').waitFor()
    },
    BROWSER_TEST_MS,
  )
})
