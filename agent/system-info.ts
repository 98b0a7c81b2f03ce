// Facts about this machine sent at registration, in hello and with heartbeats: host, OS, CPU
// (and how busy it was since the last report), memory, free and total disk of the work dir, agent version and the installed CLI tools with versions
// and paths; and the capabilities built from them.
// CLI versions cost a subprocess each, so they are refreshed on a timer, not per heartbeat.
import { readFileSync, renameSync, statfsSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import type { DetectedCli, Isolation, MachineCapabilities, SystemInfo } from '../protocol/index.ts'
import { KNOWN_ADAPTERS } from './adapters/index.ts'
import { AGENT_VERSION } from './version.ts'

/**
 * How long a `<cli> --version` may take before it is reported without a version. Node CLIs take
 * seconds on a loaded machine (gemini about 2 s on a quiet one; over 5 s was seen under load).
 */
const VERSION_PROBE_TIMEOUT_MS = 20_000
/** The last probe's answer in the agent's directory, so a restarted agent says hello at once. */
export const CLI_TOOLS_CACHE_FILE = 'cli-tools.json'
/** How often installed CLI tools are looked up again. */
export const CLI_REFRESH_INTERVAL_MS = 10 * 60 * 1000
const GB = 1024 ** 3

function osVersion(): string {
  if (process.platform === 'linux') {
    try {
      const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))
      if (pretty?.[1]) return pretty[1]
    } catch {
      // No os-release (minimal containers): fall back to the kernel version below.
    }
  }
  return `${os.version()} ${os.release()}`.trim()
}

const tenths = (value: number) => Math.round(value * 10) / 10

/** Free and total space (GB) of the file system holding `dir`. */
function diskGb(dir: string): { free: number; total: number } | undefined {
  try {
    const st = statfsSync(dir)
    return { free: tenths((st.bavail * st.bsize) / GB), total: tenths((st.blocks * st.bsize) / GB) }
  } catch {
    return undefined
  }
}

interface CpuTimes {
  busy: number
  total: number
}
function cpuTimes(): CpuTimes {
  let busy = 0
  let total = 0
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq
    busy += all - times.idle
    total += all
  }
  return { busy, total }
}
let lastCpu: CpuTimes | undefined

/** How busy the CPUs were (%) since the previous call; undefined on the first. */
function cpuPercentSinceLast(): number | undefined {
  const now = cpuTimes()
  const before = lastCpu
  lastCpu = now
  if (!before || now.total <= before.total) return undefined
  return tenths(((now.busy - before.busy) / (now.total - before.total)) * 100)
}

/** Adds the version `<cli> --version` prints (none when it fails or takes too long). */
async function withVersion(cli: DetectedCli): Promise<DetectedCli> {
  try {
    const proc = Bun.spawn([cli.path, '--version'], { stdin: 'ignore', stdout: 'pipe', stderr: 'ignore' })
    const timer = setTimeout(() => proc.kill('SIGKILL'), VERSION_PROBE_TIMEOUT_MS)
    const out = await new Response(proc.stdout).text()
    clearTimeout(timer)
    const version = /\d+\.\d+[\w.+-]*/.exec(out)?.[0]
    return version ? { ...cli, version } : cli
  } catch {
    return cli
  }
}

/** How long the first hello waits for CLI versions; slower ones follow in a report of their own. */
export const HELLO_CLI_WAIT_MS = 1000

/** The known CLI tools whose executables are on PATH, without versions (no process started). */
export function findCliTools(): DetectedCli[] {
  return KNOWN_ADAPTERS.flatMap((a) => {
    const path = Bun.which(a.executable)
    return path ? [{ name: a.name, path }] : []
  })
}

/** The known CLI tools whose executables are on PATH: name (the adapter's), version, path. */
export function probeCliTools(): Promise<DetectedCli[]> {
  return Promise.all(findCliTools().map(withVersion))
}

/** The tools the last run found, or undefined when there is no readable record of them. */
export function readCachedCliTools(agentDir: string): DetectedCli[] | undefined {
  try {
    const tools = JSON.parse(readFileSync(join(agentDir, CLI_TOOLS_CACHE_FILE), 'utf8'))
    if (!Array.isArray(tools)) return undefined
    return tools.filter((c): c is DetectedCli => typeof c?.name === 'string' && typeof c?.path === 'string')
  } catch {
    return undefined
  }
}

export function writeCachedCliTools(agentDir: string, tools: DetectedCli[]): void {
  const path = join(agentDir, CLI_TOOLS_CACHE_FILE)
  try {
    writeFileSync(`${path}.tmp`, `${JSON.stringify(tools, null, 2)}\n`, { mode: 0o600 })
    renameSync(`${path}.tmp`, path)
  } catch {
    // Only a faster next start is lost.
  }
}

/** What the machine can do, as reported at registration and in every hello. */
export function machineCapabilities(
  info: SystemInfo,
  options: { maxSessions: number; isolation: Isolation; terminal?: boolean; fsRoots?: readonly string[] },
): MachineCapabilities {
  return {
    ...(typeof info.cpu_cores === 'number' ? { cpu_cores: info.cpu_cores } : {}),
    ...(typeof info.memory_gb === 'number' ? { memory_gb: info.memory_gb } : {}),
    ...(typeof info.arch === 'string' ? { arch: info.arch } : {}),
    cli_tools: (info.cli_tools as DetectedCli[] | undefined) ?? [],
    max_sessions: options.maxSessions,
    pause: process.platform !== 'win32',
    session_continue: true,
    isolation: options.isolation,
    ...(options.terminal !== undefined ? { terminal: options.terminal } : {}),
    ...(options.fsRoots ? { fs_roots: [...options.fsRoots] } : {}),
  }
}

/** The current facts; `cliTools` comes from the last probe. */
export function collectSystemInfo(workDir: string, cliTools: DetectedCli[]): SystemInfo {
  const disk = diskGb(workDir)
  const cpuPercent = cpuPercentSinceLast()
  return {
    // Overridable for several agents on one host: the server tells machines apart by hostname.
    hostname: process.env.OPENACE_HOSTNAME || os.hostname(),
    os_type: process.platform,
    os_version: osVersion(),
    arch: process.arch,
    cpu_cores: os.cpus().length,
    memory_gb: tenths(os.totalmem() / GB),
    memory_free_gb: tenths(os.freemem() / GB),
    ...(cpuPercent !== undefined ? { cpu_percent: cpuPercent } : {}),
    ...(disk !== undefined ? { disk_free_gb: disk.free, disk_total_gb: disk.total } : {}),
    work_dir: workDir,
    agent_version: AGENT_VERSION,
    cli_tools: cliTools,
  }
}
