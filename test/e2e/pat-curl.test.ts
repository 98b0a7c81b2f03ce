// The seed's admin flow scripted with a personal access token instead of a cookie jar, with
// curl against a real server process: exactly the README's "Scripting with access tokens".
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ServerProcess, spawnServer } from '../support/process.ts'

const running: ServerProcess[] = []
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL')
})

/** Runs a shell snippet with `localhost:5000` pointed at the server; returns status and parsed body. */
function sh(server: ServerProcess, dir: string, script: string, env: Record<string, string> = {}) {
  const run = Bun.spawnSync(
    [
      'bash',
      '-c',
      `curl() { command curl -s -w '\\n%{http_code}' "$@"; }\n${script.replaceAll('localhost:5000', `127.0.0.1:${server.port}`)}`,
    ],
    { cwd: dir, env: { ...process.env, ...env } },
  )
  const out = run.stdout.toString().trimEnd()
  const cut = out.lastIndexOf('\n')
  const status = Number(out.slice(cut + 1))
  try {
    return { status, body: JSON.parse(out.slice(0, cut)) }
  } catch {
    throw new Error(`not JSON from:\n${script}\n---\n${out}\n${run.stderr.toString()}`)
  }
}

describe('personal access tokens with curl', () => {
  test('the seed flow with -H "Authorization: Bearer"; read-only, revoked and disabled-owner tokens refused', async () => {
    const server = await spawnServer({})
    running.push(server)
    const dir = mkdtempSync(join(tmpdir(), 'oa-pat-'))
    sh(
      server,
      dir,
      `curl -c cookies.txt -X POST http://localhost:5000/api/auth/login \\
  -H "Content-Type: application/json" -d '{"username":"admin","password":"admin123"}'`,
    )
    const created = sh(
      server,
      dir,
      `curl -b cookies.txt -X POST http://localhost:5000/api/tokens -H "Content-Type: application/json" \\
  -d '{"name":"deploy-script","expires_in_days":30,"scopes":["admin"]}'`,
    )
    expect(created.status).toBe(201)
    const TOKEN: string = created.body.token
    expect(TOKEN).toMatch(/^oa_pat_/)
    const env = { TOKEN }

    const key = sh(
      server,
      dir,
      `curl -H "Authorization: Bearer $TOKEN" -X POST http://localhost:5000/api/remote/api-keys -H "Content-Type: application/json" \\
  -d '{"provider":"openai","key_name":"production","api_key":"sk-test-pat-0123456789","base_url":"https://api.openai.com/v1"}'`,
      env,
    )
    expect(key.status).toBe(201)
    const reg = sh(
      server,
      dir,
      `curl -H "Authorization: Bearer $TOKEN" -X POST http://localhost:5000/api/remote/machines/register \\
  -H "Content-Type: application/json" -d '{"tenant_id": 1}'`,
      env,
    )
    expect(reg.status).toBe(200)
    expect(reg.body.registration_token).toMatch(/^[0-9a-f]{64}$/)
    const user = sh(
      server,
      dir,
      `curl -H "Authorization: Bearer $TOKEN" -X POST http://localhost:5000/api/users -H "Content-Type: application/json" \\
  -d '{"username":"rita","password":"rita-password"}'`,
      env,
    )
    expect(user.status).toBe(201)
    expect(
      sh(server, dir, 'curl -H "Authorization: Bearer $TOKEN" http://localhost:5000/api/remote/machines', env)
        .status,
    ).toBe(200)

    // Rita's own read token: lists, cannot change, and dies with her account.
    sh(
      server,
      dir,
      `curl -c rita.txt -X POST http://localhost:5000/api/auth/login \\
  -H "Content-Type: application/json" -d '{"username":"rita","password":"rita-password"}'`,
    )
    const ritas = sh(
      server,
      dir,
      `curl -b rita.txt -X POST http://localhost:5000/api/tokens -H "Content-Type: application/json" \\
  -d '{"name":"ro","expires_in_days":1,"scopes":["read"]}'`,
    )
    const READ = { TOKEN: ritas.body.token as string }
    expect(
      sh(
        server,
        dir,
        'curl -H "Authorization: Bearer $TOKEN" http://localhost:5000/api/remote/sessions',
        READ,
      ).status,
    ).toBe(200)
    const change = sh(
      server,
      dir,
      `curl -H "Authorization: Bearer $TOKEN" -X POST http://localhost:5000/api/tokens -H "Content-Type: application/json" \\
  -d '{"name":"more","expires_in_days":1,"scopes":["read"]}'`,
      READ,
    )
    expect(change.status).toBe(403)
    const disable = sh(
      server,
      dir,
      `curl -H "Authorization: Bearer $TOKEN" -X PATCH http://localhost:5000/api/users/${user.body.user.id} \\
  -H "Content-Type: application/json" -d '{"status":"disabled"}'`,
      env,
    )
    expect(disable.status).toBe(200)
    const dead = sh(
      server,
      dir,
      'curl -H "Authorization: Bearer $TOKEN" http://localhost:5000/api/remote/sessions',
      READ,
    )
    expect(dead.status).toBe(401)

    // Revoking the admin's token: the next call is 401.
    const revoke = sh(
      server,
      dir,
      `curl -b cookies.txt -X DELETE http://localhost:5000/api/tokens/${created.body.personal_access_token.id}`,
    )
    expect(revoke.status).toBe(200)
    expect(
      sh(server, dir, 'curl -H "Authorization: Bearer $TOKEN" http://localhost:5000/api/remote/machines', env)
        .status,
    ).toBe(401)
  }, 60_000)
})
