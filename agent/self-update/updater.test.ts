// The agent's update steps before the restart, with files served by the real server and real
// executables: the refusals (checksum, a file reporting another version, one that does not
// run) replace nothing; live sessions hold the swap back until they end or the update is
// forced; the swap keeps the previous binary and leaves update.json for the restart.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AgentUpdateStatus } from '../../protocol/index.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { systemClock } from '../connection/link.ts'
import { createAgentLogger } from '../log.ts'
import { readUpdateRecord } from './record.ts'
import { SelfUpdater, type UpdatePlan } from './updater.ts'

const NAME = 'open-ace-agent-linux-x64'
const dist = mkdtempSync(join(tmpdir(), 'oa-upd-dist-'))
const work = mkdtempSync(join(tmpdir(), 'oa-upd-'))
let server: TestServer

const script = (body: string) => `#!/bin/sh\n${body}\n`
const sha = (text: string) => createHash('sha256').update(text).digest('hex')

beforeAll(async () => {
  server = await startTestServer({ listen: true, env: { AGENT_DIST_DIR: dist } })
}, 60_000)
afterAll(async () => {
  await server.stop()
  rmSync(dist, { recursive: true, force: true })
  rmSync(work, { recursive: true, force: true })
}, 60_000)

function setup(served: string, options: { live?: () => number } = {}) {
  writeFileSync(join(dist, NAME), served)
  const dir = mkdtempSync(join(work, 'agent-'))
  const binary = join(dir, 'open-ace-agent')
  writeFileSync(binary, script('echo 1.0.0'))
  chmodSync(binary, 0o755)
  const reports: AgentUpdateStatus[] = []
  const plans: UpdatePlan[] = []
  const updater = new SelfUpdater({
    binary,
    target: 'linux-x64',
    dir,
    serverUrl: server.url,
    log: createAgentLogger({ level: 'error', stderr: () => {} }),
    clock: systemClock,
    report: (s) => reports.push(s),
    liveSessions: options.live ?? (() => 0),
    restart: (plan) => plans.push(plan),
  })
  const command = (version: string, sha256: string, force?: boolean) => ({
    id: crypto.randomUUID(),
    type: 'agent.update' as const,
    version,
    url: `/api/remote/agent/files/${NAME}`,
    sha256,
    ...(force ? { force } : {}),
  })
  return { dir, binary, reports, plans, updater, command }
}

const states = (reports: AgentUpdateStatus[]) => reports.map((r) => r.state)

describe('SelfUpdater', () => {
  test('a good file is swapped in, the previous binary kept, update.json written, restart asked', async () => {
    const served = script('echo 2.0.0')
    const { dir, binary, reports, plans, updater, command } = setup(served)
    await updater.handle(command('2.0.0', sha(served)))
    expect(states(reports)).toEqual(['downloading', 'installing', 'restarting'])
    expect(readFileSync(binary, 'utf8')).toBe(served)
    expect(readFileSync(`${binary}.previous`, 'utf8')).toBe(script('echo 1.0.0'))
    expect(plans).toHaveLength(1)
    expect(readUpdateRecord(dir)).toMatchObject({ version: '2.0.0', state: 'trial', nonce: plans[0]!.nonce })
    expect(updater.status()?.state).toBe('restarting')
  })

  test('refusals replace nothing and say why: checksum, another version, not runnable', async () => {
    for (const [served, expected, why] of [
      [
        script('echo 2.0.0'),
        'f'.repeat(64),
        /checksum mismatch: .* has SHA-256 [0-9a-f]{64}, the server announced f{64}/,
      ],
      [script('echo 9.9.9'), undefined, /reports version '9\.9\.9', not '2\.0\.0'/],
      [script('echo broken >&2; exit 4'), undefined, /does not run here \(it exited with code 4: broken\)/],
    ] as const) {
      const { binary, reports, plans, updater, command } = setup(served)
      await updater.handle(command('2.0.0', expected ?? sha(served)))
      expect(states(reports)).toEqual(['downloading', 'failed'])
      expect(reports[1]!.reason).toMatch(why)
      expect(reports[1]!.reason).toContain('nothing was replaced')
      expect(readFileSync(binary, 'utf8')).toBe(script('echo 1.0.0'))
      expect(existsSync(`${binary}.previous`)).toBe(false)
      expect(existsSync(`${binary}.download`)).toBe(false)
      expect(plans).toEqual([])
    }
  })

  test('live sessions hold the swap back until they end', async () => {
    const served = script('echo 2.0.0')
    let live = 1
    const { binary, reports, plans, updater, command } = setup(served, { live: () => live })
    const running = updater.handle(command('2.0.0', sha(served)))
    await waitUntil(() => states(reports).includes('waiting'), {
      what: 'the waiting report',
      timeoutMs: 30_000,
    })
    expect(readFileSync(binary, 'utf8')).toBe(script('echo 1.0.0'))
    live = 0
    await running
    expect(states(reports)).toEqual(['downloading', 'waiting', 'installing', 'restarting'])
    expect(plans).toHaveLength(1)
  })

  test('a forced command for the update that waits makes it go on with sessions live', async () => {
    const served = script('echo 2.0.0')
    const { reports, plans, updater, command } = setup(served, { live: () => 1 })
    const running = updater.handle(command('2.0.0', sha(served)))
    await waitUntil(() => states(reports).includes('waiting'), {
      what: 'the waiting report',
      timeoutMs: 30_000,
    })
    await updater.handle(command('2.0.0', sha(served), true))
    await running
    expect(states(reports)).toEqual(['downloading', 'waiting', 'installing', 'restarting'])
    expect(plans).toHaveLength(1)
  })
})
