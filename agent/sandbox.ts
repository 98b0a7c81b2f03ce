// How a command is started inside this machine's isolation: one function, sandboxCommand, used
// for every session's CLI (and anything else that must run with the same confinement, such as a
// terminal). It returns the argv, env and cwd to spawn. bubblewrap: the file system read-only,
// the homes, temp dirs, the agent's directory, the fs roots and other sessions' projects hidden
// (empty tmpfs), then the session's home, project and writable dirs bound back read-write; its
// own PID and IPC namespaces, no capabilities, network shared. sandbox-exec: a profile denying the
// hidden paths. run_as: the command runs as the unprivileged user through setpriv.
import { existsSync, realpathSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, sep } from 'node:path'
import type { IsolationSetup } from './isolation.ts'

export interface SandboxRequest {
  /** The executable (a name looked up in env.PATH, or a path) and its arguments. */
  argv: string[]
  /** The working directory, read-write inside: the session's project. */
  cwd: string
  /** The environment, already built from the allowlist (cli-env.ts); HOME is `home.target`. */
  env: Record<string, string>
  /** The per-user (or per-session) home on the host, seen at `target` by the command. */
  home: { source: string; target: string }
  /** More host directories the command may write at the same path (the adapter's session dir). */
  writable?: string[]
  /** Directories the command must not see (the agent's dir, fs roots, other sessions' projects). */
  hidden: string[]
}

export interface SandboxedCommand {
  argv: string[]
  env: Record<string, string>
  cwd: string
  /** argv[0] is a monitor (bwrap) that must not get SIGINT/SIGTERM itself (see spawn.ts). */
  monitor?: boolean
}

/** Always hidden under bubblewrap: every user's home and the shared temp and runtime dirs. */
const HIDDEN_ALWAYS = ['/home', '/root', '/tmp', '/var/tmp', '/run']

type Mount = { kind: 'tmpfs'; path: string } | { kind: 'bind' | 'ro-bind'; source: string; path: string }

const real = (path: string) => (existsSync(path) ? realpathSync(path) : path)
const depth = (path: string) => path.split(sep).filter(Boolean).length

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
}

/**
 * Where a script installed by a package manager finds its code: the outermost node_modules
 * above it (bun's and pnpm's layouts reach siblings through symlinks inside it), else the
 * nearest directory with a package.json.
 */
function packageTree(path: string, byPackageJson: boolean): string | undefined {
  const parts = path.split(sep)
  const at = parts.indexOf('node_modules')
  if (at > 0) return parts.slice(0, at + 1).join(sep)
  if (!byPackageJson) return undefined
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir
  }
  return undefined
}

/**
 * Tools that would vanish under a hidden directory (CLIs installed under a home, e.g.
 * ~/.npm-global/bin or ~/.nvm/.../bin, or a project's node_modules/.bin) come back read-only:
 * each such PATH entry, and the package tree of what it or the command resolves to, but not
 * the rest of that home.
 */
function toolDirs(path: string | undefined, executable: string | undefined, hidden: string[]): string[] {
  const isHidden = (p: string) => hidden.some((h) => inside(p, h))
  const out = new Set<string>()
  const add = (p: string, byPackageJson = false) => {
    if (!isHidden(p)) return
    const tree = packageTree(p, byPackageJson)
    out.add(tree && isHidden(tree) ? tree : p)
  }
  for (const entry of (path ?? '').split(':')) {
    if (isAbsolute(entry) && isDir(entry)) add(real(entry))
  }
  if (executable && isAbsolute(executable) && existsSync(executable)) {
    add(dirname(executable))
    const target = real(executable)
    add(dirname(target), true)
  }
  return [...out]
}

/** /etc/resolv.conf often points into /run; its directory stays readable so DNS works. */
function resolverDirs(): string[] {
  try {
    const real = realpathSync('/etc/resolv.conf')
    return real === '/etc/resolv.conf' ? [] : [dirname(real)]
  } catch {
    return []
  }
}

/** The bubblewrap arguments (before `--` and the command) for one request. */
export function bwrapArgs(req: SandboxRequest): string[] {
  const hidden = [
    ...new Set(
      [...HIDDEN_ALWAYS, req.home.target, ...req.hidden]
        .filter(isDir)
        .map(real)
        .filter((p) => p !== '/'),
    ),
  ]
  const homeTarget = real(req.home.target)
  const mounts: Mount[] = [
    ...hidden.map((path): Mount => ({ kind: 'tmpfs', path })),
    ...[...resolverDirs(), ...toolDirs(req.env.PATH, req.argv[0], hidden)].map(
      (path): Mount => ({ kind: 'ro-bind', source: path, path }),
    ),
    { kind: 'bind', source: req.home.source, path: homeTarget },
    ...[req.cwd, ...(req.writable ?? [])].map((path): Mount => ({ kind: 'bind', source: path, path })),
  ]
  // Shallow paths first, so a bind inside a hidden directory lands on its tmpfs (and a hidden
  // directory inside the project covers that part of it); at one path, hide before binding.
  const order = (m: Mount) => depth(m.path) * 2 + (m.kind === 'tmpfs' ? 0 : 1)
  const sorted = mounts.map((m, i) => ({ m, i })).sort((a, b) => order(a.m) - order(b.m) || a.i - b.i)
  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc']
  for (const { m } of sorted) {
    if (m.kind === 'tmpfs') args.push('--tmpfs', m.path)
    else args.push(`--${m.kind}`, m.source, m.path)
  }
  args.push('--unshare-pid', '--unshare-ipc', '--die-with-parent', '--cap-drop', 'ALL', '--chdir', req.cwd)
  return args
}

const sbplString = (path: string) => `"${path.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`

/** The sandbox-exec profile: everything allowed but the hidden paths; the session's own paths win. */
export function sandboxExecProfile(req: SandboxRequest): string {
  const denied = req.hidden.map(real).map(sbplString)
  const allowed = [req.cwd, req.home.source, ...(req.writable ?? [])].map(real).map(sbplString)
  return [
    '(version 1)',
    '(allow default)',
    ...denied.map((p) => `(deny file-read* file-write* (subpath ${p}))`),
    ...allowed.map((p) => `(allow file-read* file-write* (subpath ${p}))`),
  ].join('\n')
}

/** The argv, env and cwd that start `req.argv` inside the machine's isolation. */
export function sandboxCommand(setup: IsolationSetup, req: SandboxRequest): SandboxedCommand {
  const plain = { argv: req.argv, env: req.env, cwd: req.cwd }
  if (setup.level === 'sandbox' && setup.bwrapPath) {
    return { ...plain, argv: [setup.bwrapPath, ...bwrapArgs(req), '--', ...req.argv], monitor: true }
  }
  if (setup.level === 'sandbox' && setup.sandboxExecPath) {
    // sandbox-exec cannot remount: HOME points at the per-user home itself.
    const env = { ...req.env, HOME: req.home.source }
    return { ...plain, env, argv: [setup.sandboxExecPath, '-p', sandboxExecProfile(req), ...req.argv] }
  }
  if (setup.level === 'separate-user' && setup.runAs) {
    const { uid, gid, name } = setup.runAs
    const env = { ...req.env, HOME: req.home.source, USER: name, LOGNAME: name }
    const argv = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--', ...req.argv]
    return { ...plain, env, argv }
  }
  return { ...plain, env: { ...req.env, HOME: req.home.source } }
}
