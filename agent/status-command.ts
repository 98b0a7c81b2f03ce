// `open-ace-agent status`: configuration (tokens shown only as set/unset), whether an agent
// is running in this directory, its connection and sessions, from state.json.
import { resolveAgentDir } from './agent-dir.ts'
import { loadAgentConfig } from './config.ts'
import { EXIT_OK } from './exit-codes.ts'
import { isProcessAlive, readStateFile } from './state-file.ts'

export function statusCommand(opts: { dir?: string; json?: boolean }): number {
  const dir = resolveAgentDir(opts.dir, false)
  const config = loadAgentConfig(dir, process.env)
  const state = readStateFile(dir)
  const running = state !== undefined && isProcessAlive(state.pid)
  const report = {
    dir,
    server_url: config.server_url || null,
    machine_id: config.machine_id || null,
    machine_name: config.machine_name || null,
    registered: config.agent_token !== '',
    transport: config.transport,
    max_sessions: config.max_sessions,
    log_level: config.log_level,
    running,
    ...(running && state
      ? {
          pid: state.pid,
          version: state.version,
          connection: state.connection,
          connected_via: state.transport ?? null,
          since: state.since,
          detail: state.detail ?? null,
          pending_frames: state.pending_frames,
          sessions: state.sessions,
        }
      : {}),
  }
  if (opts.json) {
    console.log(JSON.stringify(report, null, 2))
    return EXIT_OK
  }
  const lines = [
    `Agent directory: ${dir}`,
    `Server:          ${report.server_url ?? '(not set)'}`,
    `Machine:         ${report.machine_id ?? '(not registered)'}${report.machine_name ? ` (${report.machine_name})` : ''}`,
    `Agent token:     ${report.registered ? 'set' : 'not set'}`,
    `Transport:       ${report.transport}, max sessions ${report.max_sessions}, log level ${report.log_level}`,
    running && state
      ? `Running:         pid ${state.pid}, version ${state.version}, ${state.connection}${state.transport ? ` via ${state.transport}` : ''} since ${state.since}${state.detail ? ` (${state.detail})` : ''}`
      : 'Running:         no',
  ]
  if (running && state) {
    lines.push(`Unsent output:   ${state.pending_frames} frame(s)`)
    lines.push(`Sessions:        ${state.sessions.length === 0 ? 'none' : ''}`)
    for (const s of state.sessions) lines.push(`  ${s.session_id}  ${s.state}  last seq ${s.last_seq}`)
  }
  console.log(lines.join('\n'))
  return EXIT_OK
}
