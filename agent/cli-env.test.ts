import { describe, expect, test } from 'bun:test'
import { buildCliEnv } from './cli-env.ts'

describe('CLI environment', () => {
  const machine = {
    PATH: '/usr/bin',
    HOME: '/home/u',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    HTTPS_PROXY: 'http://proxy:3128',
    OPENAI_API_KEY: 'sk-real',
    OPENAI_BASE_URL: 'https://api.openai.com/v1',
    ANTHROPIC_API_KEY: 'sk-ant',
    GEMINI_API_KEY: 'g',
    GOOGLE_APPLICATION_CREDENTIALS: '/k.json',
    AWS_ACCESS_KEY_ID: 'AKIA',
    AWS_SECRET_ACCESS_KEY: 's',
    KUBECONFIG: '/home/u/.kube/config',
    GITHUB_TOKEN: 'ghp',
    SSH_AUTH_SOCK: '/tmp/ssh-agent.sock',
    DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/0/bus',
    XDG_RUNTIME_DIR: '/run/user/0',
    LD_PRELOAD: '/evil.so',
    SOME_UNKNOWN_SETTING: 'x',
    OPENACE_AGENT_TOKEN: 'agent-token',
    OPENACE_AGENT_DIR: '/home/u/.open-ace-agent',
    NODE_TLS_REJECT_UNAUTHORIZED: '0',
  }

  test('passes only allowlisted machine variables, sets the session home, adds the adapter variables', () => {
    const env = buildCliEnv(
      machine,
      { OPENAI_API_KEY: 'proxy-token', OPENAI_BASE_URL: 'http://server/api/remote/llm-proxy/v1' },
      { home: '/home/u' },
    )
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      HTTPS_PROXY: 'http://proxy:3128',
      DO_NOT_TRACK: '1',
      OPENAI_API_KEY: 'proxy-token',
      OPENAI_BASE_URL: 'http://server/api/remote/llm-proxy/v1',
    })
  })

  test('without a session home the machine HOME is not inherited either', () => {
    expect(buildCliEnv(machine, {}).HOME).toBeUndefined()
  })

  test('session variables cannot switch TLS verification off or set agent variables', () => {
    const env = buildCliEnv(
      { PATH: '/bin' },
      {},
      { sessionEnv: { NODE_TLS_REJECT_UNAUTHORIZED: '0', OPENACE_SERVER_URL: 'http://evil', FOO: 'bar' } },
    )
    expect(env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined()
    expect(env.OPENACE_SERVER_URL).toBeUndefined()
    expect(env.FOO).toBe('bar')
  })
})
