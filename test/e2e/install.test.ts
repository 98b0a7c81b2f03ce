// The real install.sh and uninstall.sh, fetched with the seed's one-liner from a live server, in
// throwaway HOMEs: download, checksum, registration, the agent coming online, upgrade in place,
// refusals (corrupt binary, used token, unreachable server), and the systemd path through a fake
// systemctl that starts the unit's ExecStart for real.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { REPO_ROOT } from '../support/process.ts'
import { startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import { INSTALL_WAIT_MS, shell, shellFakes, stopAgent } from './install-harness.ts'

const TARGET = `linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`
const BINARY = `open-ace-agent-${TARGET}`
const BUILT = join(REPO_ROOT, 'dist/agent')
const BUILD_TIMEOUT_MS = 240_000

const dist = mkdtempSync(join(tmpdir(), 'oa-install-dist-'))
const homes: string[] = []
let server: TestServer
let admin: string

interface Machine {
  machine_id: string
  machine_name: string
  status: string
}

beforeAll(async () => {
  if (!existsSync(join(BUILT, BINARY))) {
    const build = Bun.spawn(['bun', 'run', 'build:agent', '--target', TARGET], {
      cwd: REPO_ROOT,
      stdout: 'inherit',
    })
    expect(await build.exited).toBe(0)
  }
  // A private copy with its own SHA256SUMS: immune to a rebuild in the shared tree meanwhile,
  // and one test can swap in a corrupt binary.
  copyFileSync(join(BUILT, BINARY), join(dist, `${BINARY}.good`))
  linkSync(join(dist, `${BINARY}.good`), join(dist, BINARY))
  writeFileSync(join(dist, 'SHA256SUMS'), `${sha256(join(dist, BINARY))}  ${BINARY}\n`)
  server = await startTestServer({ listen: true, env: { AGENT_DIST_DIR: dist } })
  admin = await server.login()
}, BUILD_TIMEOUT_MS)

afterAll(async () => {
  for (const home of homes) stopAgent(home)
  await server?.stop()
  for (const dir of [dist, ...homes]) rmSync(dir, { recursive: true, force: true })
})

function newHome(): { home: string; dir: string; bin: string } {
  const home = mkdtempSync(join(tmpdir(), 'oa-install-home-'))
  homes.push(home)
  return { home, dir: join(home, '.open-ace-agent'), bin: join(home, 'fake-bin') }
}

async function registrationToken(): Promise<string> {
  const res = await server.request('/api/remote/machines/register', {
    method: 'POST',
    cookie: admin,
    json: { tenant_id: 1 },
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { registration_token: string }).registration_token
}

/**
 * The seed's one-liner, verbatim, plus extra flags. Each home is its own host: installs on one
 * hostname while another is online would be refused (409 hostname_conflict).
 */
function install(home: string, token: string, flags: string[] = [], path?: string) {
  const cmd = `curl -fsSL ${server.url}/api/remote/agent/install.sh | bash -s -- --server ${server.url} --token ${token} ${flags.join(' ')}`
  return shell(cmd, {
    HOME: home,
    OPENACE_HOSTNAME: `host-${basename(home)}`,
    ...(path ? { PATH: path } : {}),
  })
}

async function machine(id: string): Promise<{ status: number; machine?: Machine }> {
  const res = await server.request(`/api/remote/machines/${id}`, { cookie: admin })
  if (res.status !== 200) return { status: res.status }
  const body = (await res.json()) as { machine?: Machine } & Machine
  return { status: 200, machine: body.machine ?? body }
}

const config = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, string>
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')
const expectedSha = () =>
  readFileSync(join(dist, 'SHA256SUMS'), 'utf8')
    .split('\n')
    .find((l) => l.endsWith(`  ${BINARY}`))!
    .split(/\s+/)[0]!

describe('install.sh against a live server', () => {
  const first = newHome()
  let token = ''
  let machineId = ''

  test('the seed one-liner with --no-service downloads, verifies, configures and registers', async () => {
    token = await registrationToken()
    const run = await install(first.home, token, [
      '--no-service',
      '--install-cli',
      'none',
      '--name',
      'e2e-box',
    ])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    for (let n = 1; n <= 8; n++) expect(run.stdout).toContain(`[${n}/8] `)
    expect(run.stdout).toContain(`OK (${expectedSha()})`)
    expect(sha256(join(first.dir, 'open-ace-agent'))).toBe(expectedSha())
    expect(statSync(join(first.dir, 'config.json')).mode & 0o777).toBe(0o600)
    const saved = config(first.dir)
    expect(saved.server_url).toBe(server.url)
    expect(saved.cli_tool).toBe('none')
    expect(saved.agent_token).toMatch(/^[0-9a-f]{64}$/)
    expect(run.stdout).not.toContain(token)
    machineId = saved.machine_id!
    const found = await machine(machineId)
    expect(found.machine?.machine_name).toBe('e2e-box')
    expect(found.machine?.status).toBe('offline')
  })

  test('the installed agent, started as the script says, comes online', async () => {
    const agent = Bun.spawn([join(first.dir, 'open-ace-agent'), 'run', '--dir', first.dir], {
      env: { HOME: first.home, PATH: process.env.PATH ?? '' },
      stdout: 'ignore',
      stderr: 'ignore',
    })
    writeFileSync(join(first.home, 'agent.pid'), String(agent.pid))
    await waitUntil(async () => (await machine(machineId)).machine?.status === 'online', {
      what: 'machine online',
      timeoutMs: INSTALL_WAIT_MS,
    })
  })

  test('re-running upgrades the binary in place and keeps the machine id and token', async () => {
    const before = config(first.dir)
    // An older build, swapped in by rename as installs do (the running agent keeps its copy).
    writeFileSync(join(first.dir, 'older'), 'an older build')
    renameSync(join(first.dir, 'older'), join(first.dir, 'open-ace-agent'))
    const run = await install(first.home, token, [
      '--no-service',
      '--install-cli',
      'none',
      '--name',
      'e2e-box',
    ])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`already registered as machine ${machineId}`)
    expect(sha256(join(first.dir, 'open-ace-agent'))).toBe(expectedSha())
    const after = config(first.dir)
    expect(after.machine_id).toBe(machineId)
    expect(after.agent_token).toBe(before.agent_token!)
  })

  test('a used token fails with a clear message and leaves no registration behind', async () => {
    const other = newHome()
    const run = await install(other.home, token, ['--no-service', '--install-cli', 'none'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('the registration token was refused')
    expect(run.stderr).toContain('already used')
    expect(config(other.dir).agent_token).toBeUndefined()
    expect(run.stdout).not.toContain('[6/8]')
  })

  test('a corrupted binary aborts at the checksum and installs nothing', async () => {
    const other = newHome()
    const served = join(dist, BINARY)
    unlinkSync(served)
    writeFileSync(served, 'not the binary that SHA256SUMS describes')
    try {
      const run = await install(other.home, await registrationToken(), ['--no-service'])
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`checksum mismatch for ${BINARY}`)
      expect(run.stderr).toContain('nothing was installed')
      expect(existsSync(join(other.dir, 'open-ace-agent'))).toBe(false)
      expect(existsSync(join(other.dir, 'config.json'))).toBe(false)
    } finally {
      unlinkSync(served)
      linkSync(join(dist, `${BINARY}.good`), served)
    }
  })

  test('an interrupted download resumes with a Range request', async () => {
    const other = newHome()
    mkdirSync(other.dir, { recursive: true })
    const served = readFileSync(join(dist, BINARY))
    writeFileSync(join(other.dir, `.${BINARY}.part`), served.subarray(0, 1_000_000))
    const run = await install(other.home, await registrationToken(), [
      '--no-service',
      '--install-cli',
      'none',
    ])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('resuming an interrupted download (1000000 bytes already here)')
    expect(sha256(join(other.dir, 'open-ace-agent'))).toBe(expectedSha())
    expect(server.logs.some((l) => l.includes(`files/${BINARY}`) && l.includes('"status":206'))).toBe(true)
  })

  test('a stale partial download is thrown away and fetched again', async () => {
    const other = newHome()
    mkdirSync(other.dir, { recursive: true })
    writeFileSync(join(other.dir, `.${BINARY}.part`), 'bytes of some older build')
    const run = await install(other.home, await registrationToken(), [
      '--no-service',
      '--install-cli',
      'none',
    ])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('the resumed download does not match; downloading it again')
    expect(sha256(join(other.dir, 'open-ace-agent'))).toBe(expectedSha())
  })

  test('an unreachable server is named in a clear message', async () => {
    const other = newHome()
    const script = `${server.url}/api/remote/agent/install.sh`
    const run = await shell(
      `curl -fsSL ${script} | bash -s -- --server http://127.0.0.1:9 --token x --no-service`,
      { HOME: other.home },
    )
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('cannot reach the Open ACE server at http://127.0.0.1:9')
  })
})

describe('install.sh with systemd, then uninstall.sh', () => {
  const box = newHome()
  let machineId = ''
  const fakePath = () => `${box.bin}:${process.env.PATH}`

  beforeAll(() => {
    shellFakes(box.bin)
  })

  test('writes a user unit, starts it and waits until the server reports the machine online', async () => {
    const run = await install(box.home, await registrationToken(), [], fakePath())
    expect(run.code).toBe(0)
    machineId = config(box.dir).machine_id!
    expect(run.stdout).toContain(`the server reports machine ${machineId} online`)
    expect((await machine(machineId)).machine?.status).toBe('online')

    const unit = readFileSync(join(box.home, '.config/systemd/user/open-ace-agent.service'), 'utf8')
    expect(unit).toContain(`ExecStart="${box.dir}/open-ace-agent" run --dir "${box.dir}"`)
    expect(unit).toContain('Restart=always')
    expect(unit).toContain('RestartPreventExitStatus=78')
    expect(unit).toContain('WantedBy=default.target')
    expect(unit).toContain(`Environment="PATH=${fakePath()}"`)
    const calls = readFileSync(join(box.bin, 'calls.log'), 'utf8')
    expect(calls).toContain('systemctl --user daemon-reload')
    expect(calls).toContain('systemctl --user enable open-ace-agent')
    expect(calls).toContain('systemctl --user restart open-ace-agent')
    // Default --install-cli: Node is present here, so npm is asked for Qwen Code.
    expect(calls).toContain('npm install -g @qwen-code/qwen-code@latest')
  })

  test('uninstall.sh --yes stops the service, deregisters the machine and removes the files', async () => {
    const run = await shell(`curl -fsSL ${server.url}/api/remote/agent/uninstall.sh | bash -s -- --yes`, {
      HOME: box.home,
      PATH: fakePath(),
    })
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`machine ${machineId} deregistered`)
    expect(readFileSync(join(box.bin, 'calls.log'), 'utf8')).toContain(
      'systemctl --user disable --now open-ace-agent',
    )
    expect(existsSync(join(box.home, '.config/systemd/user/open-ace-agent.service'))).toBe(false)
    expect(existsSync(box.dir)).toBe(false)
    expect((await machine(machineId)).status).toBe(404)
  })
})
