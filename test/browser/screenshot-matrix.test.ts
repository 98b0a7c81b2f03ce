// Every page at 1280 and 390 px, light and dark, English and Chinese, against a server with the
// real agent binary connected: saved to test-output/screenshots/matrix/, and failing on any
// console error or page error, and on a page wider than a 390 px phone screen.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { Page } from 'playwright-core'
import { ensureAgentBinary, type RunningAgent } from '../support/agent-binary.ts'
import { standInCli, startCliMachine } from '../support/cli-session.ts'
import { browserApi } from '../support/client.ts'
import { ADMIN_PASSWORD, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import { type BrowserSuite, PHONE, SCREENSHOT_DIR, signIn, startBrowserSuite, WIDE } from './browser.ts'

const MATRIX_DIR = join(SCREENSHOT_DIR, 'matrix')
const STEP_MS = 600_000
const THEMES = ['light', 'dark'] as const
const LOCALES = ['en', 'zh'] as const

let suite: BrowserSuite
let server: TestServer
let page: Page
let agent: RunningAgent
const processes: Subprocess[] = []
const problems: string[] = []
let where = ''
/** A session with a conversation in it, for the admin session view. */
let sessionId = ''
/**
 * A stand-in Qwen Code: answers each message in its stream-json (an assistant message with a code
 * block, then the turn's result), so the admin session view has a conversation to render.
 */
const SCRIPTED_QWEN = `#!/usr/bin/env bash
if [ "$1" = "--version" ]; then echo "0.24.4"; exit 0; fi
while IFS= read -r line; do
  case "$line" in
    *'"type":"user"'*)
      printf '%s\\n' '{"type":"assistant","session_id":"matrix","message":{"role":"assistant","content":[{"type":"text","text":"Two files changed; the tests pass.\\n\\n\\u0060\\u0060\\u0060ts\\nexport const answer = 42\\n\\u0060\\u0060\\u0060"}]}}'
      printf '%s\\n' '{"type":"result","subtype":"success","session_id":"matrix","is_error":false,"result":"ok","duration_ms":1}'
      ;;
  esac
done
`

beforeAll(async () => {
  await ensureAgentBinary()
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
  const admin = await server.login()
  agent = await startCliMachine({
    serverUrl: server.url,
    admin,
    track: processes,
    path: [standInCli('qwen', SCRIPTED_QWEN)],
    onlineTimeoutMs: 60_000,
  })
  const client = browserApi(server.url, admin)
  const created = await client.remote.sessions.post({
    machine_id: agent.machineId,
    project_path: join(agent.dir, 'work'),
    cli_tool: 'qwen-code',
    title: 'Matrix session',
  })
  expect(created.status).toBe(201)
  sessionId = created.data!.session.session_id
  const session = client.remote.sessions({ id: sessionId })
  await waitUntil(async () => (await session.get()).data?.session.status === 'active', {
    what: 'the session active',
    timeoutMs: 30_000,
  })
  const said = await session.chat.post({ content: 'What changed?' })
  expect(said.status).toBeLessThan(300)
  await waitUntil(
    async () => JSON.stringify((await session.get()).data?.session.output).includes('Two files changed'),
    { what: 'the stand-in’s answer', timeoutMs: 30_000 },
  )
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${where}: console error: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`${where}: page error: ${error.message}`))
  mkdirSync(MATRIX_DIR, { recursive: true })
}, STEP_MS)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await Promise.all(processes.map((p) => p.exited))
  await suite?.close()
})

/** Sets the stored language and theme, as the switches do, for the next page load. */
async function choose(locale: string, theme: string) {
  await page.evaluate(
    ([l, th]) => {
      localStorage.setItem('openace.locale', l!)
      localStorage.setItem('openace.theme', th!)
    },
    [locale, theme],
  )
}

/** Opens the page and waits for it to settle: its main content drawn, no loading spinner left. */
async function visit(path: string) {
  await page.goto(path)
  await page.locator('main, form').first().waitFor()
  await page.waitForFunction(() => !document.querySelector('.spinner, [aria-busy="true"]'), undefined, {
    timeout: 15_000,
  })
}

async function shoot(name: string, locale: string, theme: string) {
  for (const size of [WIDE, PHONE]) {
    where = `${name} ${size.width}px ${theme} ${locale}`
    await page.setViewportSize(size)
    await page.evaluate(() => new Promise(requestAnimationFrame))
    if (size === PHONE) {
      // Canvases (the load charts) follow a width change a few frames late: wait for the
      // layout to settle, and only a page still too wide when it has is a problem.
      const fits = await page
        .waitForFunction(
          () => document.documentElement.scrollWidth <= document.documentElement.clientWidth,
          undefined,
          {
            timeout: 3000,
          },
        )
        .then(
          () => true,
          () => false,
        )
      if (!fits) {
        const over = await page.evaluate(() => {
          const width = document.documentElement.clientWidth
          const past = [...document.querySelectorAll('body *')].filter(
            (el) => el.getBoundingClientRect().right > width + 1,
          )
          const names = past.slice(-3).map((el) => `${el.tagName.toLowerCase()}.${el.className}`)
          return `${document.documentElement.scrollWidth - width} px wider than the screen (${names.join(', ')})`
        })
        problems.push(`${where}: ${over}`)
      }
    }
    await page.screenshot({
      path: join(MATRIX_DIR, `${name}-${size.width}-${theme}-${locale}.png`),
      fullPage: true,
    })
  }
  await page.setViewportSize(WIDE)
}

describe('screenshot matrix', () => {
  test(
    'every page, both widths, both themes, both languages: no console error, no overflow',
    async () => {
      const pages = [
        ['workspace', '/workspace'],
        ['tokens', '/tokens'],
        ['terminal', '/terminal'],
        ['machines', '/manage/remote/machines'],
        ['machine', `/manage/remote/machines/${agent.machineId}`],
        ['api-keys', '/manage/remote/api-keys'],
        ['sessions', '/manage/sessions'],
        ['session', `/manage/sessions/${sessionId}`],
        ['my-usage', '/usage'],
        ['users', '/manage/users'],
        ['tenants', '/manage/tenants'],
        ['usage', '/manage/usage'],
        ['audit', '/manage/audit'],
      ] as const
      await page.goto('/login')
      for (const locale of LOCALES)
        for (const theme of THEMES) {
          await choose(locale, theme)
          await visit('/login')
          await shoot('login', locale, theme)
        }
      await signIn(page, 'admin', ADMIN_PASSWORD)
      for (const locale of LOCALES)
        for (const theme of THEMES) {
          await choose(locale, theme)
          for (const [name, path] of pages) {
            where = `${name} ${theme} ${locale}`
            await visit(path)
            expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(theme)
            expect(await page.evaluate(() => document.documentElement.lang)).toBe(
              locale === 'zh' ? 'zh-CN' : 'en',
            )
            await shoot(name, locale, theme)
          }
        }
      expect(problems).toEqual([])
    },
    STEP_MS,
  )
})
