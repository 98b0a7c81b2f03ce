// The API keys page in a real browser: a key test reports success with the models the key
// serves, and failure in words for a key the upstream refuses (401) and one pointed at a closed
// port; a key is renamed and re-pointed in its edit dialog; a bad key name is refused in words
// (en and zh), never with the regex. Screenshots at 1280 and 390 px.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { storeKey } from '../support/llm-proxy.ts'
import { ADMIN_PASSWORD, type TestServer } from '../support/server.ts'
import { BROWSER_TEST_MS, type BrowserSuite, screenshots, signIn, startBrowserSuite } from './browser.ts'

const GOOD = 'sk-browser-good-1111'
const REFUSED = 'sk-browser-refused-2222'

let suite: BrowserSuite
let server: TestServer
let page: Page
let fake: FakeLlm
let closedPort: number

beforeAll(async () => {
  fake = await startFakeLlm({
    models: ['fake-small', 'fake-large'],
    forKey: { [REFUSED]: { status: 401, errorMessage: 'Incorrect API key provided' } },
  })
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') })
  closedPort = probe.port!
  await probe.stop(true)
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
  const admin = await server.login()
  await storeKey(server, admin, {
    provider: 'openai',
    key_name: 'working',
    api_key: GOOD,
    base_url: `${fake.url}/v1`,
  })
  await storeKey(server, admin, {
    provider: 'openai',
    key_name: 'refused',
    api_key: REFUSED,
    base_url: `${fake.url}/v1`,
  })
  await storeKey(server, admin, {
    provider: 'anthropic',
    key_name: 'closed-port',
    api_key: GOOD,
    base_url: `http://127.0.0.1:${closedPort}`,
  })
}, BROWSER_TEST_MS * 3)

afterAll(async () => {
  await suite?.close()
  await fake?.close()
})

const row = (name: string) => page.locator(`tr[data-key-name="${name}"]`)

async function testKey(name: string) {
  await row(name).getByTestId('key-test').click()
  const result = page.locator(`tr[data-key-result="${name}"]`).getByTestId('key-test-result')
  await result.waitFor()
  return { ok: await result.getAttribute('data-ok'), text: (await result.textContent()) ?? '' }
}

describe('API keys: test, edit, models', () => {
  test(
    'a key test reports success with its models, and failures in words; the key never shows',
    async () => {
      await signIn(page, 'admin', ADMIN_PASSWORD)
      await page.goto('/manage/remote/api-keys')
      await row('working').getByTestId('key-models').getByText('2 models').waitFor()

      const good = await testKey('working')
      expect(good.ok).toBe('true')
      expect(good.text).toMatch(/Works: 2 models \(\d+ ms\)/)
      await row('working').getByTestId('key-models').getByText('2 models').click()
      await row('working').getByText('fake-large').waitFor()

      const refused = await testKey('refused')
      expect(refused.ok).toBe('false')
      expect(refused.text).toContain('The openai API answered 401 Unauthorized: Incorrect API key provided')

      const closed = await testKey('closed-port')
      expect(closed.ok).toBe('false')
      expect(closed.text).toContain(`Could not reach http://127.0.0.1:${closedPort}: connection refused`)

      const html = await page.content()
      for (const secret of [GOOD, REFUSED]) expect(html).not.toContain(secret)
      await screenshots(page, 'manage-api-keys')
    },
    BROWSER_TEST_MS,
  )

  test(
    'the edit dialog renames and re-points a key; a bad name is refused in words, en and zh',
    async () => {
      await row('refused').getByRole('button', { name: 'Edit' }).click()
      const dialog = page.getByRole('dialog')
      await dialog.locator('input[name="key_name"]').fill('bad name')
      await dialog.getByRole('button', { name: 'Save' }).click()
      const alert = dialog.getByRole('alert')
      await alert.waitFor()
      expect(await alert.textContent()).toBe(
        'The key name may contain only letters, digits, ".", "_" and "-" (no spaces).',
      )
      expect(await dialog.locator('input[name="key_name"]').getAttribute('aria-invalid')).toBe('true')

      await dialog.locator('input[name="key_name"]').fill('renamed')
      await dialog.locator('input[name="base_url"]').fill(`${fake.url}/v1/`)
      await dialog.getByRole('button', { name: 'Save' }).click()
      await row('renamed').waitFor()
      expect(await row('renamed').textContent()).toContain(`${fake.url}/v1`)

      await page.getByTestId('language-switch').first().selectOption('zh')
      await row('renamed').getByRole('button', { name: '编辑' }).click()
      await dialog.locator('input[name="key_name"]').fill('坏 名字')
      await dialog.getByRole('button', { name: '保存' }).click()
      await dialog.getByRole('alert').getByText('密钥名称只能包含字母、数字').waitFor()
      expect(await dialog.getByRole('alert').textContent()).not.toContain('^[A-Za-z0-9')
      await dialog.getByRole('button', { name: '取消' }).click()
      await screenshots(page, 'manage-api-keys-zh')
      await page.getByTestId('language-switch').first().selectOption('en')
    },
    BROWSER_TEST_MS,
  )
})
