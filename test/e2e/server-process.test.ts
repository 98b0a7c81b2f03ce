// The server as an operator runs it: a real process, the seed's curl, signals, restarts, Deno.
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adminCookie } from '../support/agent-binary.ts'
import { type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { ADMIN_PASSWORD } from '../support/server.ts'

const running: ServerProcess[] = []
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL')
})

async function start(options: Parameters<typeof spawnServer>[0]) {
  const p = await spawnServer(options)
  running.push(p)
  return p
}

describe('server process', () => {
  test("the seed's login curl works verbatim and returns the user and a cookie", async () => {
    const server = await start({})
    const dir = mkdtempSync(join(tmpdir(), 'oa-curl-'))
    const curl = Bun.spawnSync(
      [
        'bash',
        '-c',
        `curl -s -c cookies.txt -X POST http://localhost:${server.port}/api/auth/login -H "Content-Type: application/json" -d '{"username":"admin","password":"${ADMIN_PASSWORD}"}'`,
      ],
      { cwd: dir },
    )
    const body = JSON.parse(curl.stdout.toString()) as { user: { username: string } }
    expect(body.user.username).toBe('admin')
    expect(readFileSync(join(dir, 'cookies.txt'), 'utf8')).toContain('openace_session')
    const me = Bun.spawnSync(
      ['bash', '-c', `curl -s -b cookies.txt http://localhost:${server.port}/api/auth/me`],
      { cwd: dir },
    )
    expect(JSON.parse(me.stdout.toString()).user.username).toBe('admin')
    expect((await fetch(`${server.url}/api/docs`)).status).toBe(200)
    expect((await fetch(`${server.url}/api/ready`)).status).toBe(200)
  })

  test('SIGTERM shuts down cleanly; a restart keeps data and sequences do not jump', async () => {
    const env = await serverEnv()
    const first = await start({ env })
    const login = adminCookie
    const createUser = async (url: string, cookie: string, username: string) => {
      const res = await fetch(`${url}/api/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ username, password: 'long-enough-pw' }),
      })
      expect(res.status).toBe(201)
      return ((await res.json()) as { user: { id: number } }).user.id
    }
    const a = await createUser(first.url, await login(first.url), 'first-user')
    expect(await first.stop('SIGTERM')).toBe(0)
    expect(first.output()).toContain('"msg":"stopped"')
    const second = await start({ env, port: first.port })
    const cookie = await login(second.url)
    const b = await createUser(second.url, cookie, 'second-user')
    expect(b).toBe(a + 1)
    expect(await second.stop('SIGINT')).toBe(0)
  })

  test('production mode without SECRET_KEY refuses to start with a clear message', async () => {
    const env = await serverEnv({ NODE_ENV: 'production', SECRET_KEY: undefined })
    await expect(spawnServer({ env })).rejects.toThrow(/SECRET_KEY is required in production/)
  })

  test('the HTTP path runs on Deno through app.fetch: health and login', async () => {
    const server = await start({ runtime: 'deno', env: await serverEnv() })
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200)
    const res = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    })
    expect(res.status).toBe(200)
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ')
    const me = await fetch(`${server.url}/api/auth/me`, { headers: { cookie } })
    expect(((await me.json()) as { user: { username: string } }).user.username).toBe('admin')
    expect(server.output()).toContain('"runtime":"deno"')
  }, 90_000)

  test('stopping a Deno server ends it: nothing keeps serving on its port', async () => {
    const server = await start({ runtime: 'deno', env: await serverEnv() })
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200)
    await server.stop()
    const stillServing = await fetch(`${server.url}/api/health`).then(
      () => true,
      () => false,
    )
    expect(stillServing).toBe(false)
  }, 90_000)
})
