// Builds an agent for tests: fake transport, spawn and clock, a temp agent directory, real fs.

import { mkdirSync, mkdtempSync } from 'node:fs'
import * as fs from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAgent } from '../agent.ts'
import { type AgentConfig, loadAgentConfig } from '../config.ts'
import { createAgentLogger } from '../log.ts'
import { createFakeClock } from './fake-clock.ts'
import { createFakeSpawn } from './fake-spawn.ts'
import { FakeTransport } from './fake-transport.ts'

export function createTestAgent(
  overrides: Partial<AgentConfig> = {},
  opts: { spool?: boolean; dir?: string } = {},
) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'oa-agent-'))
  // Sessions' projects: the agent's own directory is refused as one.
  const work = join(dir, 'work')
  mkdirSync(work, { recursive: true })
  const config: AgentConfig = {
    ...loadAgentConfig(dir, {}),
    server_url: 'http://server.test',
    agent_token: 'agent-token-for-tests',
    machine_id: 'machine-1',
    reconnect_base_delay: 0.1,
    reconnect_max_delay: 2,
    work_dir: dir,
    fs_roots: [dir],
    ...overrides,
  }
  const lines: string[] = []
  const log = createAgentLogger({ level: 'debug', stderr: (l) => lines.push(l) })
  const clock = createFakeClock()
  const transport = new FakeTransport(clock.now)
  const spawn = createFakeSpawn()
  const agent = createAgent({
    config,
    transport,
    spawn,
    fs,
    clock,
    log,
    systemInfo: () => ({ hostname: 'test-host' }),
    machineEnv: {
      PATH: '/usr/bin',
      HOME: dir,
      OPENAI_API_KEY: 'sk-real-key-must-not-leak',
      GITHUB_TOKEN: 'ghp_x',
    },
    spool: opts.spool ?? false,
  })
  const controller = new AbortController()
  return {
    agent,
    config,
    dir,
    work,
    transport,
    spawn,
    clock,
    log,
    lines,
    controller,
    run: () => agent.run(controller.signal),
  }
}
