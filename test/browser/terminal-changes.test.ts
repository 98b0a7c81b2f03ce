// The web terminal and the changes panel in a real browser, with the compiled agent binary:
// a shell echoes what is typed, follows the window's size, and a reload shows the old screen; a
// stand-in CLI edits two files of a git repository, the changes panel shows their diffs, and
// reverting one hunk by clicking leaves the other (checked on disk and through the API). A
// permission prompt for an edit (from the protocol test agent) shows the exact change as a diff;
// a plain user is told the machine's policy refuses them, and a revocation closes their terminal.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { Locator, Page } from 'playwright-core'
import type { FileDiff } from '../../protocol/index.ts'
import { ensureAgentBinary, type RunningAgent } from '../support/agent-binary.ts'
import { standInCli, startCliMachine } from '../support/cli-session.ts'
import { browserApi } from '../support/client.ts'
import type { FakeAgent } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD, createUser, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import {
  BROWSER_TEST_MS,
  type BrowserSuite,
  connectAgent,
  logout,
  PHONE,
  registerAgent,
  screenshots,
  signIn,
  startBrowserSuite,
  WIDE,
} from './browser.ts'

/** Steps that wait on a shell or the agent's answers: generous, for a loaded 2-core machine. */
const STEP_MS = BROWSER_TEST_MS * 2
const LINES = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`)
let suite: BrowserSuite
let server: TestServer
let page: Page
let admin: string

/** The typed client as the admin (the cookie is set once the server is up). */
const asAdmin = () => browserApi(server.url, admin)
let agent: RunningAgent
let fake: FakeAgent | undefined
const processes: Subprocess[] = []
let cliDir: string
/** What the page's Content-Security-Policy refused (xterm and diff2html must need nothing more). */
const refused: string[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  // The stand-in CLI edits line 2 and line 18 of a.txt (two hunks) and appends to b.txt.
  cliDir = standInCli(
    'editing-cli',
    '#!/bin/sh\n[ -f a.txt ] && sed -i -e "s/^line 2$/line two/" -e "s/^line 18$/line eighteen/" a.txt\n' +
      '[ -f b.txt ] && echo "added by the cli" >> b.txt\necho edited\nexec sleep 600\n',
  )
  suite = await startBrowserSuite()
  server = suite.server
  page = suite.page
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) refused.push(message.text())
  })
  admin = await server.login()
  agent = await startCliMachine({
    serverUrl: server.url,
    admin,
    track: processes,
    allowCliTools: ['editing-cli'],
    path: [cliDir],
    env: { SHELL: '/bin/bash' },
    onlineTimeoutMs: 60_000,
  })
  await signIn(page, 'admin', ADMIN_PASSWORD)
}, 300_000)

afterAll(async () => {
  await fake?.close()
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await Promise.all(processes.map((p) => p.exited))
  await suite?.close()
  if (agent) rmSync(agent.dir, { recursive: true, force: true })
  if (cliDir) rmSync(cliDir, { recursive: true, force: true })
})

/** The terminal's screen as xterm's DOM renderer draws it. */
const screen = () => page.getByTestId('web-terminal').locator('.xterm-rows')
/** The screen's rows as text, one per row. */
const rows = async () => (await screen().locator(':scope > div').allTextContents()).map((r) => r.trimEnd())
/** Waits until a whole row of the screen reads `text`. */
const shows = (text: string) =>
  waitUntil(async () => ((await rows()).includes(text) ? true : undefined), {
    what: `the terminal to show ${text}`,
    timeoutMs: STEP_MS,
  })
/** The last `stty size` answer on screen: [rows, cols]. */
async function sttySize(): Promise<[number, number] | undefined> {
  const answers = (await rows()).filter((r) => /^\d+ \d+$/.test(r))
  const last = answers.at(-1)?.split(' ').map(Number)
  return last ? [last[0]!, last[1]!] : undefined
}

async function typeInTerminal(text: string) {
  await page.getByTestId('web-terminal').locator('.xterm').click()
  await page.keyboard.type(text)
  await page.keyboard.press('Enter')
}

describe('web terminal in the browser', () => {
  test(
    'typing echo shows its output; the shell follows the window size',
    async () => {
      await page.goto(`/terminal?machine=${agent.machineId}`)
      await page.locator('[data-testid="web-terminal"][data-phase="live"]').waitFor({ timeout: STEP_MS })
      await typeInTerminal('echo "hello-$((6*7))"')
      await shows('hello-42')
      await typeInTerminal('stty size')
      const [, wide] = await waitUntil(sttySize, { what: 'stty size at 1280', timeoutMs: 15_000 })
      await page.setViewportSize(PHONE)
      await typeInTerminal('stty size')
      const narrow = await waitUntil(
        async () => {
          const size = await sttySize()
          return size && size[1] < wide ? size[1] : undefined
        },
        { what: 'stty size at 390', timeoutMs: 15_000 },
      )
      expect(narrow).toBeLessThan(60)
      expect(wide).toBeGreaterThan(80)
      await page.setViewportSize(WIDE)
      await typeInTerminal('echo "hello-$((6*7))"; export MARK=kept-$((1+1))')
      await shows('hello-42')
    },
    STEP_MS * 3,
  )

  test(
    'a reload reattaches to the same shell and shows the old screen',
    async () => {
      await page.reload()
      await shows('hello-42')
      await typeInTerminal('echo "mark=$MARK"')
      await shows('mark=kept-2')
      await screenshots(page, 'terminal')
    },
    STEP_MS * 2,
  )
})

/** The code lines of one kind in a rendered diff (diff2html marks changed words inside a line). */
async function sideText(scope: Locator, kind: '.d2h-del' | '.d2h-ins') {
  return (await scope.locator(`${kind} .d2h-code-line-ctn`).allTextContents()).map((l) => l.trim())
}

function gitRepo(name: string) {
  const dir = join(agent.dir, 'work', name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'a.txt'), `${LINES.join('\n')}\n`)
  writeFileSync(join(dir, 'b.txt'), 'first\n')
  for (const args of [
    ['init', '-q'],
    ['add', '.'],
    ['commit', '-q', '-m', 'start'],
  ]) {
    const run = Bun.spawnSync(['git', '-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args])
    expect(run.exitCode).toBe(0)
  }
  return dir
}

describe('changes panel in the browser', () => {
  test(
    'shows the diffs of two edited files; reverting one hunk by clicking leaves the other',
    async () => {
      const dir = gitRepo('repo')
      const created = await asAdmin().remote.sessions.post({
        machine_id: agent.machineId,
        project_path: dir,
        cli_tool: 'editing-cli',
        title: 'Edit two files',
      })
      expect(created.status).toBe(201)
      const id = created.data!.session.session_id
      await waitUntil(
        async () =>
          readFileSync(join(dir, 'b.txt'), 'utf8').includes('added by the cli') ? true : undefined,
        { what: 'the CLI edited', timeoutMs: 15_000 },
      )
      await page.goto(`/workspace?session=${id}`)
      await page.getByRole('tab', { name: 'Changes' }).click()
      const files = page.getByTestId('changed-files')
      await files.getByText('b.txt').waitFor({ timeout: STEP_MS })
      const aRow = files.getByRole('button', { name: /a\.txt/ })
      expect(await aRow.textContent()).toContain('+2')
      expect(await aRow.textContent()).toContain('−2')
      expect(await files.getByRole('button', { name: /b\.txt/ }).textContent()).toContain('+1')

      await aRow.click()
      const hunks = page.getByTestId('file-diff').getByTestId('hunk')
      await waitUntil(async () => ((await hunks.count()) === 2 ? true : undefined), {
        what: 'two hunks',
        timeoutMs: STEP_MS,
      })
      // diff2html draws both sides: the old line on the left, the new one on the right.
      expect(await sideText(hunks.nth(0), '.d2h-del')).toContain('line 2')
      expect(await sideText(hunks.nth(0), '.d2h-ins')).toContain('line two')
      expect(await sideText(hunks.nth(1), '.d2h-ins')).toContain('line eighteen')
      expect(await hunks.nth(0).locator('.d2h-file-side-diff').count()).toBe(2)
      await page.getByRole('button', { name: 'Unified' }).click()
      await waitUntil(
        async () => ((await hunks.nth(0).locator('.d2h-file-side-diff').count()) === 0 ? true : undefined),
        { what: 'unified layout', timeoutMs: 15_000 },
      )
      await page.getByRole('button', { name: 'Side by side' }).click()
      await screenshots(page, 'changes')

      await hunks.nth(0).getByRole('button', { name: 'Revert this hunk' }).click()
      await waitUntil(async () => ((await hunks.count()) === 1 ? true : undefined), {
        what: 'one hunk left',
        timeoutMs: STEP_MS,
      })
      expect(await sideText(hunks.nth(0), '.d2h-ins')).toContain('line eighteen')
      const text = readFileSync(join(dir, 'a.txt'), 'utf8')
      expect(text).toContain('\nline 2\n')
      expect(text).toContain('\nline eighteen\n')
      const diff: FileDiff = (
        await asAdmin()
          .remote.sessions({ id })
          .changes.diff.get({ query: { path: 'a.txt' } })
      ).data!
      expect(diff.hunks).toHaveLength(1)
      expect(diff.hunks[0]!.lines).toContain('+line eighteen')
      expect(await aRow.textContent()).toContain('+1')

      // An edit made now (as the CLI would) shows up without a reload.
      writeFileSync(join(dir, 'c.txt'), 'new file\n')
      await files.getByText('c.txt').waitFor({ timeout: STEP_MS })
    },
    STEP_MS * 4,
  )
})

describe('edit permission prompt', () => {
  test(
    'an edit the CLI asks to make is shown as a diff of the exact change',
    async () => {
      const tokenRes = await server.request('/api/remote/machines/register', {
        method: 'POST',
        cookie: admin,
        json: { tenant_id: 1 },
      })
      const { registration_token } = (await tokenRes.json()) as { registration_token: string }
      const machine = await registerAgent(server, registration_token, 'prompt-box')
      fake = await connectAgent(server, machine)
      const created = await asAdmin().remote.sessions.post({
        machine_id: machine.machineId,
        project_path: '/home/alice/project',
        permission_mode: 'default',
      })
      expect(created.status).toBe(201)
      const id = created.data!.session.session_id
      await fake.waitForCommand('session.start')
      await fake.send({ type: 'session.started', session_id: id })
      const event = {
        kind: 'permission_request' as const,
        request_id: crypto.randomUUID(),
        tool_name: 'Edit',
        input: {
          file_path: 'src/app.ts',
          old_string: 'const port = 80\n',
          new_string: 'const port = 8080\n',
        },
      }
      await fake.send({
        type: 'session.output',
        session_id: id,
        records: [
          { seq: 0, stream: 'stdout', data: JSON.stringify(event), ts: new Date().toISOString(), event },
        ],
      })
      await page.goto(`/workspace?session=${id}`)
      const diff = page.getByTestId('edit-diff')
      await diff
        .locator('.d2h-del')
        .getByText('const port = 80', { exact: true })
        .waitFor({ timeout: STEP_MS })
      await diff.locator('.d2h-ins').getByText('const port = 8080', { exact: true }).waitFor()
      await page.getByRole('button', { name: 'Allow' }).first().click()
      const answer = await fake.waitForCommand('session.permission')
      expect(answer).toMatchObject({ session_id: id, request_id: event.request_id, allow: true })
      await screenshots(page, 'edit-permission-diff')
    },
    STEP_MS * 2,
  )
})

describe('terminal access in the browser', () => {
  test(
    "a machine admin sets who may open terminals on the machine's page",
    async () => {
      const setting = async () =>
        (await asAdmin().remote.machines({ id: agent.machineId }).get()).data!.machine.terminal_access
      // The machines list links each machine to its own page, where its settings are.
      await page.goto('/manage/remote/machines')
      await page.locator(`tr[data-machine-id="${agent.machineId}"] a.link`).click()
      await page.waitForURL(`**/manage/remote/machines/${agent.machineId}`)
      const select = page.getByTestId('terminal-access')
      expect(await select.inputValue()).toBe('admins')
      await select.selectOption('assigned')
      await waitUntil(async () => ((await setting()) === 'assigned' ? true : undefined), {
        what: 'assigned saved',
        timeoutMs: 15_000,
      })
      await select.selectOption('admins')
      await waitUntil(async () => ((await setting()) === 'admins' ? true : undefined), {
        what: 'admins saved',
        timeoutMs: 15_000,
      })
    },
    STEP_MS,
  )

  test(
    "a plain user is told the machine's policy refuses them; revocation closes the terminal, saying why",
    async () => {
      const carol = await createUser(server, admin, 'carol')
      const machine = asAdmin().remote.machines({ id: agent.machineId })
      const assign = await machine.assign.post({ user_id: carol.id, permission: 'user' })
      expect(assign.status).toBe(200)
      await logout(page)
      await signIn(page, 'carol', 'carol-password')
      await page.goto(`/terminal?machine=${agent.machineId}`)
      const notice = page.getByTestId('terminal-notice')
      await page.locator('[data-testid="web-terminal"][data-phase="refused"]').waitFor({ timeout: STEP_MS })
      expect(await notice.textContent()).toContain("its terminals are for the machine's administrators")

      const setting = await machine['terminal-access'].put({ terminal_access: 'assigned' })
      expect(setting.status).toBe(200)
      await page.reload()
      await page.locator('[data-testid="web-terminal"][data-phase="live"]').waitFor({ timeout: STEP_MS })
      await typeInTerminal('echo "carol-$((2+3))"')
      await shows('carol-5')
      const unassign = await machine.assign({ user_id: carol.id }).delete()
      expect(unassign.status).toBe(200)
      await page.locator('[data-testid="web-terminal"][data-phase="revoked"]').waitFor({ timeout: STEP_MS })
      expect(await notice.textContent()).toContain('Your access to this machine was removed.')
      await screenshots(page, 'terminal-revoked')
    },
    STEP_MS * 2,
  )

  test('nothing the terminal or the diffs did was refused by the page policy', () => {
    expect(refused).toEqual([])
  })
})
