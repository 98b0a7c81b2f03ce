// Agent self-update on the Remote machines page in a real browser: an outdated machine that
// can update itself shows "Update now" and "Update all outdated"; pressing it sends the update
// (state pending), a failure the agent reports shows as a badge with its reason, in the detail
// dialog too; the update policy saves; and in Chinese. Its own server, with its own served build.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import type { Page } from 'playwright-core'
import { remoteMachines } from '../../server/db/schema/index.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import { BROWSER_TEST_MS, type BrowserSuite, screenshots, signIn, startBrowserSuite } from './browser.ts'

const dist = mkdtempSync(join(tmpdir(), 'oa-ui-update-'))
let suite: BrowserSuite
let server: TestServer
let page: Page
const agents: FakeAgent[] = []

beforeAll(async () => {
  writeFileSync(join(dist, 'VERSION'), '2.0.0\n')
  writeFileSync(join(dist, 'SHA256SUMS'), `${'e'.repeat(64)}  open-ace-agent-linux-x64\n`)
  // Automatic updates off: the button is what sends it.
  suite = await startBrowserSuite({ env: { AGENT_DIST_DIR: dist, AGENT_AUTO_UPDATE: 'false' } })
  server = suite.server
  page = suite.page
}, BROWSER_TEST_MS * 3)

afterAll(async () => {
  for (const a of agents) await a.close()
  await suite?.close()
  rmSync(dist, { recursive: true, force: true })
})

async function onlineMachine(name: string) {
  const admin = await server.login()
  const m = await registerMachine(server.request, admin, { name })
  const agent = new FakeAgent({
    url: server.url,
    token: m.agentToken,
    machineId: m.machineId,
    transport: 'websocket',
    capabilities: { ...FAKE_CAPABILITIES, update_target: 'linux-x64' },
  })
  agents.push(agent)
  await agent.connect()
  await agent.waitForFrame('welcome')
  return { ...m, agent }
}

const row = (id: string) => page.locator(`tr[data-machine-id="${id}"]`)

describe('agent update in the UI', () => {
  test(
    'update now sends it; a reported failure shows with its reason; the policy saves',
    async () => {
      const m = await onlineMachine('builder')
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.goto('/manage/remote/machines')
      await page.getByTestId('update-all').waitFor()
      expect(await page.getByTestId('update-all').textContent()).toContain('Update all outdated (1)')

      await row(m.machineId).getByTestId('update-machine').click()
      const cmd = await m.agent.waitForCommand('agent.update', 15_000)
      expect(cmd).toMatchObject({ version: '2.0.0' })
      await row(m.machineId).locator('[data-testid="update-state"][data-state="sent"]').waitFor()
      expect(await row(m.machineId).getByTestId('update-state').textContent()).toBe('pending')

      await m.agent.send({
        type: 'agent.update_status',
        version: '2.0.0',
        state: 'rolled_back',
        reason: 'version 2.0.0 exited with code 3 before it connected to the server',
      })
      const badge = row(m.machineId).locator('[data-testid="update-state"][data-state="rolled_back"]')
      await badge.waitFor({ timeout: 15_000 })
      expect(await badge.textContent()).toBe('rolled back')
      expect(await badge.getAttribute('title')).toContain('exited with code 3')
      // After a failure the admin may try again from the row.
      await row(m.machineId).getByTestId('update-machine').waitFor()
      await screenshots(page, 'manage-machines-update')

      await row(m.machineId).getByRole('link', { name: 'builder' }).click()
      await page.waitForURL(`**/manage/remote/machines/${m.machineId}`)
      const section = page.getByTestId('machine-update')
      await section.waitFor()
      expect(await section.getByTestId('update-detail').textContent()).toContain('exited with code 3')
      await section.locator('select[name="auto_update"]').selectOption('on')
      await section.locator('input[name="update_window"]').fill('25:00')
      expect(await section.getByRole('button', { name: 'Save update policy' }).isDisabled()).toBe(true)
      await section.locator('input[name="update_window"]').fill('02:00-05:00')
      await section.getByRole('button', { name: 'Save update policy' }).click()
      await waitUntil(
        async () => {
          const [r] = await server.ctx.db
            .select()
            .from(remoteMachines)
            .where(eq(remoteMachines.machineId, m.machineId))
          return r?.updateWindow === '02:00-05:00' && r.autoUpdate === true
        },
        { what: 'policy saved', timeoutMs: 15_000 },
      )
      await screenshots(page, 'manage-machine-update-detail')

      await page.getByTestId('language-switch').first().selectOption('zh')
      await section.getByText('更新到 2.0.0:已回滚').waitFor()
      await screenshots(page, 'manage-machine-update-detail-zh')
      await page.getByTestId('language-switch').first().selectOption('en')
    },
    BROWSER_TEST_MS * 2,
  )
})
