// Path traversal through GET /api/remote/machines/{id}/browse?path= against the compiled agent
// (its roots here: its home directory, which holds the work dir): `..`, absolute paths outside,
// symlinks out and in, `~/..`, relative paths, NUL and huge paths. Outside is a clear 400
// naming `path` and reveals nothing; inside works; never a 5xx.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi, type Json, reply } from '../support/client.ts'
import { startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

let server: TestServer
let admin: string
let agent: RunningAgent
const processes: Subprocess[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  server = await startTestServer({ listen: true })
  admin = await server.login()
  agent = await startAgentBinary({ serverUrl: server.url, cookie: admin, track: processes })
  const work = join(agent.dir, 'work')
  mkdirSync(join(work, 'sub'))
  writeFileSync(join(work, 'sub', 'inner.txt'), 'x')
  symlinkSync('/etc', join(work, 'escape'))
  symlinkSync(join(work, 'sub'), join(work, 'inside-link'))
  await waitUntil(machineOnline(server.url, admin, agent.machineId), {
    what: 'agent online',
    timeoutMs: 15_000,
  })
}, 120_000)
afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
})

/** `raw` is sent as is: percent-encodings no string can make (a lone surrogate, a bare 0xFF). */
const browse = async (path: string, raw = false): Promise<{ status: number; body: Json }> => {
  if (!raw) {
    const client = browserApi(server.url, admin)
    return reply(client.remote.machines({ id: agent.machineId }).browse.get({ query: { path } }))
  }
  // A plain fetch: Eden encodes the query from a string, and these encodings come from none.
  const res = await fetch(`${server.url}/api/remote/machines/${agent.machineId}/browse?path=${path}`, {
    headers: { cookie: admin, origin: server.url },
  })
  return { status: res.status, body: await res.json() }
}

describe('browse path traversal through the real agent', () => {
  test('inside the roots lists; a symlink pointing inside is followed', async () => {
    const listed = await browse(join(agent.dir, 'work'))
    expect(listed.status).toBe(200)
    expect(JSON.stringify(listed.body)).toContain('marker.txt')
    const viaLink = await browse(join(agent.dir, 'work', 'inside-link'))
    expect(viaLink.status).toBe(200)
    expect(JSON.stringify(viaLink.body)).toContain('inner.txt')
  })

  test('every way out is a 400 naming path, and nothing outside leaks', async () => {
    const outside = [
      join(agent.dir, 'work', '..', '..'),
      `${agent.dir}/work/../../../etc`,
      '/etc',
      '/',
      '/proc/self',
      join(agent.dir, 'work', 'escape'),
      join(agent.dir, 'work', 'escape', 'ssl'),
      '~/..',
      '~/../../etc',
      'work',
      '../etc',
      './',
    ]
    for (const path of outside) {
      const res = await browse(path)
      expect({ path, status: res.status }).toEqual({ path, status: 400 })
      expect(res.body.error).toMatchObject({ type: 'invalid_request', field: 'path' })
      expect(JSON.stringify(res.body)).not.toMatch(/passwd|hostname|ssl\b.*certs|entries/)
    }
  }, 60_000)

  test('NUL, a huge path and odd unicode are refused or listed cleanly, never a 5xx', async () => {
    const odd = [
      [`${agent.dir}/work\u0000/etc`, false],
      [`${agent.dir}/${'a'.repeat(20_000)}`, false],
      [`${agent.dir}/\u202Ework`, false],
      ['%ED%A0%80', true],
      ['%2Ftmp%2F%FF', true],
    ] as const
    for (const [path, raw] of odd) {
      const res = await browse(path, raw)
      expect({ path: path.slice(0, 60), status: res.status < 500 }).toEqual({
        path: path.slice(0, 60),
        status: true,
      })
      expect(res.status).not.toBe(200)
    }
    // The machine still answers after all that.
    expect((await browse(join(agent.dir, 'work'))).status).toBe(200)
  }, 60_000)
})
