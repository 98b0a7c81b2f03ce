// Whether this process can replace itself, and as which build target: only a compiled binary
// (a source run reports 'dev' and its execPath is bun) on an OS where a running binary may be
// renamed over and re-executed in place (Linux, macOS; not Windows).
import { AGENT_VERSION } from '../version.ts'

const OSES = new Set(['linux', 'darwin'])
const ARCHES = new Set(['x64', 'arm64'])

/** The target name the server's binaries use (`linux-x64`), or undefined when not updatable. */
export function selfUpdateTarget(
  version = AGENT_VERSION,
  platform: string = process.platform,
  arch: string = process.arch,
): string | undefined {
  if (version === 'dev' || !OSES.has(platform) || !ARCHES.has(arch)) return undefined
  return `${platform}-${arch}`
}
