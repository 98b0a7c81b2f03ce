// The usage pages in a real browser, on usage made by real proxied calls: the admin's page
// shows every split, per provider summing to the total, costs from the price table, an
// over-limit user marked; the CSV download parses back to the shown numbers; a plain user's My
// usage page and the sidebar meter show their own usage against their limit. Screenshots.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { parse } from 'csv-parse/sync'
import type { Page } from 'playwright-core'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { proxyChat, proxyMessages, proxyTokenFor, storeKey } from '../support/llm-proxy.ts'
import { ADMIN_PASSWORD, createUser, type TestServer } from '../support/server.ts'
import {
  BROWSER_TEST_MS,
  type BrowserSuite,
  logout,
  screenshots,
  signIn,
  startBrowserSuite,
} from './browser.ts'

const OPENAI_KEY = 'sk-usage-browser-0001'
const ANTHROPIC_KEY = 'sk-ant-usage-browser-0002'

let suite: BrowserSuite
let server: TestServer
let page: Page
let fake: FakeLlm

/** One proxied call of the user's, spending the usage the fake upstream gives its key. */
async function spend(userId: number, provider: 'openai' | 'anthropic') {
  const { token } = await proxyTokenFor(server, userId, { provider })
  const res =
    provider === 'openai'
      ? await proxyChat(server, token, { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] })
      : await proxyMessages(server, token, {
          model: 'claude-test',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'hi' }],
        })
  if (res.status !== 200) throw new Error(`proxy: ${res.status}`)
  await res.text()
}

beforeAll(async () => {
  fake = await startFakeLlm({
    forKey: {
      [OPENAI_KEY]: { usage: { input: 1000, output: 155 }, model: 'gpt-test' },
      [ANTHROPIC_KEY]: { usage: { input: 400, output: 100 }, model: 'claude-test' },
    },
  })
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
  const admin = await server.login()
  await storeKey(server, admin, {
    provider: 'openai',
    key_name: 'oa-main',
    api_key: OPENAI_KEY,
    base_url: `${fake.url}/v1`,
  })
  await storeKey(server, admin, {
    provider: 'anthropic',
    key_name: 'an-main',
    api_key: ANTHROPIC_KEY,
    base_url: fake.url,
  })
  const mia = await createUser(server, admin, 'mia')
  const noah = await createUser(server, admin, 'noah')
  await spend(mia.id, 'openai')
  await spend(mia.id, 'openai')
  await spend(mia.id, 'anthropic')
  await spend(noah.id, 'anthropic')
  await server.request('/api/usage/prices', {
    method: 'PUT',
    cookie: admin,
    json: { provider: 'openai', model: 'gpt-test', input_per_million: 2.5, output_per_million: 10 },
  })
  // Set after the calls: mia is at 2,810 of 1,000 today.
  await server.request(`/api/quotas/users/${mia.id}`, {
    method: 'PUT',
    cookie: admin,
    json: { daily_token_limit: 1000 },
  })
}, BROWSER_TEST_MS * 3)

afterAll(async () => {
  await suite?.close()
  await fake?.close()
})

const num = (text: string | null | undefined) => Number((text ?? '').replace(/[^\d]/g, ''))

async function column(testId: string): Promise<Array<[string, string]>> {
  return page
    .locator(`[data-testid="${testId}"] tbody tr`)
    .evaluateAll((trs) =>
      trs.map((tr): [string, string] => [
        tr.getAttribute('data-split-row') ?? '',
        tr.querySelector('[data-col="tokens"]')?.textContent ?? '',
      ]),
    )
}

describe('usage pages', () => {
  test(
    "the admin's page: per provider sums to the total, cost from prices, an over-limit user marked",
    async () => {
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.goto('/manage/usage')
      await page.getByTestId('usage-total').getByText('3,310').waitFor()
      const providers = await column('usage-by-provider')
      expect(providers.map(([k, v]) => [k, num(v)])).toEqual([
        ['anthropic', 1000],
        ['openai', 2310],
      ])
      expect(providers.reduce((s, [, v]) => s + num(v), 0)).toBe(
        num(await page.getByTestId('usage-total').textContent()),
      )
      for (const split of ['usage-by-model', 'usage-by-key', 'usage-by-machine', 'usage-by-user'])
        expect((await column(split)).reduce((s, [, v]) => s + num(v), 0)).toBe(3310)
      // 2 calls of 1,000 in at $2.50/M and 155 out at $10/M.
      expect(await page.getByTestId('usage-cost').textContent()).toBe('$0.0081')
      const mia = page.locator('[data-testid="usage-by-user"] tr[data-split-row="mia"]')
      const over = mia.locator('[data-over="true"]')
      expect((await over.textContent())?.replace(/\s+/g, ' ')).toBe('2,810 / 1,000')
      expect(
        await page
          .locator('[data-testid="usage-by-user"] tr[data-split-row="noah"] [data-over="true"]')
          .count(),
      ).toBe(0)
      await page.locator('[data-testid="usage-chart"][data-days-with-usage="1"]').waitFor()
      await screenshots(page, 'manage-usage')
    },
    BROWSER_TEST_MS,
  )

  test(
    'the CSV download parses back to the numbers shown',
    async () => {
      await page.getByTestId('usage-export-group').first().selectOption('provider')
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('usage-export').first().click(),
      ])
      const csv = parse(await Bun.file((await download.path())!).text(), {
        bom: true,
        columns: true,
      }) as Record<string, string>[]
      const shown = (await column('usage-by-provider')).map(([k, v]) => [k, num(v)])
      expect(csv.map((r) => [r.provider, Number(r.total_tokens)])).toEqual(shown)
    },
    BROWSER_TEST_MS,
  )

  test(
    'a plain user: My usage with their own quota standing, and the meter in the workspace',
    async () => {
      await logout(page)
      await signIn(page, 'mia', 'mia-password')
      const meter = page.getByTestId('usage-meter').first()
      await meter.waitFor()
      expect(await meter.textContent()).toContain('Today 2.8K / 1K tokens')
      await screenshots(page, 'workspace-usage-meter')
      await meter.click()
      await page.waitForURL('**/usage')
      const today = page.getByTestId('my-today').locator('[data-over="true"]')
      await today.waitFor()
      expect((await today.textContent())?.replace(/\s+/g, ' ')).toBe('2,810 / 1,000')
      await page.getByTestId('usage-total').getByText('2,810').waitFor()
      expect(await page.locator('[data-testid="usage-by-user"]').count()).toBe(0)
      const providers = await column('usage-by-provider')
      expect(providers.map(([k, v]) => [k, num(v)])).toEqual([
        ['anthropic', 500],
        ['openai', 2310],
      ])
      await screenshots(page, 'my-usage')
      await page.getByTestId('language-switch').first().selectOption('zh')
      await page.getByRole('heading', { name: '我的用量' }).waitFor()
      await screenshots(page, 'my-usage-zh')
      await page.getByTestId('language-switch').first().selectOption('en')
    },
    BROWSER_TEST_MS,
  )
})
