// The UI in a real browser against a live server: login (errors too), admin pages with working
// APIs, the registration token's copy button, the audit trail, the language switch, the
// non-admin guard, and screenshots of every page at 1280 and 390 px.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import type { FakeAgent } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD, type TestServer } from '../support/server.ts'
import {
  BROWSER_TEST_MS,
  type BrowserSuite,
  connectAgent,
  login,
  logout,
  registerAgent,
  screenshots,
  signIn,
  startBrowserSuite,
} from './browser.ts'

let suite: BrowserSuite
let server: TestServer
let page: Page
let machine: { machineId: string; agentToken: string }
let agent: FakeAgent | undefined
const SECRET_KEY = 'sk-test-browser-0123456789abcdef'
/** Failed logins per (username, address) before the server answers 429 (admin fails once, on purpose). */
const MAX_FAILURES = 2

beforeAll(async () => {
  suite = await startBrowserSuite({ env: { LOGIN_MAX_FAILURES_PER_USER_IP: String(MAX_FAILURES) } })
  server = suite.server
  page = suite.page
}, BROWSER_TEST_MS * 3)

afterAll(async () => {
  await agent?.close()
  await suite?.close()
})

describe('browser UI', () => {
  test(
    'an anonymous visit goes to login, and a wrong password is explained',
    async () => {
      await page.goto('/workspace')
      await page.waitForURL('**/login?next=%2Fworkspace')
      await screenshots(page, 'login')
      await login(page, 'admin', 'wrong-password')
      await expect(page.getByTestId('login-error').textContent()).resolves.toContain(
        'Invalid username or password',
      )
    },
    BROWSER_TEST_MS,
  )

  test(
    'the admin signs in, sees the admin navigation and the workspace',
    async () => {
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await expect(page.getByTestId('current-user').textContent()).resolves.toBe('admin')
      expect(await page.getByTestId('admin-nav').isVisible()).toBe(true)
      await screenshots(page, 'workspace')
    },
    BROWSER_TEST_MS,
  )

  test(
    'tokens: the admin makes a token from the user menu, it is shown once and works, then is revoked',
    async () => {
      await page.getByTestId('nav-tokens').click()
      await page.waitForURL('**/tokens')
      await page.getByTestId('add-token').click()
      const dialog = page.getByRole('dialog')
      await dialog.getByLabel('Name').fill('browser-script')
      await dialog.getByRole('button', { name: 'Create' }).click()
      const secret = (await page.getByTestId('token-secret').textContent())?.trim() ?? ''
      expect(secret).toMatch(/^oa_pat_/)
      const me = await server.request('/api/auth/me', { headers: { authorization: `Bearer ${secret}` } })
      expect(me.status).toBe(200)
      await page.getByRole('dialog').getByRole('button', { name: 'Close' }).last().click()
      const row = page.locator('tr[data-token-name="browser-script"]')
      await row.waitFor()
      expect(await row.textContent()).not.toContain(secret)
      await screenshots(page, 'tokens')
      await row.getByRole('button', { name: 'Revoke' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click()
      await row.locator('[data-status="revoked"]').waitFor()
      const after = await server.request('/api/auth/me', { headers: { authorization: `Bearer ${secret}` } })
      expect(after.status).toBe(401)
    },
    BROWSER_TEST_MS,
  )

  test(
    'users: the admin adds a user who then appears in the table',
    async () => {
      await page.getByRole('link', { name: 'Users & quotas' }).click()
      await page.waitForURL('**/manage/users')
      await page.getByTestId('add-user').click()
      const dialog = page.getByRole('dialog')
      await dialog.getByLabel('Username').fill('alice')
      await dialog.getByLabel('Password').fill('alice-password')
      await dialog.getByRole('button', { name: 'Create' }).click()
      await page.locator('tr[data-username="alice"]').waitFor()
      const res = await server.request('/api/users', { cookie: await server.login() })
      const { users } = (await res.json()) as { users: Array<{ username: string; role: string }> }
      expect(users.find((u) => u.username === 'alice')?.role).toBe('user')
      await screenshots(page, 'manage-users')
    },
    BROWSER_TEST_MS,
  )

  test(
    'tenants: the admin adds a tenant, then creates a user in it with the tenant picker',
    async () => {
      await page.getByRole('link', { name: 'Tenants' }).click()
      await page.waitForURL('**/manage/tenants')
      await page.getByTestId('add-tenant').click()
      const dialog = page.getByRole('dialog')
      await dialog.getByLabel('Name').fill('north-branch')
      await dialog.getByRole('button', { name: 'Create' }).click()
      await page.locator('tr[data-tenant="north-branch"]').waitFor()
      await screenshots(page, 'manage-tenants')
      const cookie = await server.login()
      const { tenants } = (await (await server.request('/api/tenants', { cookie })).json()) as {
        tenants: Array<{ id: number; name: string }>
      }
      const north = tenants.find((x) => x.name === 'north-branch')!
      await page.getByRole('link', { name: 'Users & quotas' }).click()
      await page.waitForURL('**/manage/users')
      await page.getByTestId('add-user').click()
      const form = page.getByRole('dialog')
      await form.getByLabel('Username').fill('northerner')
      await form.getByLabel('Password').fill('northerner-password')
      await form.getByTestId('tenant-picker').selectOption(String(north.id))
      await form.getByRole('button', { name: 'Create' }).click()
      await page.locator('tr[data-username="northerner"]').waitFor()
      const { users } = (await (
        await server.request(`/api/users?tenant_id=${north.id}`, { cookie })
      ).json()) as {
        users: Array<{ username: string }>
      }
      expect(users.map((u) => u.username)).toEqual(['northerner'])
    },
    BROWSER_TEST_MS,
  )

  test(
    'API keys: a stored key is listed masked and its value never reaches the page',
    async () => {
      await page.getByRole('link', { name: 'API keys' }).click()
      await page.waitForURL('**/manage/remote/api-keys')
      await page.getByTestId('add-key').click()
      const dialog = page.getByRole('dialog')
      await dialog.getByLabel('Provider').selectOption('openai')
      await dialog.getByLabel('Key name').fill('production')
      await dialog.getByLabel('API key').fill(SECRET_KEY)
      await dialog.getByLabel(/Base URL/).fill('https://llm.example.test/v1')
      await dialog.getByRole('button', { name: 'Store key' }).click()
      const row = page.locator('tr[data-key-name="production"]')
      await row.waitFor()
      expect(await row.textContent()).toContain(SECRET_KEY.slice(-4))
      expect(await page.content()).not.toContain(SECRET_KEY)
      await screenshots(page, 'manage-api-keys')
    },
    BROWSER_TEST_MS,
  )

  test(
    'machines: the copied registration token registers an agent that turns online without a reload',
    async () => {
      await page.getByRole('link', { name: 'Remote machines' }).click()
      await page.waitForURL('**/manage/remote/machines')
      await page.getByText(/No machines yet/).waitFor()
      await screenshots(page, 'manage-machines-empty')
      await page.getByTestId('generate-token').click()
      const shown = (await page.getByTestId('registration-token').textContent())!.trim()
      expect(shown).toMatch(/^[A-Za-z0-9_-]{40,}$/)
      expect(await page.getByTestId('install-bash').textContent()).toContain(`--token ${shown}`)
      expect(await page.getByTestId('install-powershell').textContent()).toContain(shown)
      await page.getByTestId('copy-token').click()
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(shown)
      await screenshots(page, 'manage-machines-token')
      await page.getByRole('dialog').getByRole('button', { name: 'Close' }).last().click()

      machine = await registerAgent(server, shown, 'build-box')
      await page.locator(`tr[data-machine-id="${machine.machineId}"] [data-status="offline"]`).waitFor()
      agent = await connectAgent(server, machine)
      await page
        .locator(`tr[data-machine-id="${machine.machineId}"] [data-status="online"]`)
        .waitFor({ timeout: 15_000 })
      await expect(page.getByTestId('stat-online').textContent()).resolves.toBe('1')
      await page.getByTestId('fleet-versions').locator('li[data-version]').first().waitFor()
      expect(await page.getByTestId('fleet-versions').textContent()).toContain('Agent versions')
      await screenshots(page, 'manage-machines')
    },
    BROWSER_TEST_MS,
  )

  test(
    'machines: the machine page (its own URL) assigns a user',
    async () => {
      await page.locator(`tr[data-machine-id="${machine.machineId}"] a`).click()
      await page.waitForURL(`**/manage/remote/machines/${machine.machineId}`)
      await page.getByTestId('machine-facts').waitFor()
      await page.getByTestId('assign-user').selectOption({ label: 'alice' })
      await page.getByRole('button', { name: 'Assign', exact: true }).click()
      await page.getByTestId('assigned-users').getByText('alice').waitFor()
      const res = await server.request(`/api/remote/machines/${machine.machineId}/users`, {
        cookie: await server.login(),
      })
      const { users } = (await res.json()) as { users: Array<{ username: string; permission: string }> }
      expect(users).toEqual([expect.objectContaining({ username: 'alice', permission: 'user' })])
      await screenshots(page, 'manage-machine-detail')
      await page.goto('/manage/remote/machines')
    },
    BROWSER_TEST_MS,
  )

  test(
    'machines: the isolation level shows, and an admin requires one in the session policy',
    async () => {
      const row = page.locator(`tr[data-machine-id="${machine.machineId}"]`)
      expect(await row.getByTestId('isolation-level').textContent()).toBe('Sandbox')
      await row.locator('a').click()
      expect(await page.getByTestId('machine-isolation').textContent()).toContain('bubblewrap')
      expect(await page.getByTestId('cli-tools').textContent()).toContain('qwen-code')
      const policy = page.getByTestId('machine-policy')
      await policy.getByLabel('Required isolation').selectOption('sandbox')
      // The page refetches the machine when it changes (here: its terminal access set again,
      // as it was); that must not undo the unsaved choice.
      const refetched = page.waitForResponse(
        (r) => new URL(r.url()).pathname === `/api/remote/machines/${machine.machineId}`,
      )
      const same = await server.request(`/api/remote/machines/${machine.machineId}/terminal-access`, {
        method: 'PUT',
        cookie: await server.login(),
        json: { terminal_access: 'admins' },
      })
      expect(same.status).toBe(200)
      await refetched
      await Bun.sleep(100)
      expect(await policy.getByLabel('Required isolation').inputValue()).toBe('sandbox')
      await policy.getByRole('button', { name: 'Save session policy' }).click()
      await page.getByText('Session policy saved').waitFor()
      const res = await server.request(`/api/remote/machines/${machine.machineId}`, {
        cookie: await server.login(),
      })
      const view = (await res.json()) as { machine: { required_isolation: string } }
      expect(view.machine.required_isolation).toBe('sandbox')
      await page.goto('/manage/remote/machines')
    },
    BROWSER_TEST_MS,
  )

  test(
    "users: the quota dialog stores a user's daily token limit; usage and sessions pages render",
    async () => {
      await page.getByRole('link', { name: 'Users & quotas' }).click()
      await page.locator('tr[data-username="alice"]').getByRole('button', { name: 'Quota' }).click()
      await page.getByTestId('quota-today').waitFor()
      await page.getByLabel('Tokens per day').fill('50000')
      await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click()
      await page.getByRole('dialog').waitFor({ state: 'hidden' })
      const res = await server.request('/api/quotas', { cookie: await server.login() })
      const { quotas } = (await res.json()) as {
        quotas: Array<{ scope: string; daily_token_limit: number | null }>
      }
      expect(quotas.find((q) => q.scope === 'user')?.daily_token_limit).toBe(50000)
      await page.getByRole('link', { name: 'Usage', exact: true }).click()
      await page.getByTestId('usage-total').getByText('0').waitFor()
      await page.getByText('No usage in this period.').first().waitFor()
      await screenshots(page, 'manage-usage-empty')
      await page.getByRole('link', { name: 'Sessions' }).click()
      await page.getByText('No sessions yet.').waitFor()
      await screenshots(page, 'manage-sessions-empty')
    },
    BROWSER_TEST_MS,
  )

  test(
    'audit log shows the events the walk-through caused',
    async () => {
      await page.getByRole('link', { name: 'Audit log' }).click()
      await page.waitForURL('**/manage/audit')
      for (const event of ['user.create', 'machine.registration_token.create', 'quota.set'])
        await page.locator(`tr[data-event="${event}"]`).first().waitFor()
      expect(await page.locator('tr[data-event="auth.login.failure"]').count()).toBeGreaterThan(0)
      await screenshots(page, 'manage-audit')
    },
    BROWSER_TEST_MS,
  )

  test(
    'the language switches to Chinese and stays chosen after a reload',
    async () => {
      await page.getByTestId('language-switch').first().selectOption('zh')
      await page.getByRole('heading', { name: '审计日志' }).waitFor()
      await page.reload()
      await page.getByRole('heading', { name: '审计日志' }).waitFor()
      expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN')
      await screenshots(page, 'manage-audit-zh')
      await page.getByTestId('language-switch').first().selectOption('en')
      await page.getByRole('heading', { name: 'Audit log' }).waitFor()
    },
    BROWSER_TEST_MS,
  )

  test(
    'a non-admin is turned away from /manage and sees no admin navigation',
    async () => {
      await logout(page)
      await signIn(page, 'alice', 'alice-password')
      expect(await page.getByTestId('admin-nav').count()).toBe(0)
      await page.goto('/manage/remote/machines')
      await page.waitForURL('**/workspace')
      await page.getByText('Only system administrators can open that page.').waitFor()
      await screenshots(page, 'non-admin-turned-away')
    },
    BROWSER_TEST_MS,
  )

  test(
    'the login rate limit is explained with the wait',
    async () => {
      await logout(page)
      for (let attempt = 1; attempt <= MAX_FAILURES; attempt++) {
        await login(page, 'mallory', 'guess')
        await expect(page.getByTestId('login-error').textContent()).resolves.toContain(
          'Invalid username or password',
        )
      }
      await login(page, 'mallory', 'guess')
      await page.getByText(/Too many failed attempts\. Try again in 15 minutes\./).waitFor()
      await screenshots(page, 'login-rate-limited')
    },
    BROWSER_TEST_MS,
  )
})
