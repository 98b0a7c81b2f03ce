// Browser-test support: builds the UI when it has not been built, and drives Debian's Chromium
// (never a downloaded browser) through playwright-core with a fresh profile per run.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { uiBuildIsStale } from '../../scripts/prepare.ts'
import { FAKE_CAPABILITIES, FakeAgent } from '../support/fake-agent.ts'
import { startTestServer, type TestServer } from '../support/server.ts'

export const ROOT = join(import.meta.dir, '../..')
export const SCREENSHOT_DIR = join(ROOT, 'test-output/screenshots')
export const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
]
/** How long one browser step may take. */
export const BROWSER_TEST_MS = 60_000
export const WIDE = { width: 1280, height: 800 }
export const PHONE = { width: 390, height: 844 }

/** Builds ui-svelte/build when it is missing or older than its sources, so tests see today's UI. */
export function ensureUiBuilt(): void {
  if (!uiBuildIsStale()) return
  const result = Bun.spawnSync(['bun', 'run', 'build:ui'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  if (result.exitCode !== 0) throw new Error(`bun run build:ui failed:\n${result.stderr.toString()}`)
}

export interface Browser {
  context: BrowserContext
  page: Page
  close(): Promise<void>
}

export async function openBrowser(baseUrl: string, locale = 'en-US'): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
  const profile = mkdtempSync(join(tmpdir(), 'oa-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: WIDE,
    locale,
    baseURL: baseUrl,
  })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl })
  const page = context.pages()[0] ?? (await context.newPage())
  return {
    context,
    page,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** What each browser test file starts from: a listening server with the built UI, and Chromium. */
export interface BrowserSuite {
  server: TestServer
  browser: Browser
  page: Page
  /** Closes the browser, then stops the server. */
  close(): Promise<void>
}

export interface BrowserSuiteOptions {
  env?: Record<string, string>
  /** The address the browser opens instead of the server's own (a proxy in front of it). */
  via?: (server: TestServer) => string
}

export async function startBrowserSuite(options: BrowserSuiteOptions = {}): Promise<BrowserSuite> {
  ensureUiBuilt()
  const server = await startTestServer({ listen: true, env: options.env })
  try {
    const browser = await openBrowser(options.via?.(server) ?? server.url)
    return {
      server,
      browser,
      page: browser.page,
      async close() {
        await browser.close()
        await server.stop()
      },
    }
  } catch (error) {
    await server.stop()
    throw error
  }
}

/** Saves the page at desktop and phone width: `<name>-1280.png` and `<name>-390.png`. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  for (const size of [WIDE, PHONE]) {
    await page.setViewportSize(size)
    await page.waitForTimeout(150)
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${size.width}.png`), fullPage: true })
  }
  await page.setViewportSize(WIDE)
}

/** What the browser tests' machine reports, at registration and again in every hello. */
const MACHINE_CAPABILITIES = {
  ...FAKE_CAPABILITIES,
  cpu_cores: 8,
  memory_gb: 32,
  work_dir: '/home/alice/project',
}

/** What the install script does with a registration token: the agent's own registration call. */
export async function registerAgent(server: TestServer, token: string, name: string) {
  const machineId = crypto.randomUUID()
  const res = await server.request('/api/remote/agent/register', {
    method: 'POST',
    json: {
      registration_token: token,
      machine_id: machineId,
      machine_name: name,
      hostname: `${name}.local`,
      os_type: 'linux',
      os_version: 'Debian 12',
      capabilities: MACHINE_CAPABILITIES,
      agent_version: '1.0.0',
    },
  })
  if (res.status !== 200) throw new Error(`register: ${res.status} ${await res.text()}`)
  return { machineId, agentToken: ((await res.json()) as { agent_token: string }).agent_token }
}

/** Connects the protocol test agent for a registered machine, over WebSocket. */
export async function connectAgent(
  server: TestServer,
  machine: { machineId: string; agentToken: string },
): Promise<FakeAgent> {
  const agent = new FakeAgent({
    url: server.url,
    token: machine.agentToken,
    machineId: machine.machineId,
    transport: 'websocket',
    capabilities: MACHINE_CAPABILITIES,
  })
  await agent.connect()
  return agent
}

/** Signs in through the login form (labels match in either language). */
export async function login(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/login')
  // The app's start-up requests settle first, so nothing re-renders the form under the test.
  await page.waitForLoadState('networkidle')
  await page.getByLabel(/username|用户名/i).fill(username)
  await page.getByLabel(/password|密码/i).fill(password)
  await Promise.all([
    page.waitForResponse((res) => new URL(res.url()).pathname === '/api/auth/login'),
    page.getByRole('button', { name: /sign in|登录/i }).click(),
  ])
}

/** Signs in and waits for the workspace, where every sign-in lands. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await login(page, username, password)
  await page.waitForURL('**/workspace')
}

export async function logout(page: Page): Promise<void> {
  await page.getByRole('button', { name: /log out|退出登录/i }).click()
  await page.waitForURL('**/login')
}
