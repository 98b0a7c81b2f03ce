// A session's command as the executor builds it: projects inside the agent's own state are
// refused, and under run_as (as root) the CLI is another user with a home it owns and no way
// into the agent's files.
import { describe, expect, test } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkProjectPath, sessionCommand, sessionFilesDir } from './session-sandbox.ts'

describe('session command', () => {
  test("a project that is the agent's directory or inside its state is refused", () => {
    expect(() => checkProjectPath('/a/agent', '/a/agent')).toThrow("is the agent's own directory")
    expect(() => checkProjectPath('/a/agent/sessions/x', '/a/agent')).toThrow("agent's own directory")
    expect(() => checkProjectPath('/a/agent/homes/u-1', '/a/agent')).toThrow("agent's own directory")
    expect(() => checkProjectPath('/a/agent/work', '/a/agent')).not.toThrow()
    expect(() => checkProjectPath('/a', '/a/agent')).not.toThrow()
  })

  test.if(process.getuid?.() === 0 && Bun.which('setpriv') !== null)(
    'run_as: the CLI is the unprivileged user, owns its home and session dir, cannot read the agent',
    () => {
      const root = mkdtempSync(join(tmpdir(), 'oa-runas-'))
      chmodSync(root, 0o755)
      const agentDir = join(root, 'agent')
      mkdirSync(agentDir, { mode: 0o700 })
      writeFileSync(join(agentDir, 'config.json'), '{"agent_token":"secret"}', { mode: 0o600 })
      const runAs = { name: 'nobody', uid: 65534, gid: 65534, homesDir: join(root, 'cli-homes') }
      const isolation = { level: 'separate-user' as const, mechanism: 'run_as', runAs }
      const sessionDir = sessionFilesDir(isolation, agentDir, 's1')
      const cmd = sessionCommand({
        isolation,
        agentDir,
        machineEnv: { PATH: '/usr/bin:/bin', HOME: '/root', OPENACE_AGENT_TOKEN: 'secret' },
        argv: [
          'sh',
          '-c',
          `id -u; touch "$HOME/x" && echo home-ok; touch ${sessionDir}/y && echo dir-ok; cat ${agentDir}/config.json || echo denied; echo "[$OPENACE_AGENT_TOKEN]"`,
        ],
        adapterEnv: {},
        projectPath: root,
        sessionDir,
        owner: 'u-7',
        homeTarget: '/root',
        hidden: [],
      })
      const r = Bun.spawnSync(cmd.argv, { env: cmd.env, cwd: cmd.cwd })
      expect(r.stdout.toString().split('\n')).toEqual(['65534', 'home-ok', 'dir-ok', 'denied', '[]', ''])
      expect(statSync(join(runAs.homesDir, 'u-7')).uid).toBe(65534)
      expect(statSync(root).uid).toBe(0)
    },
  )
})
