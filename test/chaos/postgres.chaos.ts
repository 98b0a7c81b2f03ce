// Full fault suite, database (run by `bun run test:chaos`): the real Postgres server stopped
// and started again under a live session. Only meaningful with DATABASE_URL (the embedded
// database lives inside the server process); without it the test is declared not to run.
// Postgres is always started again at the end, even when the test fails.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { keepRunning } from '../../scripts/reaper.ts'
import { machineOnline } from '../support/agent-binary.ts'
import { TEST_DATABASE_URL } from '../support/database.ts'
import { waitUntil } from '../support/wait-until.ts'
import {
  assertSequence,
  chat,
  newSession,
  output,
  type Rig,
  startRig,
  ticksOf,
  untilLine,
} from './support.ts'

/** How long Postgres stays down; long enough to see /api/ready answer 503. */
const DOWN_MS = 3000
const PG_STARTED_WITHIN_MS = 30_000

function pgCluster(action: 'stop' | 'start') {
  const version = readdirSync('/etc/postgresql')[0]!
  const run = Bun.spawnSync(['pg_ctlcluster', '--skip-systemctl-redirect', version, 'main', action])
  if (run.exitCode !== 0 && action === 'stop') throw new Error(`pg_ctlcluster ${action}: ${run.stderr}`)
}

async function ensurePostgresUp() {
  pgCluster('start')
  await waitUntil(() => Bun.spawnSync(['pg_isready', '-q', '-h', '127.0.0.1', '-p', '5432']).exitCode === 0, {
    what: 'Postgres back up',
    timeoutMs: PG_STARTED_WITHIN_MS,
  })
  // The machine's Postgres server, started again from inside the suite: it stays after it.
  const version = readdirSync('/etc/postgresql')[0]!
  const pidFile = `/run/postgresql/${version}-main.pid`
  if (existsSync(pidFile)) keepRunning(Number(readFileSync(pidFile, 'utf8').trim()))
}

const ready = async (rig: Rig) => (await fetch(`${rig.server.url}/api/ready`)).status

let rig: Rig | undefined
if (TEST_DATABASE_URL === undefined)
  throw new Error('postgres.chaos.ts needs DATABASE_URL (test/chaos/run.ts runs it only then)')
beforeAll(async () => {
  rig = await startRig()
}, 180_000)
afterAll(async () => {
  await ensurePostgresUp()
  await rig?.close()
})

test('Postgres stopped and started under a live session: /api/ready 503 then 200, output complete', async () => {
  const r = rig!
  const id = await newSession(r)
  await chat(r, id, 'count 1200')
  await untilLine(r, id, 'tick 20')
  expect(await ready(r)).toBe(200)
  try {
    pgCluster('stop')
    await waitUntil(async () => ((await ready(r)) === 503 ? true : undefined), {
      what: 'ready answers 503',
      timeoutMs: 10_000,
    })
    const down = await fetch(`${r.server.url}/api/ready`)
    expect(down.status).toBe(503)
    expect((await down.json()).error.type).toBe('unavailable')
    // The process itself stays alive and says so.
    expect((await fetch(`${r.server.url}/api/health`)).status).toBe(200)
    await Bun.sleep(DOWN_MS)
  } finally {
    await ensurePostgresUp()
  }
  // The server reconnects by itself: no restart of it or of the agent.
  await waitUntil(async () => ((await ready(r)) === 200 ? true : undefined), {
    what: 'ready again',
    timeoutMs: 20_000,
  })
  await waitUntil(machineOnline(r.server.url, r.admin, r.agent.machineId), {
    what: 'agent online',
    timeoutMs: 20_000,
  })
  await untilLine(r, id, 'done 1200', 60_000)
  await chat(r, id, 'after-the-database-came-back')
  await untilLine(r, id, 'echo: after-the-database-came-back')
  await Bun.sleep(1000)
  assertSequence(await output(r, id), ticksOf(1200), [1200], ['after-the-database-came-back'])
}, 120_000)
