// Dark mode in a real browser: with no choice stored the page follows the OS (and changes when
// the OS does), the toggle's choice wins over the OS and survives a reload (set before the first
// paint, so no light flash), and the main surfaces really change colour, not just an attribute.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import { ADMIN_PASSWORD } from '../support/server.ts'
import { BROWSER_TEST_MS, type BrowserSuite, signIn, startBrowserSuite } from './browser.ts'

let suite: BrowserSuite
let page: Page

beforeAll(async () => {
  suite = await startBrowserSuite()
  page = suite.page
}, BROWSER_TEST_MS * 2)

afterAll(async () => {
  await suite?.close()
})

/** The relative luminance (0 dark .. 1 light) of an element's computed colour property. */
async function luminance(selector: string, property: 'color' | 'background-color'): Promise<number> {
  return page
    .locator(selector)
    .first()
    .evaluate((element, prop) => {
      const value = getComputedStyle(element).getPropertyValue(prop)
      const [r, g, b] = (value.match(/[\d.]+/g) ?? ['0', '0', '0']).map(Number) as [number, number, number]
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
    }, property)
}

const theme = () => page.evaluate(() => document.documentElement.dataset.theme)

describe('colour theme', () => {
  test(
    'follows the OS until the toggle picks a theme, which is kept across a reload',
    async () => {
      await page.emulateMedia({ colorScheme: 'dark' })
      await signIn(page, 'admin', ADMIN_PASSWORD)
      expect(await theme()).toBe('dark')
      expect(await luminance('body', 'color')).toBeGreaterThan(0.7)
      expect(await luminance('main', 'color')).toBeGreaterThan(0.7)
      expect(await page.getByTestId('theme-switch').inputValue()).toBe('system')

      await page.emulateMedia({ colorScheme: 'light' })
      await page.waitForFunction(() => document.documentElement.dataset.theme === 'light')
      expect(await luminance('main', 'color')).toBeLessThan(0.3)

      await page.getByTestId('theme-switch').selectOption('dark')
      expect(await theme()).toBe('dark')
      await page.goto('/manage/users')
      await page.getByRole('table').waitFor()
      expect(await theme()).toBe('dark')
      expect(await luminance('.card', 'background-color')).toBeLessThan(0.2)
      expect(await luminance('.table th', 'color')).toBeGreaterThan(0.5)

      // Before any script of the app runs the stored choice is already on the page.
      const firstPaint = await page.evaluate(async () => {
        const html = await (await fetch('/manage/users')).text()
        return /<script src="[^"]*\/theme\.js"><\/script>/.test(html.slice(0, html.indexOf('</head>')))
      })
      expect(firstPaint).toBe(true)

      await page.getByTestId('theme-switch').selectOption('system')
      expect(await theme()).toBe('light')
      await page.reload()
      await page.getByRole('table').waitFor()
      expect(await theme()).toBe('light')
      expect(await page.getByTestId('theme-switch').inputValue()).toBe('system')
    },
    BROWSER_TEST_MS * 2,
  )
})
