// The environment a CLI subprocess gets, built from an allowlist: the few machine variables a
// program needs to run (PATH, locale, terminal, time zone, network proxy and CA settings), the
// session's home, and the adapter's variables. Nothing else is inherited, so no OPENACE_* value,
// cloud or git credential, or anything else the agent was started with reaches a CLI. Keys stay
// on the server; the CLI only ever sees its own proxy token.

/** Machine variables passed on by name. */
const PASSED = new Set([
  'PATH',
  'LANG',
  'LANGUAGE',
  'TERM',
  'COLORTERM',
  'TZ',
  'SHELL',
  'USER',
  'LOGNAME',
  'EDITOR',
  'VISUAL',
  'PAGER',
  'NO_COLOR',
  'FORCE_COLOR',
  // Network egress and trust settings: without them a CLI behind a corporate proxy cannot reach ours.
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  // Windows cannot start node (or much else) without these.
  'SYSTEMROOT',
  'SYSTEMDRIVE',
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'PROGRAMFILES',
  'PROGRAMFILES(X86)',
  'PROGRAMDATA',
  'NUMBER_OF_PROCESSORS',
  'PROCESSOR_ARCHITECTURE',
])
/** Machine variables passed on by prefix (locale categories). */
const PASSED_PREFIXES = ['LC_']
/** Never set by a session either: the agent's own settings and switches that turn off TLS checks. */
const REFUSED =
  /^(OPENACE_|NODE_TLS_REJECT_UNAUTHORIZED$|QWEN_TLS_INSECURE$|PYTHONHTTPSVERIFY$|GIT_SSL_NO_VERIFY$)/i
/** Switches that stop every CLI we run from phoning home. */
export const NO_TRACKING_ENV = { DO_NOT_TRACK: '1' } as const

export function isPassedOn(name: string): boolean {
  const upper = name.toUpperCase()
  return PASSED.has(upper) || PASSED_PREFIXES.some((p) => upper.startsWith(p))
}

/**
 * allowlisted machine env + the session's home (HOME, and USERPROFILE on Windows) + extra env
 * from the session (minus the refused names) + the adapter's variables, which win. Returns a
 * fresh object; the inputs are not changed.
 */
export function buildCliEnv(
  machineEnv: Record<string, string | undefined>,
  adapterEnv: Record<string, string>,
  options: { home?: string; sessionEnv?: Record<string, string> } = {},
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(machineEnv)) if (v !== undefined && isPassedOn(k)) out[k] = v
  if (options.home) {
    out.HOME = options.home
    if (process.platform === 'win32') out.USERPROFILE = options.home
  }
  for (const [k, v] of Object.entries(options.sessionEnv ?? {})) if (!REFUSED.test(k)) out[k] = v
  return { ...out, ...NO_TRACKING_ENV, ...adapterEnv }
}
