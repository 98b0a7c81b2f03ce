import { afterEach, describe, expect, test } from 'bun:test'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { INITIAL_PASSWORD_FILE } from './users.ts'

let server: TestServer | undefined
afterEach(async () => {
  await server?.stop()
  server = undefined
})

describe('first-start admin', () => {
  test('with OPENACE_ADMIN_PASSWORD: admin logs in with it and no password file is written', async () => {
    server = await startTestServer({ env: { OPENACE_ADMIN_PASSWORD: 'from-the-env-1' } })
    expect(await server.login('admin', 'from-the-env-1')).toContain('openace_session=')
    expect(() => statSync(join(server!.dataDir, INITIAL_PASSWORD_FILE))).toThrow()
    expect(server.logs.join('\n')).not.toContain('from-the-env-1')
  })

  test('without it: a random password is printed once and kept 0600 in DATA_DIR', async () => {
    server = await startTestServer({ env: { OPENACE_ADMIN_PASSWORD: undefined } })
    const file = join(server.dataDir, INITIAL_PASSWORD_FILE)
    const password = readFileSync(file, 'utf8').trim()
    expect(password.length).toBeGreaterThanOrEqual(20)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const printed = server.logs.filter((l) => l.includes(password))
    expect(printed.length).toBe(1)
    expect(await server.login('admin', password)).toContain('openace_session=')
  })

  test('a second start on the same database creates nobody and prints nothing', async () => {
    server = await startTestServer({ env: { OPENACE_ADMIN_PASSWORD: undefined } })
    const before = server.logs.length
    const { bootstrap } = await import('./users.ts')
    await bootstrap(server.ctx, (line) => server!.logs.push(line))
    expect(server.logs.length).toBe(before)
    const users = (await (
      await server.request('/api/users', {
        cookie: await server.login(
          'admin',
          readFileSync(join(server.dataDir, INITIAL_PASSWORD_FILE), 'utf8').trim(),
        ),
      })
    ).json()) as { users: unknown[] }
    expect(users.users.length).toBe(1)
  })
})
