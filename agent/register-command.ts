// `open-ace-agent register`: checks its options, then registers this machine (see register.ts).
import { hostname } from 'node:os'
import { resolveAgentDir } from './agent-dir.ts'
import { ConfigError, loadAgentConfig } from './config.ts'
import { EXIT_OK } from './exit-codes.ts'
import { detectIsolation, reportedIsolation } from './isolation.ts'
import { registerMachine } from './register.ts'
import { collectSystemInfo, probeCliTools } from './system-info.ts'

export async function registerCommand(opts: {
  dir?: string
  server?: string
  token?: string
  name?: string
}) {
  if (!opts.server || !/^https?:\/\/\S+$/.test(opts.server)) {
    throw new ConfigError('register needs --server URL (http:// or https://)')
  }
  if (!opts.token) throw new ConfigError('register needs --token TOKEN (the registration token)')
  const dir = resolveAgentDir(opts.dir)
  const config = loadAgentConfig(dir, process.env)
  const machineId = config.machine_id || crypto.randomUUID()
  const { machineId: registered } = await registerMachine({
    serverUrl: opts.server,
    registrationToken: opts.token,
    dir,
    machineId,
    machineName: opts.name || config.machine_name || hostname(),
    systemInfo: collectSystemInfo(config.work_dir, await probeCliTools()),
    maxSessions: config.max_sessions,
    currentAgentToken: config.agent_token || undefined,
    isolation: reportedIsolation(detectIsolation({ mode: config.isolation, runAs: config.run_as })),
  })
  console.log(`Registered machine ${registered} with ${opts.server}; settings saved in ${dir}/config.json`)
  return EXIT_OK
}
