// The API keys page's health columns in a real browser: after one proxied call in which the
// upstream refused the first key (401, about the key) and the proxy failed over to the second,
// the first shows as cooling down with its error rate, the second as healthy and just used, a
// key never tried as such; in Chinese too. Its own server: the call leaves usage and a session
// behind, which ui.test.ts's walk-through expects to find empty.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { proxyTokenFor, storeKey } from '../support/llm-proxy.ts'
import { ADMIN_PASSWORD, type TestServer } from '../support/server.ts'
import { BROWSER_TEST_MS, type BrowserSuite, screenshots, signIn, startBrowserSuite } from './browser.ts'

const REFUSED_KEY = 'sk-ant-refused-0001'

let suite: BrowserSuite
let server: TestServer
let page: Page
let fake: FakeLlm

beforeAll(async () => {
  fake = await startFakeLlm({ reply: 'ok', forKey: { [REFUSED_KEY]: { status: 401 } } })
  // The cooldown outlasts the test on a slow machine.
  suite = await startBrowserSuite({ env: { LLM_PROXY_KEY_COOLDOWN_MS: '600000' } })
  server = suite.server
  page = suite.page
}, BROWSER_TEST_MS * 3)

afterAll(async () => {
  await suite?.close()
  await fake?.close()
})

const row = (name: string) => page.locator(`tr[data-key-name="${name}"]`)

describe('API key health in the UI', () => {
  test(
    'a key the upstream refused is cooling down with its error rate; the one that answered is healthy',
    async () => {
      const admin = await server.login()
      await storeKey(server, admin, {
        provider: 'anthropic',
        key_name: 'refused',
        api_key: REFUSED_KEY,
        base_url: fake.url,
      })
      await storeKey(server, admin, {
        provider: 'anthropic',
        key_name: 'working',
        api_key: 'sk-ant-working-0002',
        base_url: fake.url,
      })
      await storeKey(server, admin, { provider: 'openai', key_name: 'unused', api_key: 'sk-unused-0003' })
      const { token } = await proxyTokenFor(server, 1, { provider: 'anthropic' })
      const res = await server.request('/api/remote/llm-proxy/v1/messages', {
        method: 'POST',
        headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01' },
        json: { model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
      })
      expect(res.status).toBe(200)
      await res.text()
      expect(fake.requests.map((r) => r.key)).toEqual([REFUSED_KEY, 'sk-ant-working-0002'])

      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.getByRole('link', { name: 'API keys' }).click()
      await page.waitForURL('**/manage/remote/api-keys')
      await row('refused').locator('[data-testid="key-health"] [data-status="cooling_down"]').waitFor()
      expect(await row('refused').getByTestId('key-health').textContent()).toMatch(/ends in \d+ minutes?/)
      expect(await row('refused').getByTestId('key-error-rate').textContent()).toContain('100% of 1 calls')
      expect(await row('refused').getByTestId('key-last-used').textContent()).not.toContain('never')
      await row('working').locator('[data-testid="key-health"] [data-status="healthy"]').waitFor()
      expect(await row('working').getByTestId('key-error-rate').textContent()).toContain('0% of 1 calls')
      expect(await row('working').getByTestId('key-last-used').textContent()).not.toContain('never')
      expect(await row('unused').getByTestId('key-error-rate').textContent()).toContain('No calls yet')
      expect(await row('unused').getByTestId('key-last-used').textContent()).toContain('never')
      await screenshots(page, 'manage-api-keys-health')
    },
    BROWSER_TEST_MS,
  )

  test(
    'the same columns in Chinese',
    async () => {
      await page.getByTestId('language-switch').first().selectOption('zh')
      await row('refused').locator('[data-status="cooling_down"]').getByText('冷却中').waitFor()
      expect(await row('refused').getByTestId('key-error-rate').textContent()).toContain('1 次调用中 100%')
      expect(await row('working').locator('[data-status="healthy"]').textContent()).toContain('正常')
      expect(await row('unused').getByTestId('key-error-rate').textContent()).toContain('尚无调用')
      expect(await page.getByRole('columnheader', { name: '健康状态' }).count()).toBe(1)
      await screenshots(page, 'manage-api-keys-health-zh')
    },
    BROWSER_TEST_MS,
  )
})
