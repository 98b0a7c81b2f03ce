// /api/docs without internet: in Chromium with every request not bound for the server refused,
// the page loads its viewer (Swagger UI, served by the server from the swagger-ui-dist package)
// and lists the API's operations, under its CSP, with no console error and no outside request.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import { BROWSER_TEST_MS, type BrowserSuite, startBrowserSuite } from './browser.ts'

let suite: BrowserSuite
let page: Page
const refused: string[] = []
const consoleErrors: string[] = []

beforeAll(async () => {
  suite = await startBrowserSuite()
  page = suite.page
  const own = new URL(suite.server.url).host
  await suite.browser.context.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (url.host === own) return route.continue()
    refused.push(url.href)
    return route.abort('internetdisconnected')
  })
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => consoleErrors.push(error.message))
}, BROWSER_TEST_MS * 2)

afterAll(async () => {
  await suite?.close()
})

describe('API docs offline', () => {
  test(
    'the docs page shows the operations with the network beyond the server cut',
    async () => {
      const response = await page.goto('/api/docs')
      expect(response?.status()).toBe(200)
      expect(response?.headers()['content-security-policy']).toContain("script-src 'self'")
      await page.locator('.opblock').first().waitFor()
      expect(await page.locator('.opblock').count()).toBeGreaterThan(20)
      await expect(
        page.locator('.opblock-summary-path', { hasText: '/api/auth/login' }).count(),
      ).resolves.toBeGreaterThan(0)
      await expect(page.locator('.info .title').textContent()).resolves.toContain(
        'Open ACE Remote Workspace API',
      )
      expect(refused).toEqual([])
      expect(consoleErrors).toEqual([])
    },
    BROWSER_TEST_MS,
  )

  test('an unknown asset is a 404 in the one error shape', async () => {
    const res = await suite.server.request('/api/docs/assets/../../package.json')
    expect(res.status).toBe(404)
    const named = await suite.server.request('/api/docs/assets/index.html')
    expect(named.status).toBe(404)
    expect(((await named.json()) as { error: { type: string } }).error.type).toBe('not_found')
  })
})
