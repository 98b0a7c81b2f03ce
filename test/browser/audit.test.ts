// The audit page in a real browser: events in words (en and zh), actors and targets by name,
// still by name after the user is deleted, details as fields, filters by actor and target, and
// the CSV download parsing back to the rows shown. Screenshots at 1280 and 390 px.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { parse } from 'csv-parse/sync'
import type { Page } from 'playwright-core'
import { ADMIN_PASSWORD, createUser, type TestServer } from '../support/server.ts'
import { BROWSER_TEST_MS, type BrowserSuite, screenshots, signIn, startBrowserSuite } from './browser.ts'

let suite: BrowserSuite
let server: TestServer
let page: Page

beforeAll(async () => {
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
  const admin = await server.login()
  const zoe = await createUser(server, admin, 'zoe-audited')
  const del = await server.request(`/api/users/${zoe.id}`, { method: 'DELETE', cookie: admin })
  if (del.status !== 200) throw new Error(`delete: ${del.status}`)
}, BROWSER_TEST_MS * 3)

afterAll(async () => {
  await suite?.close()
})

const rows = () => page.locator('[data-testid="audit-table"] tbody tr')

describe('audit page', () => {
  test(
    'a deleted user still shows by name; events and details read in words; filters narrow',
    async () => {
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.goto('/manage/audit')
      await page.locator('input[name="target"]').fill('zoe-aud')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.locator('tr[data-event="user.delete"]').waitFor()
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid="audit-table"] tbody tr').length === 3,
      )
      const shown = await rows().evaluateAll((trs) =>
        trs.map((tr) => ({
          event: tr.querySelector('[data-testid="audit-event"]')?.textContent?.trim(),
          actor: tr.querySelector('[data-testid="audit-actor"]')?.textContent?.replace(/\s+/g, ' ').trim(),
          target: tr.querySelector('[data-testid="audit-target"]')?.textContent?.replace(/\s+/g, ' ').trim(),
        })),
      )
      expect(shown).toEqual([
        { event: 'User deleted', actor: 'User admin', target: 'User zoe-audited' },
        { event: 'Signed in', actor: 'User zoe-audited', target: 'User zoe-audited' },
        { event: 'User created', actor: 'User admin', target: 'User zoe-audited' },
      ])
      const created = page.locator('tr[data-event="user.create"] [data-testid="audit-details"]')
      const pairs = await created.evaluate((dl) =>
        [...dl.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]),
      )
      expect(pairs).toContainEqual(['username', 'zoe-audited'])
      expect(pairs).toContainEqual(['tenant id', '1'])
      expect(await page.locator('[data-testid="audit-table"]').textContent()).not.toContain('{"')

      await page.locator('input[name="actor"]').fill('zoe')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid="audit-table"] tbody tr').length === 1,
      )
      expect(await rows().first().getAttribute('data-event')).toBe('auth.login')
      await page.locator('input[name="actor"]').fill('')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.waitForFunction(
        () => document.querySelectorAll('[data-testid="audit-table"] tbody tr').length === 3,
      )
      await screenshots(page, 'manage-audit')
    },
    BROWSER_TEST_MS,
  )

  test(
    'the CSV download parses back to the rows shown',
    async () => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('audit-export').click(),
      ])
      expect(download.suggestedFilename()).toMatch(/^audit-\d{4}-\d{2}-\d{2}\.csv$/)
      const text = await Bun.file((await download.path())!).text()
      const csv = parse(text, { bom: true, columns: true }) as Record<string, string>[]
      expect(csv.map((r) => [r.event, r.actor_name, r.target_name])).toEqual([
        ['user.delete', 'admin', 'zoe-audited'],
        ['auth.login', 'zoe-audited', 'zoe-audited'],
        ['user.create', 'admin', 'zoe-audited'],
      ])
    },
    BROWSER_TEST_MS,
  )

  test(
    'in Chinese: every event and type in words',
    async () => {
      await page.getByTestId('language-switch').first().selectOption('zh')
      await page.locator('tr[data-event="user.delete"]').getByText('已删除用户').waitFor()
      expect(
        await page.locator('tr[data-event="user.create"] [data-testid="audit-event"]').textContent(),
      ).toBe('已创建用户')
      expect(
        await page.locator('tr[data-event="auth.login"] [data-testid="audit-target"]').textContent(),
      ).toContain('用户')
      await screenshots(page, 'manage-audit-zh')
      await page.getByTestId('language-switch').first().selectOption('en')
    },
    BROWSER_TEST_MS,
  )
})
