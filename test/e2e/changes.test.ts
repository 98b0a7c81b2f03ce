// The changes panel with the compiled agent binary: a stand-in CLI edits two files of a git
// repository; the API lists them with the right hunks, reverting one hunk leaves the other,
// stage + commit works, a plain directory is compared with its start-of-session snapshot, and an
// edit reaches the live "changed" stream.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { ChangesList, FileDiff } from '../../protocol/index.ts'
import {
  adminCookie,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { waitUntil } from '../support/wait-until.ts'

const servers: ServerProcess[] = []
const agents: Subprocess[] = []
let server: ServerProcess
let cookie: string
let agent: RunningAgent
const LINES = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`)

beforeAll(async () => {
  await ensureAgentBinary()
  // The stand-in CLI edits line 2 and line 18 of a.txt (two hunks) and appends to b.txt.
  const cliDir = mkdtempSync(join(tmpdir(), 'oa-edit-cli-'))
  writeFileSync(
    join(cliDir, 'editing-cli'),
    '#!/bin/sh\n[ -f a.txt ] && sed -i -e "s/^line 2$/line two/" -e "s/^line 18$/line eighteen/" a.txt\n' +
      '[ -f b.txt ] && echo "added by the cli" >> b.txt\necho edited\nexec sleep 600\n',
  )
  chmodSync(join(cliDir, 'editing-cli'), 0o755)
  server = await spawnServer({ env: await serverEnv() })
  servers.push(server)
  cookie = await adminCookie(server.url)
  agent = await startAgentBinary({
    serverUrl: server.url,
    cookie,
    track: agents,
    allowCliTools: ['editing-cli'],
    env: { PATH: `${cliDir}:${process.env.PATH}` },
  })
  await waitUntil(machineOnline(server.url, cookie, agent.machineId), { what: 'online', timeoutMs: 15_000 })
}, 120_000)

afterAll(async () => {
  for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL')
  for (const s of servers) await s.stop('SIGKILL')
})

function project(name: string, withGit: boolean) {
  const dir = join(agent.dir, 'work', name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'a.txt'), `${LINES.join('\n')}\n`)
  writeFileSync(join(dir, 'b.txt'), 'first\n')
  if (withGit) {
    const run = (...args: string[]) =>
      expect(
        Bun.spawnSync(['git', '-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]).exitCode,
      ).toBe(0)
    run('init', '-q')
    run('add', '.')
    run('commit', '-q', '-m', 'start')
  }
  return dir
}

/** The typed client as the admin (the cookie is set once the server is up). */
const asAdmin = () => browserApi(server.url, cookie)
const changesOf = (id: string) => asAdmin().remote.sessions({ id }).changes

async function startSession(dir: string) {
  const created = await asAdmin().remote.sessions.post({
    machine_id: agent.machineId,
    project_path: dir,
    cli_tool: 'editing-cli',
  })
  expect(created.status).toBeLessThan(300)
  const id = created.data!.session.session_id
  await waitUntil(
    async () => (readFileSync(join(dir, 'b.txt'), 'utf8').includes('added by the cli') ? true : undefined),
    { what: 'the CLI edited', timeoutMs: 15_000 },
  )
  return id
}

const list = async (id: string): Promise<ChangesList> => (await changesOf(id).get()).data!
const diff = async (id: string, path: string): Promise<FileDiff> =>
  (await changesOf(id).diff.get({ query: { path } })).data!

describe('changes panel end to end', () => {
  test('git repo: two edited files, their hunks, one hunk reverted, the rest committed', async () => {
    const dir = project('repo', true)
    const id = await startSession(dir)
    const changes = await list(id)
    expect(changes.kind).toBe('git')
    expect(changes.files).toEqual([
      { path: 'a.txt', status: 'modified', additions: 2, deletions: 2, binary: false, staged: false },
      { path: 'b.txt', status: 'modified', additions: 1, deletions: 0, binary: false, staged: false },
    ])
    const a = await diff(id, 'a.txt')
    expect(a.hunks.length).toBe(2)
    expect(a.hunks[0]!.lines).toContain('-line 2')
    expect(a.hunks[0]!.lines).toContain('+line two')
    expect(a.hunks[1]!.lines).toContain('+line eighteen')
    expect(a.patch).toContain('@@ -1,5 +1,5 @@')

    const reverted = await changesOf(id).revert.post({ path: 'a.txt', hunk_id: a.hunks[0]!.id })
    expect(reverted.status).toBe(200)
    const text = readFileSync(join(dir, 'a.txt'), 'utf8')
    expect(text).toContain('\nline 2\n')
    expect(text).toContain('\nline eighteen\n')
    const after = await diff(id, 'a.txt')
    expect(after.hunks.length).toBe(1)
    expect(after.hunks[0]!.lines).toContain('+line eighteen')
    // The same hunk again: it is gone, so the revert is refused rather than guessed.
    const stale = await changesOf(id).revert.post({ path: 'a.txt', hunk_id: a.hunks[0]!.id })
    expect(stale.status).toBe(409)
    const outside = await changesOf(id).diff.get({ query: { path: '../../etc/passwd' } })
    expect(outside.status).toBe(400)

    expect((await changesOf(id).stage.post({ paths: ['b.txt'] })).status).toBe(200)
    const committed = await changesOf(id).commit.post({ message: 'b from the cli' })
    expect(committed.status).toBe(200)
    expect(String(committed.data?.commit)).toMatch(/^[0-9a-f]{40}$/)
    expect((await list(id)).files.map((f) => f.path)).toEqual(['a.txt'])
    expect((await changesOf(id).revert.post({ path: 'a.txt' })).status).toBe(200)
    expect((await list(id)).files).toEqual([])
  }, 60_000)

  test('plain directory: compared with the snapshot taken at session start; edits reach the live stream', async () => {
    const dir = project('plain', false)
    const id = await startSession(dir)
    const changes = await list(id)
    expect(changes.kind).toBe('snapshot')
    expect(changes.files.map((f) => [f.path, f.additions, f.deletions])).toEqual([
      ['a.txt', 2, 2],
      ['b.txt', 1, 0],
    ])
    // A plain fetch: the SSE stream is read raw, chunk by chunk.
    const events = await fetch(`${server.url}/api/remote/sessions/${id}/changes/events`, {
      headers: { cookie },
    })
    const reader = events.body!.getReader()
    writeFileSync(join(dir, 'c.txt'), 'new file\n')
    let seen = ''
    const deadline = Date.now() + 10_000
    while (!seen.includes('event: changed') && Date.now() < deadline) {
      const chunk = await reader.read()
      if (chunk.done) break
      seen += new TextDecoder().decode(chunk.value)
    }
    void reader.cancel()
    expect(seen).toContain('event: changed')
    expect((await list(id)).files.map((f) => [f.path, f.status])).toContainEqual(['c.txt', 'added'])
    expect((await changesOf(id).revert.post({ path: 'b.txt' })).status).toBe(200)
    expect(readFileSync(join(dir, 'b.txt'), 'utf8')).toBe('first\n')
    // A plain fetch: a stage request naming no paths is malformed on purpose, which Eden's typed body refuses.
    const stage = await fetch(`${server.url}/api/remote/sessions/${id}/changes/stage`, {
      method: 'POST',
      headers: { cookie, origin: server.url, 'content-type': 'application/json' },
      body: '{}',
    })
    expect(stage.status).toBe(400)
  }, 60_000)
})
