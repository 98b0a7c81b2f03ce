// Single sign-on in a real browser: the login page's "Sign in with <provider>" button, the
// provider's own login and consent pages (oidc-provider on loopback), the workspace; logout at
// the provider too; and every refusal code the callback can send, shown in words.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import * as en from '../../ui-svelte/src/lib/i18n/sign-in.ts'
import { reserveOidcProvider, type TestProvider } from '../support/oidc-provider.ts'
import { ADMIN_PASSWORD, startTestServer } from '../support/server.ts'
import { BROWSER_TEST_MS, type BrowserSuite, screenshots, startBrowserSuite } from './browser.ts'

let idp: TestProvider
let suite: BrowserSuite
let page: Page

beforeAll(async () => {
  idp = await reserveOidcProvider()
  suite = await startBrowserSuite({ env: idp.env({ OIDC_ALLOWED_EMAIL_DOMAINS: 'example.com' }) })
  idp.start(suite.server.url)
  idp.accounts.set('alice-sub', {
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Example',
    preferred_username: 'alice',
  })
  page = suite.page
}, BROWSER_TEST_MS * 3)

afterAll(async () => {
  await suite?.close()
  await idp?.stop()
})

describe('single sign-on in the browser', () => {
  test(
    "signs in through the provider's login and consent pages and lands in the workspace",
    async () => {
      await page.goto('/login')
      await page.waitForLoadState('networkidle')
      const button = page.getByRole('link', { name: 'Sign in with Test IdP' })
      await button.waitFor({ timeout: BROWSER_TEST_MS })
      // Passwords are on here: the form stays below the button.
      expect(await page.getByLabel(/password/i).count()).toBe(1)
      await screenshots(page, 'login-sso')
      await button.click()

      // The provider's own pages, on its own origin.
      await page.waitForURL(`${idp.issuer}/interaction/**`, { timeout: BROWSER_TEST_MS })
      await page.locator('input[name="login"]').fill('alice-sub')
      await page.locator('input[name="password"]').fill('any password')
      await page.getByRole('button', { name: 'Sign-in' }).click()
      await page.getByRole('button', { name: 'Continue' }).click({ timeout: BROWSER_TEST_MS })

      await page.waitForURL('**/workspace', { timeout: BROWSER_TEST_MS })
      expect(new URL(page.url()).origin).toBe(suite.server.url)
      const me = await page.evaluate(async () => (await fetch('/api/auth/me')).json())
      expect(me.user).toMatchObject({ username: 'alice', email: 'alice@example.com' })
    },
    BROWSER_TEST_MS * 3,
  )

  test(
    'logout ends the sign-in at the provider too and comes back to the login page',
    async () => {
      await page.getByRole('button', { name: /log out/i }).click()
      await page.waitForURL(`${idp.issuer}/session/end**`, { timeout: BROWSER_TEST_MS })
      await page.getByRole('button', { name: 'Yes, sign me out' }).click()
      await page.waitForURL(`${suite.server.url}/login`, { timeout: BROWSER_TEST_MS })
      const status = await page.evaluate(async () => (await fetch('/api/auth/me')).status)
      expect(status).toBe(401)
    },
    BROWSER_TEST_MS * 2,
  )

  test(
    'every refusal the callback sends is shown in words',
    async () => {
      const codes = Object.keys(en.en)
        .filter((key) => key.startsWith('login.error.oidc_'))
        .map((key) => key.slice('login.error.'.length))
      expect(codes.length).toBeGreaterThan(8)
      for (const code of codes) {
        await page.goto(`/login?error=${code}`)
        const alert = page.getByTestId('login-provider-error')
        await alert.waitFor({ timeout: BROWSER_TEST_MS })
        expect(await alert.textContent()).toBe(en.en[`login.error.${code}` as keyof typeof en.en])
      }
      await page.goto('/login?error=something_new')
      expect(await page.getByTestId('login-provider-error').textContent()).toBe(en.en['login.error.unknown'])
    },
    BROWSER_TEST_MS * 3,
  )
})

describe('passwords off except for the break-glass administrator', () => {
  test(
    'the login page shows only the provider, and a small link opens the password form for the admin',
    async () => {
      const strictIdp = await reserveOidcProvider()
      const strict = await startTestServer({
        listen: true,
        env: strictIdp.env({ PASSWORD_LOGIN: 'break-glass-only', OIDC_PROVIDER_NAME: 'Acme SSO' }),
      })
      try {
        strictIdp.start(strict.url)
        await page.goto(`${strict.url}/login`)
        await page.getByRole('link', { name: 'Sign in with Acme SSO' }).waitFor({ timeout: BROWSER_TEST_MS })
        await page.getByText(en.en['login.passwordOff'].replace('{name}', 'Acme SSO')).waitFor()
        expect(await page.getByLabel(/password/i).count()).toBe(0)
        await screenshots(page, 'login-sso-break-glass')
        await page.getByRole('button', { name: en.en['login.breakGlass'] }).click()
        await page.getByLabel(/username/i).fill('admin')
        await page.getByLabel(/password/i).fill(ADMIN_PASSWORD)
        await page.getByRole('button', { name: /^sign in$/i }).click()
        await page.waitForURL(`${strict.url}/workspace`, { timeout: BROWSER_TEST_MS })
      } finally {
        await strict.stop()
        await strictIdp.stop()
      }
    },
    BROWSER_TEST_MS * 3,
  )
})
