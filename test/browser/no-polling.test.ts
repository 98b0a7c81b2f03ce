// No list polls: every admin list page and the workspace, left idle, make no request for 10 s
// (what changes reaches them on their live streams). The pages open side by side in one
// browser, in two batches (Chromium keeps six connections per server over HTTP/1.1, each open
// stream holds one, and headless pages all count as visible), each waits until its start-up requests are done, then a batch is
// watched together.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import type { FakeAgent } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD, createUser } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import { type BrowserSuite, connectAgent, registerAgent, signIn, startBrowserSuite } from './browser.ts'

/** The acceptance window: an idle page makes no request in it. */
const IDLE_WINDOW_MS = 10_000
/** Start-up is over once no request has started or been open for this long. */
const SETTLED_MS = 1000
const BATCHES = [
  ['/workspace', '/manage/remote/machines', '/manage/users', '/manage/tenants'],
  ['/manage/remote/api-keys', '/manage/sessions', '/manage/usage', '/manage/audit'],
]
/** The live streams stay open (one request each, made at start-up); they are not polls. */
const isStream = (url: string) => new URL(url).pathname.endsWith('/events')

let suite: BrowserSuite
let agent: FakeAgent

beforeAll(async () => {
  suite = await startBrowserSuite()
  const admin = await suite.server.login()
  await createUser(suite.server, admin, 'idle-user')
  const token = await suite.server.request('/api/remote/machines/register', {
    method: 'POST',
    cookie: admin,
    json: { tenant_id: 1 },
  })
  const { registration_token } = (await token.json()) as { registration_token: string }
  agent = await connectAgent(suite.server, await registerAgent(suite.server, registration_token, 'idle-box'))
  await signIn(suite.page, 'admin', ADMIN_PASSWORD)
  // The sign-in tab's streams would take two of the six connections the batches need.
  await suite.page.goto('about:blank')
}, 120_000)

afterAll(async () => {
  await agent?.close()
  await suite?.close()
})

interface Watched {
  path: string
  page: Page
  inFlight: Set<unknown>
  lastActivity: number
  /** Requests started since counting began. */
  counted: string[]
  counting: boolean
}

async function watch(path: string): Promise<Watched> {
  const page = await suite.browser.context.newPage()
  const watched: Watched = {
    path,
    page,
    inFlight: new Set(),
    lastActivity: Date.now(),
    counted: [],
    counting: false,
  }
  page.on('request', (request) => {
    if (isStream(request.url())) return
    watched.lastActivity = Date.now()
    watched.inFlight.add(request)
    if (watched.counting) watched.counted.push(`${request.method()} ${new URL(request.url()).pathname}`)
  })
  const done = (request: { url(): string }) => {
    if (isStream(request.url())) return
    watched.lastActivity = Date.now()
    watched.inFlight.delete(request)
  }
  page.on('requestfinished', done)
  page.on('requestfailed', done)
  await page.goto(path)
  return watched
}

describe('no polling timers in the UI', () => {
  test('every admin list page and the workspace make no request in 10 s of idling', async () => {
    let machines: Watched | undefined
    for (const batch of BATCHES) {
      const watched = await Promise.all(batch.map(watch))
      await waitUntil(
        () => watched.every((w) => w.inFlight.size === 0 && Date.now() - w.lastActivity >= SETTLED_MS),
        {
          what: 'the pages to finish starting up',
          timeoutMs: 30_000,
        },
      )
      for (const w of watched) w.counting = true
      const started = Date.now()
      await waitUntil(() => Date.now() - started >= IDLE_WINDOW_MS, {
        what: 'the idle window to pass',
        timeoutMs: IDLE_WINDOW_MS + 5000,
      })
      const requests = Object.fromEntries(watched.map((w) => [w.path, w.counted]))
      expect(requests).toEqual(Object.fromEntries(batch.map((path) => [path, []])))
      for (const w of watched) {
        if (w.path === '/manage/remote/machines') machines = w
        else await w.page.close()
      }
    }
    // The lists are live all the same: a machine's change reaches the machines page at once.
    if (!machines) throw new Error('the machines page was not watched')
    const refetched = machines.page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/api/remote/machines',
    )
    const admin = await suite.server.login()
    await suite.server.request(`/api/remote/machines/${agent.options.machineId}/terminal-access`, {
      method: 'PUT',
      cookie: admin,
      json: { terminal_access: 'admins' },
    })
    await refetched
    await machines.page.close()
  }, 120_000)
})
