// Helpers for the install.sh end-to-end tests: a shell with a clean environment and
// the fake system tools (systemctl, id, loginctl, npm) a throwaway HOME gets on its PATH.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** How long an install step may take to show its effect (the agent coming online, a restart). */
export const INSTALL_WAIT_MS = 20_000

/** bash -c with a minimal environment, so no OPENACE_* setting of the test run leaks in. */
export async function shell(cmd: string, env: Record<string, string>) {
  const proc = Bun.spawn(['bash', '-c', cmd], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  return { code: await proc.exited, stdout, stderr }
}

/** Stops the agent this test started in `home` (directly, or through the fake systemctl). */
export function stopAgent(home: string) {
  const pidFile = join(home, 'agent.pid')
  if (!existsSync(pidFile)) return
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM')
  } catch {
    // Already gone.
  }
}

/** Logs every call; `restart` runs the unit's real ExecStart in the background, `disable --now` stops it. */
const FAKE_SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >>"$(dirname "$0")/calls.log"
case "$*" in
  *restart*)
    [ -f "$HOME/agent.pid" ] && kill "$(cat "$HOME/agent.pid")" 2>/dev/null
    eval "set -- $(sed -n 's/^ExecStart=//p' "$HOME/.config/systemd/user/open-ace-agent.service")"
    nohup "$@" </dev/null >/dev/null 2>&1 &
    echo $! >"$HOME/agent.pid" ;;
  *disable*--now*)
    [ -f "$HOME/agent.pid" ] && kill "$(cat "$HOME/agent.pid")" 2>/dev/null
    rm -f "$HOME/agent.pid" ;;
esac
exit 0
`
/** Tests run as root; a non-root id makes the script choose a user unit inside the throwaway HOME. */
const FAKE_ID = `#!/bin/sh
case "$1" in -u) echo 1000 ;; -un) echo tester ;; *) exec /usr/bin/id "$@" ;; esac
`
const fakeLogger = (name: string) => `#!/bin/sh
echo "${name} $*" >>"$(dirname "$0")/calls.log"
`

export function shellFakes(bin: string) {
  mkdirSync(bin, { recursive: true })
  const fakes = {
    systemctl: FAKE_SYSTEMCTL,
    id: FAKE_ID,
    loginctl: fakeLogger('loginctl'),
    npm: fakeLogger('npm'),
  }
  for (const [name, body] of Object.entries(fakes)) writeFileSync(join(bin, name), body, { mode: 0o755 })
}
